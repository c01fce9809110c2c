"""One build configuration, measured in a fresh process: ``python -m ann_bench.sweep.worker JOB``.

A fresh process per build means the index's memory (RSS after build minus before) is not
muddied by earlier indexes, and a crash inside a C extension (a segfault included) ends only
this run. The library is imported and warmed up (JIT compilation, lazy imports) on a tiny
index *before* the "before" snapshot, so build time and index memory hold only the index;
the one-off costs are recorded separately.

The worker only measures: for every query configuration and every retrieval depth k it
times batch search at 1 thread and at all cores and single-query search, keeps each mode's
answers (the parent scores all of them), and records the parameters the library really used
(a configuration whose effective parameters repeat an earlier one's at that depth is
recorded as a duplicate and not measured again). Every file it writes is written whole and
renamed, so a kill never leaves half a file; ``status.json`` announces each phase so the
parent can enforce per-phase timeouts. The parent computes recall and writes the result file.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import importlib
import json
import os
import resource
import sys
import time
from pathlib import Path

from ..errors import NO_ROOM
from ..files import atomic_write

EXIT_NO_SPACE = 74  # sysexits' EX_IOERR: a file did not fit (disk full, quota, file-size limit)


def write_json(path: Path, obj) -> None:
    atomic_write(path, lambda fh: fh.write(json.dumps(obj).encode()))


def write_status(job_dir: Path, phase: str) -> None:
    """What the worker is doing now, for the parent's progress bar and its timeout messages."""
    write_json(job_dir / "status.json", {"phase": phase, "since": time.time()})


def rss_mb() -> float:
    """This process's resident memory now, in MiB."""
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def peak_rss_mb() -> float:
    """This process's peak resident memory since it started, in MiB.

    Linux's VmHWM belongs to the address space, which exec replaces. ``ru_maxrss`` does not:
    a worker started by a 1 GB parent reports the parent's 1 GB, so it is only the fallback
    (in KiB on Linux, bytes on macOS)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


MAX_PASSES = 1000


def _passes(one_pass, repeats: int, min_s: float) -> list[float]:
    """Call ``one_pass(i)`` (it returns the seconds it timed) ``repeats`` times, then again while
    the passes took less than ``min_s`` seconds in all (up to ``MAX_PASSES``); every pass's seconds."""
    times: list[float] = []
    spent = 0.0
    while len(times) < repeats or (spent < min_s and len(times) < MAX_PASSES):
        times.append(one_pass(len(times)))
        spent += times[-1]
    return times


def _timed(fn, repeats: int, min_s: float = 0.0):
    """Run ``fn`` (see :func:`_passes` for how often); its first result and every pass's seconds."""
    first = []

    def one(i: int) -> float:
        start = time.perf_counter()
        out = fn()
        seconds = time.perf_counter() - start
        if i == 0:
            first.append(out)
        return seconds

    times = _passes(one, repeats, min_s)
    return first[0], times


def _fastest(one_pass, repeats: int, min_s: float):
    """Per-query latencies of the fastest of the passes ``one_pass(i)`` returns (see
    :func:`_passes`), and every pass's total seconds."""
    best = []

    def one(i: int) -> float:
        lat = one_pass(i)
        if not best or lat.sum() < best[0].sum():
            best[:] = [lat]
        return float(lat.sum())

    times = _passes(one, repeats, min_s)
    return best[0], times


def single_pass(search_one, singles, k: int):
    """Per-query latencies (s) of one pass of single-query calls; kept minimal on purpose (the
    answers are collected by an untimed pass of the same calls, never inside this loop)."""
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


def filtered_passes(index, singles, exclude, k: int, repeats: int, min_s: float = 0.0) -> dict:
    """Single-query filtered search: the fastest pass's latencies and the first pass's ids."""
    import numpy as np

    from .adapters.base import pad

    found = []
    clock = time.perf_counter

    def one(r: int):
        lat = np.empty(len(singles))
        for i, (v, ex) in enumerate(zip(singles, exclude)):
            t0 = clock()
            out = index.search_one_filtered(v, k, ex)
            lat[i] = clock() - t0
            if r == 0:
                found.append(out)
        return lat

    best, times = _fastest(one, repeats, min_s)
    return {"filtered_ids": pad(found, k), "filtered_latencies": best, "filtered_pass_s": np.array(times)}


def save_npz(path: Path, raw: dict) -> None:
    import numpy as np

    atomic_write(path, lambda fh: np.savez(fh, **raw))


def npz_name(qi: int, depth: int | str) -> str:
    return f"query-{qi:03d}-{depth if isinstance(depth, str) else f'k{depth:03d}'}.npz"


@contextlib.contextmanager
def measured_load(record: dict):
    """Other processes' CPU use while the block runs, into ``record['load']``."""
    from . import load

    before = load.sample()
    yield
    record["load"] = load.between(before, load.sample())


