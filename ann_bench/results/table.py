"""Gather every result file into one table: one row per (run, query configuration)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..errors import DataError
from .store import read_runs

LEAD = ["workload", "algorithm", "build_params", "search", "k", "query_params", "requested_params", "duplicate_of", "status",
        "recall@1", "recall@10", "recall@100", "qps_single", "qps_batch_1t", "qps_batch_nt", "latency_p50_ms",
        "latency_p99_ms", "build_s", "index_mb", "serialized_mb", "filtered_recall@10", "qps_filtered", "rec_recall@10",
        "rec_recall@10_exact", "modes_disagree", "contended", "reason"]


def result_files(root: Path) -> list[Path]:
    """``<workload>/<algorithm>/<run>.hdf5`` under ``root``: not the files of another results
    folder nested in it (``results/scale``)."""
    return sorted(Path(root).glob("*/*/*.hdf5"))


def gather(root: Path) -> pd.DataFrame:
    files = result_files(root)
    if not files:
        raise DataError(f"no result files under {root}; run `ann-bench sweep` first.")
    rows = []
    for path in files:
        try:
            rows.extend(read_runs(path))
        except (OSError, KeyError) as exc:
            raise DataError(f"{path} is not a readable result file ({exc}); delete it and rerun the sweep.") from None
    df = pd.DataFrame(rows)
    lead = [c for c in LEAD if c in df.columns]
    return df[lead + [c for c in df.columns if c not in lead]]


def measured(df: pd.DataFrame, *, search: str = "knn", k: int | None = None) -> pd.DataFrame:
    """Successful, measured rows (no duplicates) of one search kind, at one depth if given:
    the view every table and plot starts from."""
    keep = (df["status"] == "ok") & (df.get("search") == search)
    if "duplicate_of" in df:
        keep &= df["duplicate_of"].fillna("") == ""
    if k is not None:
        keep &= df["k"] == k
    return df[keep]
