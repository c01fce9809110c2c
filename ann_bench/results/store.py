"""Result files: one HDF5 per (workload, algorithm, build configuration).

Each holds, per query configuration, the returned ids, their exact distances, per-query
latencies and the metrics; and as attributes all parameters, library versions, CPU, thread
counts, git commit, timestamps and the workload's content hash. Written to a temporary
name and renamed, so a killed sweep never leaves half a file.
"""

from __future__ import annotations

import functools
import json
import time
from pathlib import Path

import h5py
import numpy as np

from .. import __version__
from ..h5util import atomic_h5, get_json, set_json
from ..sweep import machine
from ..sweep.recall import KS, clean_ids, exact_distances, knn_recall, recommendation_recall
from ..workloads import format as wformat

REC_KS = (10, 50)
STDERR_TAIL = 4000


def _slug(params: dict) -> str:
    return ",".join(f"{k}={params[k]}" for k in sorted(params)) or "default"


def result_path(root: Path, workload: str, algorithm: str, build: dict) -> Path:
    return Path(root) / workload / algorithm / f"{_slug(build)}.hdf5"


def run_status(path: Path, workload_hash: str | None = None) -> str | None:
    """'ok' or 'failed' for a complete result file; None if missing, unreadable, or measured
    on different workload content (a rebuilt workload): rerun it."""
    try:
        with h5py.File(path, "r") as f:
            if workload_hash is not None and str(f.attrs["workload_hash"]) != workload_hash:
                return None
            return str(f.attrs["status"])
    except (OSError, KeyError):
        return None


@functools.lru_cache(maxsize=2)
def _workload(path: str) -> wformat.Workload:
    return wformat.read(Path(path))


@functools.lru_cache(maxsize=8)
def _exact_rec_recall(path: str, k: int, filtered: bool = False) -> float:
    w = _workload(path)
    ids = w.filtered_neighbors if filtered else w.neighbors
    return recommendation_recall(ids.astype(np.int64), w.seen, w.relevant, k)


def _latency_metrics(m: dict, lat: np.ndarray, prefix: str) -> None:
    for name, q in (("p50", 50), ("p95", 95), ("p99", 99), ("p99.9", 99.9)):
        m[f"{prefix}latency_{name}_ms"] = float(np.percentile(lat, q) * 1e3)


def filtered_recall(w: wformat.Workload, found: np.ndarray, epsilon: float = 1e-3) -> tuple[np.ndarray, float]:
    """Filtered answers (one row per query, from the first) with repeats, padding and returned
    seen items set to -1, and their mean recall against the filtered ground truth."""
    ids = clean_ids(found, len(w.train))
    ids = ids[:, : w.filtered_neighbors.shape[1]]  # a workload built with a smaller k
    n, k = ids.shape
    for i in range(n):
        ids[i, np.isin(ids[i], w.seen[i])] = -1
    dists = exact_distances(ids, w.test[:n], w.train, w.metric)
    return ids, float(knn_recall(dists, w.filtered_distances[:n], k, epsilon).mean())


def filtered_metrics(w: wformat.Workload, path: str, raw: dict, epsilon: float) -> tuple[dict, np.ndarray]:
    """Filtered search (seen items excluded): recall against the filtered ground truth, where
    a returned seen item, a repeat or padding is a miss; speed; end-to-end recommendation recall."""
    ids, recall = filtered_recall(w, raw["filtered_ids"], epsilon)
    k = ids.shape[1]
    lat = raw["filtered_latencies"]
    m = {f"filtered_recall@{k}": recall,
         "qps_filtered": len(lat) / float(lat.sum()), "filtered_pass_s_all": raw["filtered_pass_s"].tolist()}
    _latency_metrics(m, lat, "filtered_")
    if w.relevant is not None:
        m[f"rec_recall_filtered@{k}"] = recommendation_recall(ids, w.seen, w.relevant, k)
        m[f"rec_recall_filtered@{k}_exact"] = _exact_rec_recall(path, k, filtered=True)
    return m, ids


def query_metrics(w: wformat.Workload, path: str, raw: dict, epsilon: float, k: int) -> tuple[dict, np.ndarray, np.ndarray]:
    """Metrics of one query configuration from the worker's raw measurements."""
    ids = clean_ids(raw["ids"], len(w.train))
    dists = exact_distances(ids, w.test, w.train, w.metric)
    m: dict = {}
    for kk in KS:
        if kk <= min(k, w.neighbors.shape[1]):
            m[f"recall@{kk}"] = float(knn_recall(dists, w.distances, kk, epsilon).mean())
    nq = len(w.test)
    lat = raw["latencies"]
    m["qps_batch_1t"] = nq / float(raw["batch_1t_s"].min())
    m["qps_batch_nt"] = nq / float(raw["batch_nt_s"].min()) if len(raw["batch_nt_s"]) else float("nan")
    m["qps_single"] = len(lat) / float(lat.sum())
    _latency_metrics(m, lat, "")
    m["batch_1t_s_all"] = raw["batch_1t_s"].tolist()
    m["batch_nt_s_all"] = raw["batch_nt_s"].tolist()
    m["single_pass_s_all"] = raw["single_pass_s"].tolist()
    if w.relevant is not None and w.seen is not None:
        for kk in REC_KS:
            m[f"rec_recall@{kk}"] = recommendation_recall(ids, w.seen, w.relevant, kk)
            m[f"rec_recall@{kk}_exact"] = _exact_rec_recall(path, kk)
    return m, ids, dists