def prepare_library(cls, metric: str, dim: int) -> dict:
    """Import the library and warm it up outside the build's time and memory."""
    out = {}
    rss, start = rss_mb(), time.perf_counter()
    importlib.import_module(cls.module)
    out["import_s"], out["import_mb"] = time.perf_counter() - start, rss_mb() - rss
    rss, start = rss_mb(), time.perf_counter()
    try:
        cls.warm_up(metric, dim)
        out["warmup"] = "done"
    except NotImplementedError:
        out["warmup"] = "none"  # an adapter without accurate_params: nothing to warm up with
    except Exception as exc:  # a warm-up is a courtesy; the build itself will show a real problem
        out["warmup"] = f"failed: {exc}"
    gc.collect()
    out["warmup_s"], out["warmup_mb"] = time.perf_counter() - start, rss_mb() - rss
    return out


def _measure_depth(index, cls, pq, singles, k: int, repeats: int, min_s: float, threads_all: int, status) -> dict:
    """Batch at 1 thread, batch at all cores and single-query passes at one depth, each mode
    ``repeats`` times or more (:func:`_passes`); ``status(mode)`` announces each mode (a timeout
    applies to each)."""
    import numpy as np

    from ..threads import set_threads

    status("batch 1 thread")
    ids_1t, batch1 = _timed(lambda: index.search_batch(pq, k, 1), repeats, min_s)
    raw = {"ids_batch_1t": np.asarray(ids_1t, dtype=np.int64), "batch_1t_s": np.array(batch1), "batch_nt_s": np.zeros(0)}
    if cls.threaded_batch and threads_all > 1:
        status(f"batch {threads_all} threads")
        ids_nt, batch_n = _timed(lambda: index.search_batch(pq, k, threads_all), repeats, min_s)
        raw |= {"ids_batch_nt": np.asarray(ids_nt, dtype=np.int64), "batch_nt_s": np.array(batch_n)}
    set_threads(1)  # the all-cores batch pass raised the libraries' thread counts
    from .adapters.base import pad

    status("single")
    latencies, passes = _fastest(lambda _: single_pass(index.search_one, singles, k), repeats, min_s)
    answers = [index.search_one(v, k) for v in singles]  # untimed: the single-query mode's answers, to score
    return raw | {"ids_single": pad(answers, k), "latencies": latencies, "single_pass_s": np.array(passes)}


def run(job_dir: Path) -> None:
    job = json.loads((job_dir / "job.json").read_text())
    from . import node

    node.die_with_parent(job.get("parent_pid"))
    node.pin(job.get("cpus"))  # before any library starts its threads
    threads_all = int(job["threads_all"])
    from ..threads import set_threads

    set_threads(1)  # every library starts at one thread; batch-all-cores raises it per call
    import h5py

    from . import registry

    from . import load

    run_start = load.sample()
    cls = registry.get(job["algorithm"])
    write_status(job_dir, "build: import and warm-up")
    with h5py.File(job["workload"], "r") as f:
        dim = f["train"].shape[1]
    meta = prepare_library(cls, job["metric"], dim)
    meta["rss_library_mb"] = rss_mb()  # interpreter and library, warmed up, before the workload: not size-dependent
    with h5py.File(job["workload"], "r") as f:
        base = f["train"][()]
        queries = f["test"][()]
        self_ids = f["self_ids"][()] if "self_ids" in f else None
        exclude = _exclusions(f, min(len(queries), job["single_query_limit"])) if job.get("filtered_k") else None
    from . import machine, query_plan, reference
    from .record import speeds as record_speeds

    meta["machine"] = machine.describe(job.get("node"))  # where it ran: this node, pinned to its cores
    write_status(job_dir, "build: exact-search reference")
    meta["reference"] = reference.exact_qps(base, queries, job["metric"])
    # an item-to-item query is in the base: ask for one more answer, the parent drops the query itself
    extra = 1 if self_ids is not None and (self_ids >= 0).any() else 0
    write_status(job_dir, "build")
    build_record: dict = {}
    with measured_load(build_record):
        rss_before = rss_mb()
        start = time.perf_counter()
        index = cls(job["metric"], base.shape[1], threads=job["build_threads"], **job["build"])
        index.fit(base)
        build_s = time.perf_counter() - start
        rss_after = rss_mb()
    n_base = len(base)
    del base  # the index's own copy (if any) stays; the workload copy is not the index's memory
    meta |= {"build_s": build_s, "rss_before_build_mb": rss_before, "rss_after_build_mb": rss_after,
             "index_mb": rss_after - rss_before, "serialized_bytes": _serialized_size(index, job_dir),
             "build_threads": job["build_threads"], "build_load": build_record["load"],
             "effective_build": index.effective_build(), "environment": index.environment(), "asked_extra": extra,
             "queries": []}
    write_json(job_dir / "meta.json", meta)

    repeats, depths = int(job["repeats"]), sorted(int(k) for k in job["k"])
    min_s = float(job.get("min_time_s", 0.0))
    seen: dict = {}  # (depth, effective params) -> the first query configuration that used them
    recalls: dict = {}  # query configuration -> recall@k at a bisection's depth (steering only)
    paces: dict = {}  # query configuration -> its speed in the bisection's column at that depth
    numbers: dict = {}  # query parameters (JSON) -> their query configuration
    steer = query_plan.is_bisection(job["queries"])
    plan = query_plan.Bisection.from_json(job["queries"]) if steer else None
    steer_k = plan.k if steer else None

    @functools.cache
    def truth():  # the exact distances a bisection steers by: read once, after the build
        with h5py.File(job["workload"], "r") as f:
            return f["distances"][()]

    def measure(qparams: dict) -> float | None:
        qi = len(meta["queries"])
        numbers[json.dumps(qparams, sort_keys=True)] = qi
        index.set_query_params(**qparams)
        pq = index.prepare_queries(queries)
        singles = index.split_queries(pq[: job["single_query_limit"]])
        record: dict = {"params": qparams, "depths": {}}
        for depth in depths:
            asked = min(depth + extra, n_base)
            eff = index.effective_query(asked)
            key = (depth, json.dumps(eff, sort_keys=True))
            rec = {"effective": eff, "asked": asked, "duplicate_of": seen.get(key)}
            record["depths"][str(depth)] = rec
            if rec["duplicate_of"] is not None:  # the library would run exactly the configuration measured already
                if depth == steer_k:
                    recalls[qi], paces[qi] = recalls.get(rec["duplicate_of"]), paces.get(rec["duplicate_of"])
                continue
            seen[key] = qi
            with measured_load(rec):
                raw = _measure_depth(index, cls, pq, singles, asked, repeats, min_s, threads_all,
                                     lambda mode: write_status(job_dir, f"query {qi} k={depth} {mode}"))
            save_npz(job_dir / npz_name(qi, depth), raw)
            if depth == steer_k:
                recalls[qi] = steering_recall(job, raw["ids_batch_1t"], depth, self_ids, queries, truth())
                paces[qi] = record_speeds(raw, len(queries))[plan.qps]
        if exclude is not None:
            fk = int(job["filtered_k"])
            eff = index.effective_query(fk)
            key = ("filtered", json.dumps(eff, sort_keys=True))
            rec = record["filtered"] = {"effective": eff, "asked": fk, "duplicate_of": seen.get(key)}
            if rec["duplicate_of"] is None:
                seen[key] = qi
                write_status(job_dir, f"query {qi} filtered")
                with measured_load(rec):
                    raw = filtered_passes(index, singles, exclude, fk, repeats, min_s)
                save_npz(job_dir / npz_name(qi, "filtered"), raw)
        meta["queries"].append(record)
        write_json(job_dir / "meta.json", meta)
        return recalls.get(qi)

    query_plan.run(job["queries"], measure, lambda qparams: paces.get(numbers.get(json.dumps(qparams, sort_keys=True))))
    meta["peak_rss_mb"] = peak_rss_mb()
    meta["run_load"] = load.between(run_start, load.sample())
    write_json(job_dir / "meta.json", meta)
    write_status(job_dir, "done")


