"""Results in ann-benchmarks' own layout, so its plotting scripts and website tools read them.

ann-benchmarks keeps one HDF5 file per (algorithm, build and query configuration) at
``results/<dataset>/<count>/<algorithm>[-batch]/<name>.hdf5``, with per-query ``times``,
``neighbors`` and ``distances`` and attributes (``algo``, ``name``, ``best_search_time``,
``build_time``, ``index_size`` in kB, ``count``, ``distance``, ``batch_mode``, ``run_count``,
``candidates``, ``expect_extra``), and the dataset itself at ``data/<dataset>.hdf5`` (an
ann-bench workload file is one: ``train``, ``test``, ``neighbors``, ``distances``).

Each measured (run, query configuration, depth) of the single-query mode becomes one file:
``times`` are its fastest pass's per-query latencies, so ann-benchmarks' QPS
(1 / ``best_search_time``) is ann-bench's ``qps_single``, and ``neighbors`` / ``distances``
are the answers ann-bench scored (distances in ann-bench's convention, smaller is nearer:
negative inner product on ``ip``), so ann-benchmarks' k-nn recall is ann-bench's recall@k.
"""

from __future__ import annotations

import os
import re
import shutil
import warnings
from pathlib import Path

import h5py
import numpy as np

from ..errors import DataError
from ..h5util import get_json
from ..sweep.record import slug
from ..workloads.format import ANN_BENCHMARKS_DISTANCE
from .store import label as run_label
from .table import result_files


def _dirname(text: str) -> str:
    """A file or folder name for ``text``: parameter values keep their signs and decimal points."""
    return re.sub(r"[^\w.,=+-]+", "_", text).strip("_")


def _workload_file(name: str, whash: str) -> Path | None:
    """The workload a run measured, when it is here with the same content."""
    from .. import paths
    from ..workloads import format as wformat

    try:
        path = paths.find_workload(name)
    except DataError:
        return None
    return path if wformat.stored_hash(path) == whash else None


def _place_dataset(src: Path, dest: Path) -> None:
    """``dest``: a hard link to the workload file where the filesystem allows, else a copy."""
    if dest.exists():
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dest)
    except OSError:
        shutil.copyfile(src, dest)


def export(results_dir: Path, out_dir: Path) -> dict:
    """Write every measured configuration under ``results_dir`` into ``out_dir`` in ann-benchmarks'
    layout; returns counts (files written, datasets placed, workloads not found here)."""
    files = result_files(results_dir)
    if not files:
        raise DataError(f"no result files under {results_dir}; run `ann-bench sweep` first.")
    written, datasets, missing = 0, set(), set()
    for path in files:
        with h5py.File(path, "r") as f:
            if str(f.attrs["status"]) != "ok" or "query" not in f:
                continue
            workload, label = str(f.attrs["workload"]), run_label(f.attrs)
            build, stats = get_json(f, "build", {}), get_json(f, "build_stats", {})
            metric, whash = str(f.attrs["metric"]), str(f.attrs["workload_hash"])
            run_count = int(get_json(f, "settings", {}).get("repeats", 1))
            for qkey in sorted(f["query"]):
                for dkey, d in f["query"][qkey].items():
                    if dkey == "filtered" or "ids" not in d:
                        continue  # filtered search has no ann-benchmarks counterpart; duplicates have no data
                    k = int(d.attrs["k"])
                    eff = get_json(d, "effective", {})
                    times = np.asarray(d["latencies"], dtype=np.float64)
                    name = f"{label}({slug(build)};{slug(eff)})"
                    dest = out_dir / "results" / workload / str(k) / _dirname(label) / f"{_dirname(slug(build) + ';' + slug(eff))}.hdf5"
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    tmp = dest.with_name(dest.name + ".tmp")
                    with h5py.File(tmp, "w") as out:
                        out.attrs.update({
                            "algo": label, "name": name, "dataset": workload, "count": k, "batch_mode": False,
                            "best_search_time": float(times.mean()), "run_count": run_count, "candidates": float(k),
                            "expect_extra": False, "distance": ANN_BENCHMARKS_DISTANCE[metric],
                            "build_time": float(stats.get("build_s") or 0.0),
                            "index_size": float(stats.get("index_mb") or 0.0) * 1024,  # kB, as ann-benchmarks records it
                        })
                        out.create_dataset("times", data=times.astype(np.float32))
                        out.create_dataset("neighbors", data=np.asarray(d["ids"], dtype=np.int32))
                        out.create_dataset("distances", data=np.asarray(d["distances"], dtype=np.float32))
                    os.replace(tmp, dest)
                    written += 1
        if workload not in datasets | missing:
            src = _workload_file(workload, whash)
            if src is None:
                missing.add(workload)
            else:
                _place_dataset(src, out_dir / "data" / f"{workload}.hdf5")
                datasets.add(workload)
    for name in sorted(missing):
        warnings.warn(f"workload {name} is not in this project's datasets (or has changed since it was measured): "
                      f"{out_dir / 'data'} lacks it, which ann-benchmarks' plot.py needs for recall", stacklevel=2)
    return {"files": written, "datasets": len(datasets), "missing": sorted(missing)}
