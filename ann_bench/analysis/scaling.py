"""How each index's cost grows with the catalog: the same workload family at several sizes.

A *family* is one model, kind and metric at several catalog sizes (``…u2i.ip``,
``…u2i.ip.synthetic100k``, ``…u2i.ip.synthetic1M``). For every family, algorithm and Recall@10
target, the fastest configuration reaching the target at each size gives single-query QPS, p99
latency, build time and index bytes per vector; across sizes each gets a power law ``~ N^b``
fitted in log-log space. Exact search at the same sizes is the reference, and the table says
from which size on an index is at least :data:`SPEEDUP` times faster than it.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .. import powerlaw
from ..workloads.names import family, human
from .plots import save_figure, styles
from .tables import best_at_targets

TARGETS = (0.90, 0.95, 0.99)
SPEEDUP = 10.0  # "beats exact search" means at least this many times its QPS
QUANTITIES = {  # column -> axis label
    "qps": "single-query QPS, 1 thread",
    "latency_p99_ms": "p99 latency, ms",
    "build_s": "build time, s",
    "bytes_per_vector": "index bytes per vector (RSS growth)",
}


def by_size(df: pd.DataFrame, *, recall: str = "recall@10", qps: str = "qps_single", targets=TARGETS) -> pd.DataFrame:
    """Per (workload, algorithm, target): the fastest configuration reaching the target, with
    its family, catalog size, bytes per vector and speed-up over exact search at that size."""
    best = best_at_targets(df, recall=recall, qps=qps, targets=targets)
    if best.empty:
        return best
    best = best[best["items"].notna()].copy()
    best["items"] = best["items"].astype(int)
    best["family"] = best["workload"].map(family)
    best["qps"] = best[qps]
    best["bytes_per_vector"] = best["index_mb"] * 2**20 / best["items"]
    exact = best[best["exact"] & ~best["gpu"]].groupby("workload")["qps"].max()  # the CPU baseline
    best["exact_qps"] = best["workload"].map(exact)
    best["speedup_vs_exact"] = best["qps"] / best["exact_qps"]
    return best


ORIGIN = ("recall@10_real_items", "recall@10_synthetic_items", "real_share@10")


def by_origin(df: pd.DataFrame, *, recall: str = "recall@10", qps: str = "qps_single", targets=TARGETS) -> pd.DataFrame:
    """Grown catalogs only: the fastest configuration reaching each target, with its recall on
    the true neighbours that are real items and on those that are synthetic (see
    :func:`ann_bench.sweep.scoring.origin_recall`), and the real share of the true top 10."""
    if not all(c in df for c in ORIGIN):
        return pd.DataFrame()
    best = best_at_targets(df[df[ORIGIN[2]].notna()], recall=recall, qps=qps, targets=targets, carry=ORIGIN)
    if best.empty:
        return best
    best = best[~best["exact"]]
    return best[["workload", "items", "algorithm", "target", recall, *ORIGIN, qps, "build_params", "query_params"]]


def _exponent(g: pd.DataFrame, column: str) -> float:
    ok = g[np.isfinite(g[column].astype(float)) & (g[column].astype(float) > 0)]
    return powerlaw.fit(ok["items"], ok[column].astype(float))[0] if len(ok) else math.nan


def growth(sized: pd.DataFrame) -> pd.DataFrame:
    """Per (family, algorithm, target): the sizes measured, each quantity at the largest size
    with its fitted exponent, and the smallest size at which the index is SPEEDUP x exact."""
    rows = []
    if sized.empty:
        return pd.DataFrame(rows)
    for (fam, algorithm, target), g in sized.groupby(["family", "algorithm", "target"], sort=True):
        g = g.sort_values("items")
        last = g.iloc[-1]
        row = {"family": fam, "algorithm": algorithm, "target": target, "exact": bool(last["exact"]),
               "sizes": ", ".join(human(int(n)) for n in g["items"]), "largest": int(last["items"])}
        for col in QUANTITIES:
            row[col] = last[col]
            row[f"{col} exponent"] = _exponent(g, col)
        fast = g[g["speedup_vs_exact"] >= SPEEDUP]
        row[f"{SPEEDUP:g}x exact from"] = "" if last["exact"] else (human(int(fast["items"].iloc[0])) if len(fast) else
                                                                    f"not up to {human(int(last['items']))}")
        row["params at largest"] = f"{last['build_params']}; {last['query_params']}"
        rows.append(row)
    return pd.DataFrame(rows)


def families_with_sizes(sized: pd.DataFrame) -> list[str]:
    """Families measured at two sizes or more: the ones with something to plot and fit."""
    if sized.empty:
        return []
    n = sized.groupby("family")["items"].nunique()
    return sorted(n[n >= 2].index)


def plots(sized: pd.DataFrame, out_dir: Path, *, qps_label: str = QUANTITIES["qps"]) -> list[Path]:
    """One figure per (family, target): each quantity against catalog size, log-log, one line
    per algorithm labelled with its fitted exponent, exact search dashed; ``qps_label`` names
    the speed column :func:`by_size` was given."""
    paths: list[Path] = []
    labels = QUANTITIES | {"qps": qps_label}
    style = styles(sized["algorithm"]) if len(sized) else {}
    for fam in families_with_sizes(sized):
        for target, d in sized[sized["family"] == fam].groupby("target", sort=True):
            fig, axes = plt.subplots(2, 2, figsize=(11, 8))
            for ax, (col, label) in zip(axes.ravel(), labels.items()):
                for algorithm, g in d.groupby("algorithm", sort=True):
                    g = g.sort_values("items")
                    b = _exponent(g, col)
                    s = style[algorithm]
                    ax.plot(g["items"], g[col], color="black" if g["exact"].iloc[0] else s["color"], marker=s["marker"],
                            linestyle="--" if g["exact"].iloc[0] else "-", linewidth=1.4, markersize=5,
                            label=f"{algorithm} ({powerlaw.exponent_label(b) or 'one size'})")
                ax.set_xscale("log")
                ax.set_yscale("log")
                ax.set_xlabel("catalog size N (items)")
                ax.set_ylabel(label)
                ax.grid(True, which="both", alpha=0.3)
                ax.legend(fontsize=6.5, framealpha=0.85)
            fig.suptitle(f"{fam}: fastest configuration reaching Recall@10 >= {target:g} at each size", fontsize=11)
            fig.tight_layout()
            paths += save_figure(fig, out_dir, f"scaling__{fam}__recall10-{target:g}")
    return paths
