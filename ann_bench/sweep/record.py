"""The sweep's output: one HDF5 result file per (workload, algorithm, build configuration).

A run is keyed on everything that defines it (:func:`definition`: adapter, build and every
query configuration, the measurement settings, the retrieval depths, thread counts, library
versions, the workload's content hash), stored in its file; a resumed sweep reruns a run
whose definition changed and says what changed (:func:`changes`).

Each file holds, per query configuration and retrieval depth k, every timed mode's answers
scored against the exact ground truth, latencies and metrics, the parameters the library
really used (or which earlier configuration this one duplicates), and how busy the machine
was while it was timed; per query configuration the filtered search; and as attributes all
parameters, library versions, CPU, thread counts, git commit and timestamps. Written to a
temporary name and renamed, so a killed sweep never leaves half a file.
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
from ..paths import under
from ..workloads import format as wformat
from . import load, machine, query_plan, registry
from .scoring import KS, MODE_TOLERANCE, clean_ids, drop_self, exact_distances, knn_recall, origin_recall, recommendation_recall
from .worker import npz_name

REC_KS = (10, 50)
STDERR_TAIL = 4000
SCORING_VERSION = 2  # 2: depths, every mode scored, query item dropped, filtered end-to-end recall
# settings that change what is measured (the limits only decide whether a run may finish)
MEASUREMENT_SETTINGS = ("k", "repeats", "recall_epsilon", "single_query_limit", "filtered_k", "build_threads", "min_time_s")
UNSET_BEFORE = {"min_time_s": 0.0}  # settings added later: at this value a definition is written as before them


def slug(params: dict) -> str:
    return ",".join(f"{k}={params[k]}" for k in sorted(params)) or "default"


def result_path(root: Path, workload: str, algorithm: str, build: dict, repeat: int = 0) -> Path:
    """``root/<workload>/<algorithm label>/<build parameters>.hdf5``, every part a checked name."""
    return under(root, workload, algorithm, slug(build | ({"repeat": repeat} if repeat else {})),
                 what="workload name, algorithm label or build parameter", suffix=".hdf5")


def definition(*, adapter: str, build: dict, repeat: int, queries: list[dict], settings: dict, threads_all: int,
               workload_hash: str) -> dict:
    """Everything that defines a run: a result file made under another definition is stale."""
    cls = registry.get(adapter)
    return cls.revision_key() | {
        "adapter": adapter, "build": build, "build_repeat": repeat, "queries": queries,
        "settings": {k: settings[k] for k in MEASUREMENT_SETTINGS if UNSET_BEFORE.get(k, ...) != settings[k]},
        "threads_all": threads_all,
        "versions": machine.versions((cls.distribution,)), "workload_hash": workload_hash,
        "scoring_version": SCORING_VERSION,
    }


def _canonical(value) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def changes(old: dict | None, new: dict) -> list[str]:
    """What differs between a stored definition and this sweep's, one phrase per field."""
    if old is None:
        return ["made by an older ann-bench (no run definition)"]
    out = []
    for key in [*new, *(k for k in old if k not in new)]:
        a, b = old.get(key), new.get(key)
        if _canonical(a) == _canonical(b):
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            for sub in sorted(set(a) | set(b)):
                if _canonical(a.get(sub)) != _canonical(b.get(sub)):
                    out.append(f"{key}.{sub} {a.get(sub)!r} -> {b.get(sub)!r}")
        elif key == "queries":
            if isinstance(a, list) and isinstance(b, list):
                out.append(f"query grid changed ({len(a)} -> {len(b)} configurations)")
            else:
                out.append(f"query plan changed ({query_plan.describe(a or [])} -> {query_plan.describe(b)})")
        elif key == "workload_hash":
            out.append("workload content changed")
        elif key == "adapter_revision":
            out.append(f"the adapter changed since (revision {a or 0} -> {b or 0})")
        else:
            out.append(f"{key} {a!r} -> {b!r}")
    return out


