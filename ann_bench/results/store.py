"""Read the sweep's result files (written by :mod:`ann_bench.sweep.record`) as table rows.

One row per (run, query configuration, retrieval depth) with ``search`` = ``knn``, and one
per (run, query configuration) with ``search`` = ``filtered`` for the filtered search. A
row's ``query_params`` are the parameters the library really used at that depth; the ones
asked for are in ``requested_params``; a configuration that repeats an earlier one's
effective parameters has ``duplicate_of`` set and no measurements.
"""

from __future__ import annotations

from pathlib import Path

import h5py

from ..h5util import get_json
from ..sweep.adapters.reduction import describe
from ..sweep.load import contended, judged
from ..sweep.record import slug


def label(attrs) -> str:
    """The algorithm's label, marked where inner product was searched through a reduction."""
    via = describe(str(attrs.get("metric_handling", "")))
    return f"{attrs['algorithm']} ({via})" if via else str(attrs["algorithm"])


def read_runs(path: Path) -> list[dict]:
    """Rows (see the module docstring; one row for a failed run without any) of a result file."""
    rows = []
    with h5py.File(path, "r") as f:
        base = {
            "workload": str(f.attrs["workload"]), "algorithm": label(f.attrs),
            "adapter": str(f.attrs.get("adapter", f.attrs["algorithm"])), "metric": str(f.attrs["metric"]),
            "metric_handling": str(f.attrs.get("metric_handling", "")),
            "filter_method": str(f.attrs.get("filter_method", "")), "build_repeat": int(f.attrs.get("build_repeat", 0)),
            "status": str(f.attrs["status"]), "reason": str(f.attrs["reason"]), "file": str(path),
            "workload_hash": str(f.attrs["workload_hash"]), "git_commit": str(f.attrs["git_commit"]),
            "cpu": get_json(f, "machine", {}).get("cpu"), "node": get_json(f, "machine", {}).get("node"),
            "started": str(f.attrs["started"]),
            "n_base": int(f.attrs["n_base"]) if "n_base" in f.attrs else None,
        }
        build = get_json(f, "build", {})
        stats = get_json(f, "build_stats", {})
        base |= {f"build.{k}": v for k, v in build.items()}
        base |= {k: stats.get(k) for k in ("build_s", "index_mb", "peak_rss_mb", "import_s", "import_mb", "warmup_s", "warmup_mb")}
        base["exact_qps"] = (stats.get("reference") or {}).get("exact_qps")  # this node's exact search: speedup_single's unit
        env = stats.get("environment") or {}
        base["device"] = env.get("gpu") or "cpu"  # the GPU an index searched on (torch-exact on cuda)
        base["device_index_mb"] = env.get("device_index_mb")  # what it holds there (index_mb is host memory)
        base["serialized_mb"] = (stats["serialized_bytes"] / 2**20) if stats.get("serialized_bytes") else None
        base["build_contended"] = contended(judged(stats.get("build_load"), stats.get("run_load")))
        base["build_params"] = slug(build)
        queries = f["query"] if "query" in f else {}
        for qkey in sorted(queries):
            g = queries[qkey]
            params = get_json(g, "params", {})
            for dkey in sorted(g):
                d = g[dkey]
                eff = get_json(d, "effective", {})
                dup = int(d.attrs.get("duplicate_of", -1))
                metrics = {k: v for k, v in get_json(d, "metrics", {}).items() if not k.endswith("_all")}
                rows.append(base | {f"query.{k}": v for k, v in params.items()} | {
                    "search": "filtered" if dkey == "filtered" else "knn", "k": int(d.attrs["k"]),
                    "query_params": slug(eff), "requested_params": slug(params),
                    "duplicate_of": slug(get_json(queries[f"{dup:03d}"], "params", {})) if dup >= 0 else "",
                } | metrics)
        if not rows:
            rows.append(base)
    return rows