def write_result(out: Path, job_dir: Path, job: dict, settings: dict, wpath: Path, wname: str, *,
                 workload_hash: str, started: float, reason: str | None, exit_code: int | None) -> str:
    """Assemble the worker's measurements into ``out``; return a one-line summary."""
    w = _workload(str(wpath))
    meta = json.loads((job_dir / "meta.json").read_text()) if (job_dir / "meta.json").exists() else {}
    stderr = (job_dir / "stderr.txt").read_bytes()[-STDERR_TAIL:].decode(errors="replace") if (job_dir / "stderr.txt").exists() else ""
    from ..sweep import registry

    cls = registry.get(job["algorithm"])
    best = None
    with atomic_h5(out) as f:
        f.attrs["status"] = "failed" if reason else "ok"
        f.attrs["reason"] = reason or ""
        f.attrs["stderr_tail"] = stderr if reason else ""
        f.attrs["exit_code"] = -999 if exit_code is None else exit_code
        f.attrs["workload"] = wname
        f.attrs["workload_hash"] = workload_hash
        f.attrs["algorithm"] = job["label"]
        f.attrs["adapter"] = job["algorithm"]
        f.attrs["metric"] = job["metric"]
        f.attrs["metric_handling"] = cls.metrics[job["metric"]]
        f.attrs["filter_method"] = "native" if cls.native_filter else "overfetch"
        set_json(f, "build", job["build"])
        set_json(f, "settings", settings | {"k": job["k"], "repeats": job["repeats"]})
        set_json(f, "build_stats", meta)
        set_json(f, "threads", {"build": job["build_threads"], "batch_all_cores": job["threads_all"], "single": 1, "batch_single": 1})
        set_json(f, "machine", machine.describe())
        set_json(f, "versions", machine.versions((cls.distribution,)))
        f.attrs["git_commit"] = machine.git_commit() or ""
        f.attrs["ann_bench_version"] = __version__
        f.attrs["started"] = time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started))
        f.attrs["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        for qi, qparams in enumerate(job["queries"]):
            npz = job_dir / f"query-{qi:03d}.npz"
            if not npz.exists():
                continue
            raw = dict(np.load(npz))
            m, ids, dists = query_metrics(w, str(wpath), raw, settings["recall_epsilon"], job["k"])
            g = f.create_group(f"query/{qi:03d}")
            if "filtered_ids" in raw and w.filtered_neighbors is not None:  # validate(): it has ``seen`` too
                fm, fids = filtered_metrics(w, str(wpath), raw, settings["recall_epsilon"])
                m |= fm
                g.create_dataset("filtered_ids", data=fids.astype(np.int32), compression="gzip")
            set_json(g, "params", qparams)
            set_json(g, "metrics", m)
            g.create_dataset("ids", data=ids.astype(np.int32), compression="gzip")
            g.create_dataset("distances", data=dists.astype(np.float32), compression="gzip")
            g.create_dataset("latencies", data=raw["latencies"].astype(np.float32))
            if best is None or m.get("recall@10", 0) > best.get("recall@10", 0):
                best = m
    head = f"{wname} {job['label']} {_slug(job['build'])}:"
    if reason:
        return f"{head} FAILED: {reason}"
    b = best or {}
    return (f"{head} recall@10 {b.get('recall@10', float('nan')):.3f}, QPS {b.get('qps_batch_1t', float('nan')):.0f} (1 thread), "
            f"build {meta.get('build_s', float('nan')):.1f} s, {meta.get('index_mb', float('nan')):.0f} MB")


def read_runs(path: Path) -> list[dict]:
    """Rows (one per query configuration; one row for a failed run without any) of a result file."""
    rows = []
    with h5py.File(path, "r") as f:
        base = {
            "workload": str(f.attrs["workload"]), "algorithm": str(f.attrs["algorithm"]),
            "adapter": str(f.attrs.get("adapter", f.attrs["algorithm"])), "metric": str(f.attrs["metric"]),
            "filter_method": str(f.attrs.get("filter_method", "")),
            "status": str(f.attrs["status"]), "reason": str(f.attrs["reason"]), "file": str(path),
            "workload_hash": str(f.attrs["workload_hash"]), "git_commit": str(f.attrs["git_commit"]),
            "cpu": get_json(f, "machine", {}).get("cpu"), "started": str(f.attrs["started"]),
        }
        build = get_json(f, "build", {})
        stats = get_json(f, "build_stats", {})
        base |= {f"build.{k}": v for k, v in build.items()}
        base |= {"build_s": stats.get("build_s"), "index_mb": stats.get("index_mb"), "peak_rss_mb": stats.get("peak_rss_mb"),
                 "serialized_mb": (stats["serialized_bytes"] / 2**20) if stats.get("serialized_bytes") else None}
        base["build_params"] = _slug(build)
        groups = f["query"] if "query" in f else {}
        for key in sorted(groups):
            g = groups[key]
            params = get_json(g, "params", {})
            metrics = {k: v for k, v in get_json(g, "metrics", {}).items() if not k.endswith("_all")}
            rows.append(base | {f"query.{k}": v for k, v in params.items()} | {"query_params": _slug(params)} | metrics)
        if not rows:
            rows.append(base)
    return rows