def run_state(path: Path, new_definition: dict | None = None) -> tuple[str | None, list[str]]:
    """('ok', 'failed' or 'skipped', []) for a complete result file of this definition; (None, why) when
    it must run: missing, unreadable, or made under another definition."""
    try:
        with h5py.File(path, "r") as f:
            status = str(f.attrs["status"])
            old = get_json(f, "definition")
    except FileNotFoundError:
        return None, ["new"]
    except (OSError, KeyError):
        return None, ["unreadable result file"]
    if new_definition is not None:
        diff = changes(old, new_definition)
        if diff:
            return None, diff
    return status, []


def run_status(path: Path) -> str | None:
    """'ok', 'failed' or 'skipped' for a complete result file, None if missing or unreadable."""
    return run_state(path)[0]


@functools.lru_cache(maxsize=2)
def _workload(path: str) -> wformat.Workload:
    return wformat.read(Path(path))


@functools.lru_cache(maxsize=8)
def _exact_rec_recall(path: str, k: int) -> float:
    """End-to-end recall of exact filtered search: the model's own metric, reproduced."""
    w = _workload(path)
    return recommendation_recall(w.filtered_neighbors.astype(np.int64), w.seen, w.relevant, k)


def _latency_metrics(m: dict, lat: np.ndarray, prefix: str) -> None:
    for name, q in (("p50", 50), ("p95", 95), ("p99", 99), ("p99.9", 99.9)):
        m[f"{prefix}latency_{name}_ms"] = float(np.percentile(lat, q) * 1e3)


