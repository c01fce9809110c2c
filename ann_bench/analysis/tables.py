"""Comparison tables: the best QPS at each recall target, and a recommendation per target.

QPS is single-query QPS at 1 thread by default: an online recommender serves one user per
request. Every table takes another QPS column (batch, all cores) on request. Recall@K is
read at retrieval depth K (the index asked for K answers: Recall@10 from the top-10
search, Recall@100 from the top-100 search); configurations whose effective parameters
duplicate another's are left out, and a row measured while other processes used the CPU,
or whose timed modes disagreed on recall, says so in ``flags``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..results.table import measured
from ..sweep import registry
from ..sweep.adapters.reduction import split_name
from .comparable import gpu_rows, on_gpu

TARGETS = (0.80, 0.90, 0.95, 0.99)
# an index that is not this much faster than exact search is not worth its recall loss,
# tuning and rebuilds: recommend exact search instead
EXACT_MARGIN = 1.5


def is_exact(adapter: str) -> bool:
    try:
        return bool(registry.get(adapter).exact)
    except Exception:  # an adapter from a plugin no longer installed
        return False


def _exact(df: pd.DataFrame) -> pd.Series:
    return df["adapter"].map(is_exact).astype(bool) if len(df) else pd.Series(False, index=df.index)


def cpu_exact(df: pd.DataFrame) -> pd.Series:
    """Rows of exact search on the CPU: the baseline every CPU index is judged against."""
    return _exact(df) & ~gpu_rows(df)


def gpu_exact(df: pd.DataFrame) -> pd.Series:
    """Rows of exact search on a GPU: the ceiling drawn beside the CPU baseline."""
    return _exact(df) & gpu_rows(df)


def view(df: pd.DataFrame, recall: str) -> pd.DataFrame:
    """The measured rows a recall column is read from: filtered search, or the depth K of recall@K."""
    if recall.startswith("filtered_"):
        return measured(df, search="filtered")
    return measured(df, k=int(recall.split("@")[1]))


def _set(value) -> bool:
    """A flag column's value is set: True, not False and not missing (NaN is truthy in Python)."""
    return isinstance(value, (bool, np.bool_)) and bool(value)


def flags(r) -> str:
    out = []
    if _set(r.get("contended")) or _set(r.get("build_contended")):
        out.append("contended")
    if _set(r.get("modes_disagree")):
        out.append("modes disagree")
    return ", ".join(out)


def best_at_targets(df: pd.DataFrame, *, recall: str = "recall@10", qps: str = "qps_single", targets=TARGETS,
                    carry: tuple[str, ...] = ()) -> pd.DataFrame:
    """Per (workload, algorithm, target): the fastest configuration reaching the target, with
    the ``carry`` columns of its row."""
    ok = view(df, recall)
    ok = ok[ok[recall].notna() & ok[qps].notna()] if recall in ok and qps in ok else ok.iloc[:0]
    latency = "filtered_latency_p99_ms" if recall.startswith("filtered_") else "latency_p99_ms"
    rows = []
    for (workload, algorithm), g in ok.groupby(["workload", "algorithm"], sort=True):
        for t in targets:
            hit = g[g[recall] >= t]
            if hit.empty:
                continue
            r = hit.loc[hit[qps].idxmax()]
            rows.append({"workload": workload, "items": r.get("n_base"), "algorithm": algorithm, "adapter": r["adapter"], "target": t,
                         qps: r[qps], recall: r[recall], "build_params": r["build_params"], "query_params": r["query_params"],
                         "latency_p99_ms": r.get(latency), "build_s": r["build_s"], "index_mb": r["index_mb"],
                         "exact": is_exact(r["adapter"]), "gpu": on_gpu(r), "device": r.get("device") or "cpu",
                         "k": r["k"], "flags": flags(r)} | {c: r.get(c) for c in carry})
    return pd.DataFrame(rows)


