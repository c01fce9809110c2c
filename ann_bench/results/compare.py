"""Compare two sweeps of the same configurations (two runs, or two machines).

Speeds are compared as ratios per configuration (B / A): their median says how much faster
one machine or run is; their spread says how much to trust a single number. Recall is
compared as differences: nonzero where a library's build is not deterministic.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import DataError
from .table import measured

KEY = ["workload", "algorithm", "build_params", "search", "k", "query_params"]
SPEEDS = ("qps_single", "qps_batch_1t", "qps_batch_nt", "qps_filtered", "build_s")
RECALLS = ("recall@10", "filtered_recall@10")


def matched(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Successful configurations present in both, side by side (suffixes _a, _b)."""
    ok = [pd.concat([measured(d, search="knn"), measured(d, search="filtered")]) for d in (a, b)]
    m = ok[0].merge(ok[1], on=KEY, suffixes=("_a", "_b"))
    if m.empty:
        raise DataError("the two result sets have no successful configuration in common (same workloads, "
                        "algorithm labels and parameters are needed).")
    return m


def speed_ratios(m: pd.DataFrame) -> pd.DataFrame:
    """Per speed metric: how many configurations, and B / A's median, 5th and 95th percentiles
    and its extremes."""
    rows = []
    for col in SPEEDS:
        if f"{col}_a" not in m:
            continue
        r = (m[f"{col}_b"] / m[f"{col}_a"]).replace([np.inf, -np.inf], np.nan).dropna()
        if r.empty:
            continue
        rows.append({"metric": col, "configs": len(r), "median B/A": r.median(), "p5": r.quantile(0.05),
                     "p95": r.quantile(0.95), "min": r.min(), "max": r.max()})
    return pd.DataFrame(rows)


def recall_changes(m: pd.DataFrame) -> pd.DataFrame:
    """Per algorithm: the largest |B - A| of each recall, over its configurations."""
    out = pd.DataFrame({"algorithm": m["algorithm"]})
    for col in RECALLS:
        if f"{col}_a" in m:
            out[f"largest change {col}"] = (m[f"{col}_b"] - m[f"{col}_a"]).abs()
    return out.groupby("algorithm", as_index=False).max().sort_values(out.columns[1], ascending=False)


def machines(m: pd.DataFrame) -> str:
    return f"A: {', '.join(sorted(set(map(str, m['cpu_a']))))}; B: {', '.join(sorted(set(map(str, m['cpu_b']))))}"