def _load_metrics(m: dict, rec: dict, run_load: dict | None) -> None:
    ld = load.judged(rec.get("load"), run_load)
    m["load_other_cores"] = ld.get("other_cores", float("nan"))
    m["load_steal_share"] = ld.get("steal_share", float("nan"))
    m["contended"] = load.contended(ld)


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
    a returned seen item, a repeat or padding is a miss; speed; end-to-end recommendation
    recall (the filtered answers hold k unseen items, so exact search gives the model's metric)."""
    ids, recall = filtered_recall(w, raw["filtered_ids"], epsilon)
    k = ids.shape[1]
    lat = raw["filtered_latencies"]
    m = {f"filtered_recall@{k}": recall,
         "qps_filtered": len(lat) / float(lat.sum()), "filtered_pass_s_all": raw["filtered_pass_s"].tolist()}
    _latency_metrics(m, lat, "filtered_")
    if w.relevant is not None:
        for kk in REC_KS:
            if kk <= k:
                m[f"rec_recall@{kk}"] = recommendation_recall(ids, w.seen, w.relevant, kk)
                m[f"rec_recall@{kk}_exact"] = _exact_rec_recall(path, kk)
    return m, ids


def _scored(w: wformat.Workload, ids: np.ndarray, depth: int) -> tuple[np.ndarray, np.ndarray]:
    """Answers without the query item, cleaned, and their exact distances."""
    n = len(ids)
    ids = clean_ids(drop_self(ids, None if w.self_ids is None else w.self_ids[:n], depth), len(w.train))
    return ids, exact_distances(ids, w.test[:n], w.train, w.metric)


def depth_metrics(w: wformat.Workload, raw: dict, epsilon: float, depth: int) -> tuple[dict, np.ndarray, np.ndarray]:
    """Metrics of one query configuration at one retrieval depth, every mode's answers scored.

    ``recall@K`` (ann-benchmarks' k-NN recall) and ``recall_rel@K`` (relative epsilon) come
    from the 1-thread batch answers over all queries, for every K in :data:`KS` up to the
    depth; ``recall@depth_<mode>`` from each other mode; ``mode_recall_spread`` is the largest
    difference between modes on the queries they share, and ``modes_disagree`` flags it above
    :data:`MODE_TOLERANCE`.
    """
    ids, dists = _scored(w, raw["ids_batch_1t"], depth)
    m: dict = {}
    gt_k = w.neighbors.shape[1]
    for kk in KS:
        if kk <= min(depth, gt_k):
            m[f"recall@{kk}"] = float(knn_recall(dists, w.distances, kk, epsilon).mean())
            m[f"recall_rel@{kk}"] = float(knn_recall(dists, w.distances, kk, epsilon, definition="relative").mean())
    if w.attrs.get("synthetic") and 10 <= min(depth, gt_k):  # does recall on real items transfer to grown catalogs?
        m |= origin_recall(ids, w.neighbors, int(w.attrs["n_real_items"]), 10)
    kd = min(depth, gt_k)
    per_mode = {"batch_1t": knn_recall(dists, w.distances, kd, epsilon)}
    for mode in ("batch_nt", "single"):
        if f"ids_{mode}" in raw:
            _, d = _scored(w, raw[f"ids_{mode}"], depth)
            per_mode[mode] = knn_recall(d, w.distances[: len(d)], kd, epsilon)
            m[f"recall@{kd}_{mode}"] = float(per_mode[mode].mean())
    shared = min(len(r) for r in per_mode.values())
    means = [float(r[:shared].mean()) for r in per_mode.values()]
    m["mode_recall_spread"] = max(means) - min(means)
    m["modes_disagree"] = bool(m["mode_recall_spread"] > MODE_TOLERANCE)
    m |= speeds(raw, len(w.test))
    lat = raw["latencies"]
    _latency_metrics(m, lat, "")
    m["batch_1t_s_all"] = raw["batch_1t_s"].tolist()
    m["batch_nt_s_all"] = raw["batch_nt_s"].tolist()
    m["single_pass_s_all"] = raw["single_pass_s"].tolist()
    return m, ids, dists


def speeds(raw: dict, nq: int) -> dict:
    """Queries per second of one configuration's timed passes over ``nq`` queries, per mode:
    each batch mode's fastest pass, the single-query mode's fastest pass (as kept)."""
    lat = raw["latencies"]
    return {"qps_batch_1t": nq / float(raw["batch_1t_s"].min()),
            "qps_batch_nt": nq / float(raw["batch_nt_s"].min()) if len(raw["batch_nt_s"]) else float("nan"),
            "qps_single": len(lat) / float(lat.sum())}


class RawFileError(Exception):
    """A worker's raw measurement file could not be read (a kill or a full disk mid-write)."""


def _raw(job_dir: Path, name: str) -> dict | None:
    path = job_dir / name
    if not path.exists():
        return None
    try:
        with np.load(path) as z:
            return {k: z[k] for k in z.files}
    except Exception as exc:  # zipfile, OSError, ValueError: any half-written file
        raise RawFileError(f"raw measurements {name} unreadable ({type(exc).__name__}: {exc})") from None


def _read_meta(job_dir: Path) -> dict:
    try:
        return json.loads((job_dir / "meta.json").read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise RawFileError(f"raw measurements meta.json unreadable ({exc})") from None


def write_result(out: Path, job_dir: Path, job: dict, settings: dict, wpath: Path, wname: str, *,
                 run_definition: dict, started: float, reason: str | None, exit_code: int | None,
                 skipped: bool = False) -> tuple[str, str]:
    """Score the worker's measurements into ``out``; return its status and a one-line summary. Raw files
    that cannot be read make the run a failed one, never a crash of the sweep. ``skipped``: the
    run was not started, for ``reason`` (an empty ``job_dir``)."""
    w = _workload(str(wpath))
    stderr = (job_dir / "stderr.txt").read_bytes()[-STDERR_TAIL:].decode(errors="replace") if (job_dir / "stderr.txt").exists() else ""
    try:
        meta = _read_meta(job_dir)
        where = meta.pop("machine", None) or machine.describe()  # the node that measured it; here if none did
        scored = _score_all(w, str(wpath), job, meta, job_dir, settings["recall_epsilon"])
    except RawFileError as exc:
        meta, scored, reason, where = {}, [], (f"{reason}; " if reason else "") + str(exc), machine.describe()
    cls = registry.get(job["algorithm"])
    status = "skipped" if skipped else "failed" if reason else "ok"
    with atomic_h5(out) as f:
        f.attrs["status"] = status
        f.attrs["reason"] = reason or ""
        f.attrs["stderr_tail"] = stderr if reason else ""
        f.attrs["n_base"] = len(w.train)
        f.attrs["run_s"] = time.time() - started
        f.attrs["exit_code"] = -999 if exit_code is None else exit_code
        f.attrs["workload"] = wname
        f.attrs["workload_hash"] = run_definition["workload_hash"]
        f.attrs["algorithm"] = job["label"]
        f.attrs["adapter"] = job["algorithm"]
        f.attrs["metric"] = job["metric"]
        f.attrs["metric_handling"] = cls.metrics[job["metric"]]
        f.attrs["filter_method"] = "native" if cls.native_filter else "overfetch"
        f.attrs["build_repeat"] = job.get("build_repeat", 0)
        set_json(f, "definition", run_definition)
        set_json(f, "build", job["build"])
        if job.get("size_relative"):  # the expressions its size-relative values came from
            set_json(f, "size_relative", job["size_relative"])
        set_json(f, "settings", settings)
        set_json(f, "build_stats", {k: v for k, v in meta.items() if k != "queries"})
        set_json(f, "threads", {"build": job["build_threads"], "batch_all_cores": job["threads_all"], "single": 1, "batch_single": 1})
        set_json(f, "machine", where)
        set_json(f, "versions", run_definition["versions"])
        f.attrs["git_commit"] = machine.git_commit() or ""
        f.attrs["ann_bench_version"] = __version__
        f.attrs["started"] = time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started))
        f.attrs["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        for qi, depth, rec, m, arrays in scored:
            g = f.require_group(f"query/{qi:03d}")
            set_json(g, "params", meta["queries"][qi]["params"])  # the configuration the worker measured
            d = g.create_group(f"k{depth:03d}" if isinstance(depth, int) else depth)
            d.attrs["k"] = rec["asked"] if depth == "filtered" else depth
            set_json(d, "effective", rec["effective"])
            d.attrs["duplicate_of"] = -1 if rec["duplicate_of"] is None else rec["duplicate_of"]
            set_json(d, "metrics", m)
            for name, arr in arrays.items():
                d.create_dataset(name, data=arr, compression="gzip" if arr.ndim == 2 else None)
    return status, _summary(wname, job, reason, meta, scored, status)


def _score_all(w, path: str, job: dict, meta: dict, job_dir: Path, epsilon: float) -> list:
    """(query index, depth or 'filtered', worker record, metrics, arrays) for every measured pass."""
    out = []
    for qi, record in enumerate(meta.get("queries", [])):
        for depth_s, rec in record["depths"].items():
            depth = int(depth_s)
            raw = None if rec["duplicate_of"] is not None else _raw(job_dir, npz_name(qi, depth))
            if rec["duplicate_of"] is None and raw is None:
                continue
            m, arrays = {}, {}
            if raw is not None:
                m, ids, dists = depth_metrics(w, raw, epsilon, depth)
                _load_metrics(m, rec, meta.get("run_load"))
                if meta.get("reference"):  # comparable across nodes: times faster than exact search there
                    m["speedup_single"] = m["qps_single"] / meta["reference"]["exact_qps"]
                arrays = {"ids": ids.astype(np.int32), "distances": dists.astype(np.float32),
                          "latencies": raw["latencies"].astype(np.float32)}
            out.append((qi, depth, rec, m, arrays))
        rec = record.get("filtered")
        if rec is not None and w.filtered_neighbors is not None:  # validate(): it has ``seen`` too
            raw = None if rec["duplicate_of"] is not None else _raw(job_dir, npz_name(qi, "filtered"))
            m, arrays = {}, {}
            if raw is not None:
                m, fids = filtered_metrics(w, path, raw, epsilon)
                _load_metrics(m, rec, meta.get("run_load"))
                arrays = {"filtered_ids": fids.astype(np.int32), "latencies": raw["filtered_latencies"].astype(np.float32)}
            if raw is not None or rec["duplicate_of"] is not None:
                out.append((qi, "filtered", rec, m, arrays))
    return out


def _summary(wname: str, job: dict, reason: str | None, meta: dict, scored: list, status: str) -> str:
    head = f"{wname} {job['label']} {slug(job['build'])}:"
    if status == "skipped":
        return f"{head} skipped: {reason}"
    if reason:
        return f"{head} FAILED: {reason}"
    best = max((m for _, depth, _, m, _ in scored if depth != "filtered" and "recall@10" in m),
               key=lambda m: m["recall@10"], default={})
    return (f"{head} recall@10 {best.get('recall@10', float('nan')):.3f}, QPS {best.get('qps_batch_1t', float('nan')):.0f} "
            f"(1 thread), build {meta.get('build_s', float('nan')):.1f} s, {meta.get('index_mb', float('nan')):.0f} MB")