def recommend(df: pd.DataFrame, *, recall: str = "recall@10", qps: str = "qps_single", targets=TARGETS) -> pd.DataFrame:
    """Per (workload, target): the fastest approximate CPU index, its speed-up over exact search
    on the CPU, and the verdict (exact search when no index is ``EXACT_MARGIN`` times faster).
    Where exact search on a GPU was measured too: its QPS, and whether it beats every CPU index."""
    best = best_at_targets(df, recall=recall, qps=qps, targets=targets)
    rows = []
    if best.empty:
        return pd.DataFrame(rows)
    any_gpu = bool((best["exact"] & best["gpu"]).any())
    for (workload, t), g in best.groupby(["workload", "target"], sort=True):
        exact = g[g["exact"] & ~g["gpu"]]
        approx = g[~g["exact"] & ~g["gpu"]]
        exact_qps = exact[qps].max() if not exact.empty else np.nan
        if approx.empty:
            continue
        top = approx.loc[approx[qps].idxmax()]
        speedup = top[qps] / exact_qps  # NaN when the sweep had no exact baseline
        use_exact = bool(speedup < EXACT_MARGIN)
        row = {
            "workload": workload, "items": top["items"], "target": t,
            "recommendation": "exact search" if use_exact else top["algorithm"],
            "best_index": top["algorithm"], "params": f"{top['build_params']}; {top['query_params']}",
            qps: top[qps], recall: top[recall], "exact_qps": exact_qps, "speedup_vs_exact": speedup,
            "build_s": top["build_s"], "index_mb": top["index_mb"], "k": top["k"], "flags": top["flags"],
        }
        if any_gpu:
            gpu = g[g["exact"] & g["gpu"]]
            gpu_qps = gpu[qps].max() if not gpu.empty else np.nan
            cpu_best = np.nanmax([top[qps], exact_qps])  # the fastest search on the CPU, exact search included
            row["gpu_exact_qps"] = gpu_qps
            row["gpu_verdict"] = ("" if not np.isfinite(gpu_qps) else
                                  f"exact search on a GPU beats every CPU index ({gpu_qps / cpu_best:.1f}x)"
                                  if gpu_qps > cpu_best else f"a CPU index beats exact search on a GPU ({cpu_best / gpu_qps:.1f}x)")
        rows.append(row)
    return pd.DataFrame(rows)


def native_vs_reduced(df: pd.DataFrame, *, recall: str = "recall@10", qps: str = "qps_single", targets=TARGETS) -> pd.DataFrame:
    """Per (workload, library, target) where a library ran on inner product both natively and
    through the reduction: each one's best QPS at the target and reduced / native."""
    best = best_at_targets(df, recall=recall, qps=qps, targets=targets)
    if best.empty:
        return best
    rows = []
    for r in best.itertuples(index=False):
        native_adapter, via = split_name(r.adapter)
        if not via:
            continue
        native = best[(best["workload"] == r.workload) & (best["target"] == r.target) & (best["adapter"] == native_adapter)]
        if native.empty:
            continue
        n = native.loc[native[qps].idxmax()]
        rows.append({"workload": r.workload, "library": native_adapter, "via": via, "target": r.target,
                     f"native {qps}": n[qps], f"reduced {qps}": getattr(r, qps), "reduced / native": getattr(r, qps) / n[qps],
                     "native params": f"{n['build_params']}; {n['query_params']}", "reduced params": f"{r.build_params}; {r.query_params}"})
    return pd.DataFrame(rows)


def warnings_table(df: pd.DataFrame) -> pd.DataFrame:
    """Measured configurations with a flag: taken while other processes used the CPU, or
    whose timed modes disagreed on recall."""
    rows = []
    for search in ("knn", "filtered"):
        d = measured(df, search=search)
        for _, r in d.iterrows():
            f = flags(r)
            if f:
                rows.append({"workload": r["workload"], "algorithm": r["algorithm"], "build_params": r["build_params"],
                             "search": search, "k": r["k"], "query_params": r["query_params"], "flags": f,
                             "load_other_cores": r.get("load_other_cores"), "mode_recall_spread": r.get("mode_recall_spread")})
    return pd.DataFrame(rows)


def _without_seed(adapter: str, build_params: str) -> str:
    try:
        seed = registry.get(adapter).seed_param
    except Exception:  # an adapter from a plugin no longer installed
        seed = None
    prefixes = ("repeat=",) + ((f"{seed}=",) if seed else ())
    return ",".join(p for p in build_params.split(",") if not p.startswith(prefixes))


def repeat_spread(df: pd.DataFrame, *, recall: str = "recall@10", qps: str = "qps_single") -> pd.DataFrame:
    """Configurations built more than once (``settings.build_repeats``, each with the next
    seed): how far recall, speed and build time moved between the builds."""
    d = view(df, recall)
    if d.empty or "build_repeat" not in d or d["build_repeat"].max() == 0:
        return pd.DataFrame()
    d = d.assign(config=[_without_seed(a, b) for a, b in zip(d["adapter"], d["build_params"])])
    g = d.groupby(["workload", "algorithm", "config", "query_params"])
    out = g.agg(builds=("build_repeat", "nunique"), recall_min=(recall, "min"), recall_max=(recall, "max"),
                qps_min=(qps, "min"), qps_max=(qps, "max"), build_s_min=("build_s", "min"), build_s_max=("build_s", "max"))
    out = out[out["builds"] > 1].reset_index()
    out["recall_range"] = out["recall_max"] - out["recall_min"]
    return out.sort_values("recall_range", ascending=False)


def markdown(df: pd.DataFrame, floatfmt: str = ".3g") -> str:
    """A GitHub Markdown table (no extra dependency)."""
    def cell(v):
        if isinstance(v, (float, np.floating)):
            return "" if np.isnan(v) else format(v, floatfmt)
        return str(v).replace("|", "\\|")

    cols = list(df.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines)
