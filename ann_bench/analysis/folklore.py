"""The claims commonly made when choosing an index for two-tower retrieval, checked against
this run's results.

Each claim is measured on every workload where the algorithms it names ran, from the same
table the report's recommendations come from (the fastest configuration reaching a Recall@10
target, single-query QPS at 1 thread by default), and gets a verdict with the measured ratio:

- *ScaNN is about 2x the QPS of HNSW at equal recall on inner-product search* (ip workloads):
  ScaNN's best QPS / the best HNSW library's, at each target both reach.
- *HNSW has the best recall/latency trade-off*: the best HNSW library's QPS / the best other
  approximate index's, at each target.
- *IVF-PQ has the lowest memory*: IVF-PQ's smallest index / the smallest other approximate
  index (any configuration), with the best recall each reached.
- *Annoy is medium in recall and speed*: Annoy's rank by QPS among the approximate indexes at
  a target, and the best recall it reached.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..sweep.adapters.reduction import split_name
from .comparable import SPEEDUP
from .tables import best_at_targets, is_exact, view

HNSW = ("faiss-hnsw", "hnswlib", "nmslib-hnsw", "usearch", "voyager")
IVFPQ = ("faiss-ivfpq",)
HOLDS, PARTLY, NOT = "holds", "partly", "does not hold"


def _family(adapter: str) -> str:
    base = split_name(adapter)[0]
    if base in HNSW:
        return "hnsw"
    if base in IVFPQ:
        return "ivfpq"
    return base


def _speed(value: float, qps: str) -> str:
    """A speed as the report reads it: QPS, or a speed-up over exact search (see :mod:`.comparable`)."""
    return f"{value:,.1f}x exact" if qps == SPEEDUP else f"{value:,.0f} QPS"


def _row(claim: str, workload: str, target, measured: str, ratio: float, verdict: str) -> dict:
    return {"claim": claim, "workload": workload, "target": target, "measured": measured, "ratio": ratio, "verdict": verdict}


def _scann_vs_hnsw(best: pd.DataFrame, qps: str) -> list[dict]:
    rows = []
    for (workload, t), g in best[best["workload"].str.endswith(".ip")].groupby(["workload", "target"]):
        scann, hnsw = g[g["family"] == "scann"], g[g["family"] == "hnsw"]
        if scann.empty or hnsw.empty:
            continue
        h = hnsw.loc[hnsw[qps].idxmax()]
        ratio = scann[qps].max() / h[qps]
        verdict = HOLDS if ratio >= 1.6 else PARTLY if ratio > 1.0 else NOT
        rows.append(_row("ScaNN ~2x the QPS of HNSW on inner product", workload, t,
                         f"ScaNN {_speed(scann[qps].max(), qps)} vs {h['algorithm']} {_speed(h[qps], qps)}", ratio, verdict))
    return rows


def _hnsw_best(best: pd.DataFrame, qps: str) -> list[dict]:
    rows = []
    for (workload, t), g in best[~best["exact"]].groupby(["workload", "target"]):
        hnsw, other = g[g["family"] == "hnsw"], g[g["family"] != "hnsw"]
        if hnsw.empty or other.empty:
            continue
        h, o = hnsw.loc[hnsw[qps].idxmax()], other.loc[other[qps].idxmax()]
        ratio = h[qps] / o[qps]
        rows.append(_row("HNSW has the best recall/latency", workload, t,
                         f"{h['algorithm']} {_speed(h[qps], qps)} vs best other ({o['algorithm']}) {_speed(o[qps], qps)}", ratio,
                         HOLDS if ratio >= 1.0 else NOT))
    return rows


def _ivfpq_memory(ok: pd.DataFrame, recall: str) -> list[dict]:
    rows = []
    runs = ok[~ok["adapter"].map(is_exact) & ok["index_mb"].notna()]
    for workload, g in runs.groupby("workload"):
        per = g.groupby(["algorithm", "family", "build_params"], as_index=False).agg(index_mb=("index_mb", "first"), best=(recall, "max"))
        pq, other = per[per["family"] == "ivfpq"], per[per["family"] != "ivfpq"]
        if pq.empty or other.empty:
            continue
        p, o = pq.loc[pq["index_mb"].idxmin()], other.loc[other["index_mb"].idxmin()]
        ratio = p["index_mb"] / max(o["index_mb"], 1e-9)
        rows.append(_row("IVF-PQ has the lowest memory", workload, "any",
                         f"IVF-PQ {p['build_params']} {p['index_mb']:.1f} MB (best {recall} {p['best']:.2f}) vs smallest other "
                         f"{o['algorithm']} {o['build_params']} {o['index_mb']:.1f} MB (best {o['best']:.2f})", ratio,
                         HOLDS if ratio < 1.0 else NOT))
    return rows


def _annoy_medium(best: pd.DataFrame, ok: pd.DataFrame, recall: str, qps: str) -> list[dict]:
    rows = []
    for (workload, t), g in best[~best["exact"]].groupby(["workload", "target"]):
        per_alg = g.groupby("algorithm")[qps].max().sort_values(ascending=False)
        annoy = [a for a in per_alg.index if g.loc[g["algorithm"] == a, "family"].iloc[0] == "annoy"]
        if not annoy or len(per_alg) < 3:
            continue
        rank = list(per_alg.index).index(annoy[0]) + 1
        reached = ok.loc[(ok["workload"] == workload) & (ok["family"] == "annoy"), recall].max()
        middle = len(per_alg) / 4 < rank <= len(per_alg) * 3 / 4
        rows.append(_row("Annoy is medium in recall and speed", workload, t,
                         f"Annoy {rank} of {len(per_alg)} by QPS; best {recall} reached {reached:.3f}",
                         rank / len(per_alg), HOLDS if middle else NOT))
    return rows


def folklore(df: pd.DataFrame, *, recall: str = "recall@10", qps: str = "qps_single") -> pd.DataFrame:
    """One row per (claim, workload, target) the results can speak to (see the module docstring)."""
    columns = ["claim", "workload", "target", "measured", "ratio", "verdict"]
    best = best_at_targets(df, recall=recall, qps=qps)
    ok = view(df, recall)
    if best.empty or ok.empty:
        return pd.DataFrame(columns=columns)
    best = best.assign(family=best["adapter"].map(_family))
    ok = ok.assign(family=ok["adapter"].map(_family))
    rows = (_scann_vs_hnsw(best, qps) + _hnsw_best(best, qps) + _ivfpq_memory(ok, recall)
            + _annoy_medium(best, ok, recall, qps))
    out = pd.DataFrame(rows, columns=columns)
    out["ratio"] = out["ratio"].astype(float).replace([np.inf, -np.inf], np.nan)
    return out
