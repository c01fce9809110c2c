"""One build configuration, measured in a fresh process: ``python -m ann_bench.sweep.worker JOB``.

A fresh process per build means the index's memory (RSS after build minus before) is not
muddied by earlier indexes, and a crash inside a C extension (a segfault included) ends only
this run. The worker only measures: it writes raw timings and ids into the job folder, and
announces each phase in ``status.json`` so the parent can enforce per-phase timeouts. The
parent computes recall and writes the result file.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path


def _status(job_dir: Path, phase: str) -> None:
    tmp = job_dir / "status.json.tmp"
    tmp.write_text(json.dumps({"phase": phase, "since": time.time()}))
    os.replace(tmp, job_dir / "status.json")


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def _timed(fn, repeats: int):
    """Run ``fn`` ``repeats`` times; its first result and every pass's seconds."""
    times, first = [], None
    for r in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
        if r == 0:
            first = out
    return first, times


def single_pass(search_one, singles, k: int):
    """Per-query latencies (s) of one pass of single-query calls; kept minimal on purpose."""
    import numpy as np

    lat = np.empty(len(singles))
    clock = time.perf_counter
    for i, v in enumerate(singles):
        t0 = clock()
        search_one(v, k)
        lat[i] = clock() - t0
    return lat


def _exclusions(f, n: int) -> list | None:
    """Each query's already-seen ids (sorted int64) for filtered search, if the workload has
    them and its filtered ground truth."""
    import numpy as np

    if "seen" not in f or "filtered_neighbors" not in f:
        return None
    ids, offsets = f["seen"]["ids"][()], f["seen"]["offsets"][()]
    return [np.sort(ids[offsets[i] : offsets[i + 1]]).astype(np.int64) for i in range(n)]


def filtered_passes(index, singles, exclude, k: int, repeats: int) -> dict:
    """Single-query filtered search: the fastest pass's latencies and the first pass's ids."""
    import numpy as np

    from .adapters.base import pad

    found, times = [], []
    clock = time.perf_counter
    for r in range(repeats):
        lat = np.empty(len(singles))
        for i, (v, ex) in enumerate(zip(singles, exclude)):
            t0 = clock()
            out = index.search_one_filtered(v, k, ex)
            lat[i] = clock() - t0
            if r == 0:
                found.append(out)
        times.append(lat)
    best = min(times, key=lambda lat: lat.sum())
    return {"filtered_ids": pad(found, k), "filtered_latencies": best, "filtered_pass_s": np.array([t.sum() for t in times])}


def run(job_dir: Path) -> None:
    job = json.loads((job_dir / "job.json").read_text())
    threads_all = int(job["threads_all"])
    from ..threads import set_threads

    set_threads(1)  # every library starts at one thread; batch-all-cores raises it per call
    import h5py
    import numpy as np

    from . import registry

    with h5py.File(job["workload"], "r") as f:
        base = f["train"][()]
        queries = f["test"][()]
        exclude = _exclusions(f, min(len(queries), job["single_query_limit"])) if job.get("filtered_k") else None
    cls = registry.get(job["algorithm"])
    _status(job_dir, "build")
    rss_before = _rss_mb()
    start = time.perf_counter()
    index = cls(job["metric"], base.shape[1], threads=job["build_threads"], **job["build"])
    index.fit(base)
    build_s = time.perf_counter() - start
    rss_after = _rss_mb()
    del base  # the index's own copy (if any) stays; the workload copy is not the index's memory
    serialized = None
    save_path = job_dir / "index.bin"
    try:
        if index.save(str(save_path)):
            serialized = sum(p.stat().st_size for p in ([save_path] if save_path.is_file() else save_path.rglob("*")) if p.is_file())
    except Exception as exc:  # serialisation is informative only; never fail the run on it
        serialized = None
        print(f"could not serialise the index: {exc}", file=sys.stderr)
    finally:
        import shutil

        shutil.rmtree(save_path, ignore_errors=True) if save_path.is_dir() else save_path.unlink(missing_ok=True)
    meta = {
        "build_s": build_s, "rss_before_build_mb": rss_before, "rss_after_build_mb": rss_after,
        "index_mb": rss_after - rss_before, "serialized_bytes": serialized, "build_threads": job["build_threads"],
    }
    (job_dir / "meta.json").write_text(json.dumps(meta))

    k, repeats = int(job["k"]), int(job["repeats"])
    for qi, qparams in enumerate(job["queries"]):
        index.set_query_params(**qparams)
        pq = index.prepare_queries(queries)
        singles = index.split_queries(pq[: job["single_query_limit"]])
        _status(job_dir, f"query {qi} batch 1 thread")
        ids, batch1 = _timed(lambda: index.search_batch(pq, k, 1), repeats)
        batch_n = []
        if cls.threaded_batch and threads_all > 1:
            _status(job_dir, f"query {qi} batch {threads_all} threads")
            _, batch_n = _timed(lambda: index.search_batch(pq, k, threads_all), repeats)
        set_threads(1)  # the all-cores batch pass raised the libraries' thread counts
        _status(job_dir, f"query {qi} single")
        passes = [single_pass(index.search_one, singles, k) for _ in range(repeats)]
        best = min(passes, key=lambda lat: lat.sum())
        raw = {"ids": np.asarray(ids, dtype=np.int64), "latencies": best, "single_pass_s": np.array([p.sum() for p in passes]),
               "batch_1t_s": np.array(batch1), "batch_nt_s": np.array(batch_n)}
        if exclude is not None:
            _status(job_dir, f"query {qi} filtered")
            raw |= filtered_passes(index, singles, exclude, int(job["filtered_k"]), repeats)
        np.savez(job_dir / f"query-{qi:03d}.npz", **raw)
    meta["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    (job_dir / "meta.json").write_text(json.dumps(meta))
    _status(job_dir, "done")


if __name__ == "__main__":
    run(Path(sys.argv[1]))