def steering_recall(job: dict, ids, depth: int, self_ids, queries, gt) -> float:
    """recall@depth of 1-thread batch answers, computed as the result file will (k-NN recall on
    distances recomputed from the vectors, the query item dropped, against the exact distances
    ``gt``): what a bisection steers by. Only the returned items' vectors are read back (the
    base was let go after the build)."""
    import h5py
    import numpy as np

    from .scoring import clean_ids, drop_self, exact_distances, knn_recall

    with h5py.File(job["workload"], "r") as f:
        ids = clean_ids(drop_self(ids, None if self_ids is None else self_ids[: len(ids)], depth), f["train"].shape[0])
        used = np.unique(ids[ids >= 0])
        rows = f["train"][used] if len(used) else np.zeros((0, f["train"].shape[1]), np.float32)
    local = np.where(ids >= 0, np.searchsorted(used, ids), -1)
    dists = exact_distances(local, queries[: len(ids)], rows, job["metric"])
    return float(knn_recall(dists, gt[: len(ids)], depth, float(job.get("recall_epsilon", 1e-3))).mean())


def _serialized_size(index, job_dir: Path) -> int | None:
    """Bytes of the serialised index, if the library can write one (informative only)."""
    import shutil

    path = job_dir / "index.bin"
    try:
        if index.save(str(path)):
            files = [path] if path.is_file() else path.rglob("*")
            return sum(p.stat().st_size for p in files if p.is_file())
    except Exception as exc:  # never fail the run on it
        print(f"could not serialise the index: {exc}", file=sys.stderr)
    finally:
        shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
    return None


def clean_sys_path() -> None:
    """No working directory on ``sys.path`` (``-P`` leaves it out, but an empty or ``.`` entry
    in PYTHONPATH puts it back): a ``faiss.py`` lying there must never replace the library."""
    cwd = os.path.realpath(os.getcwd())
    sys.path[:] = [p for p in sys.path if p and os.path.realpath(p) != cwd]


if __name__ == "__main__":
    clean_sys_path()
    try:
        run(Path(sys.argv[1]))
    except OSError as exc:  # its own stderr file may not take the message either: the exit code says it
        if exc.errno not in NO_ROOM:
            raise
        with contextlib.suppress(OSError):
            print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(EXIT_NO_SPACE)
