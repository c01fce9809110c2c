"""One index through a catalog's life, in a fresh process: ``python -m ann_bench.stream.replay JOB``.

The index is built on the items live at the replay's start, then every batch of the replay
(:mod:`~ann_bench.stream.schedule`) reaches it the way its library allows (the adapter's
``updates``):

* **in place**: arrivals added, retirements removed, by the library;
* **add only**: arrivals added; retired ids accumulate in a list the library filters out of
  every answer (its native filter);
* **rebuild**: the index is built again on the live items every ``rebuild_every`` batches;
  meanwhile arrivals wait (they cannot be found) and retired ids are filtered out of answers.

After each batch the first ``queries`` queries run one at a time (each timed, its answer kept),
scored against the exact answers over the live catalog (``truth.h5``, computed once by the
parent for every library): recall@k (a retired item returned is a miss), the share of
returned items that are retired, and the share of brand-new items (arrived within
``new_within`` batches) in the answers against their share in the exact answers. Every
``fresh_every`` batches and after the last, a fresh index with the same parameters is built
on the live items: its recall is what the updated index is compared with, its build time the
cost of a rebuild.

Each step is one JSON line appended to ``steps.jsonl`` and synced, so a kill loses at most the
step under way; ``status.json`` announces each phase for the parent's timeouts.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from ..sweep.adapters.base import IN_PLACE, REBUILD
from ..sweep.worker import clean_sys_path, peak_rss_mb, prepare_library, rss_mb, write_json, write_status
from .truth import live_recall  # imported here, with what it imports, not inside the measured memory

STEPS = "steps.jsonl"


def _trim() -> None:
    """Hand freed memory back to the system (glibc keeps it otherwise), so RSS follows the index."""
    gc.collect()
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6").malloc_trim(0)


class Served:
    """The index as served: the adapter, which base row each of its ids holds, the ids it must
    not return (retired, for libraries that cannot remove) and the arrivals it has not got yet."""

    def __init__(self, cls, job: dict, base: np.ndarray, rows: np.ndarray):
        self.cls, self.job, self.base = cls, job, base
        self.index, self.build_s = self._built(rows)
        self.id_of_row = np.full(len(base), -1, np.int64)
        self._holds(rows)

    @property
    def updates(self) -> str:
        return self.index.updates  # an instance may differ from its class (IVF-PQ with refine adds only)

    def _built(self, rows: np.ndarray):
        job = self.job
        start = time.perf_counter()
        index = self.cls(job["metric"], self.base.shape[1], threads=job["build_threads"], **job["build"])
        index.fit(self.base[rows])
        index.set_query_params(**job["query"])
        return index, time.perf_counter() - start

    def rebuild(self, live: np.ndarray) -> float:
        """A new index on ``live`` swapped in (built beside the old one, as a service would)."""
        new, seconds = self._built(live)
        self.index = new
        self._holds(live)
        _trim()
        return seconds

    def _holds(self, rows: np.ndarray) -> None:
        """A newly built index holds ``rows``, as ids 0, 1, ...: nothing filtered, nothing waiting."""
        self.row_of_id = np.array(rows, np.int64)
        self.id_of_row[:] = -1
        self.id_of_row[rows] = np.arange(len(rows))
        self.dead = np.zeros(0, np.int64)  # sorted ids filtered out of answers
        self.pending = np.zeros(0, np.int64)  # rows arrived but not in the index (rebuild strategy)

    def add(self, rows: np.ndarray) -> float:
        start = time.perf_counter()
        if self.updates == REBUILD:
            self.pending = np.concatenate([self.pending, rows])
        elif len(rows):
            self.index.add(self.base[rows])
            self.id_of_row[rows] = np.arange(len(self.row_of_id), len(self.row_of_id) + len(rows))
            self.row_of_id = np.concatenate([self.row_of_id, rows])
        return time.perf_counter() - start

    def remove(self, rows: np.ndarray) -> float:
        start = time.perf_counter()
        waiting = np.isin(rows, self.pending)  # arrived and retired before a rebuild took them in
        if waiting.any():
            self.pending = self.pending[~np.isin(self.pending, rows)]
        ids = self.id_of_row[rows[~waiting]]
        if self.updates == IN_PLACE:
            self.index.remove(ids)
        else:
            self.dead = np.union1d(self.dead, ids)
        self.id_of_row[rows[~waiting]] = -1
        return time.perf_counter() - start

    def query(self, singles: list, k: int) -> tuple[list, np.ndarray]:
        """Each query's answer (as base rows) and its latency in seconds, one query at a time;
        retired ids are filtered by the library where it cannot remove them."""
        lat, found = np.empty(len(singles)), []
        clock, index, dead = time.perf_counter, self.index, self.dead
        for i, v in enumerate(singles):
            t0 = clock()
            ids = index.search_one_filtered(v, k, dead) if len(dead) else index.search_one(v, k)
            lat[i] = clock() - t0
            found.append(ids)
        return [self.row_of_id[np.asarray(ids, np.int64)[np.asarray(ids) >= 0]] for ids in found], lat


def _shares(found: list, truth: np.ndarray, live: np.ndarray, new: np.ndarray, k: int) -> dict:
    """Recall@k against the exact live answers, and who fills the answers: retired items (errors)
    and brand-new items, in the index's answers and in the exact ones."""
    got = [np.asarray(f[:k], np.int64) for f in found]
    slots = max(len(found) * k, 1)
    want = truth[truth >= 0]
    return {"recall": live_recall(got, truth),
            "retired_share": sum(int((~live[g]).sum()) for g in got) / slots,
            "new_share": sum(int(new[g].sum()) for g in got) / slots,
            "new_share_exact": int(new[want].sum()) / slots}


def run(job_dir: Path) -> None:
    job = json.loads((job_dir / "job.json").read_text())
    from ..sweep import node

    node.die_with_parent(job.get("parent_pid"))
    from ..threads import set_threads

    set_threads(1)  # queries run on one thread; builds and inserts use the adapter's own threads
    import h5py

    from ..sweep import machine, registry
    from .schedule import plan

    cls = registry.get(job["adapter"])
    write_status(job_dir, "build: import and warm-up")
    with h5py.File(job["workload"], "r") as f:
        base, queries = f["train"][()], f["test"][: job["queries"]]
        first, last = f["item_first_rated"][()], f["item_last_rated"][()]
    with h5py.File(job["truth"], "r") as f:
        truth = f["neighbors"][()]  # (steps, queries, k): rows of the base, -1 padded
    meta = prepare_library(cls, job["metric"], base.shape[1])
    meta["machine"] = machine.describe()
    rp = plan(first, last, batches=job["batches"], retire_after_days=job["retire_after_days"], start_share=job["start_share"])
    k, new_within = int(job["k"]), int(job["new_within"])

    write_status(job_dir, "build")
    rss_before = rss_mb()
    served = Served(cls, job, base, rp.initial)
    meta |= {"updates": served.updates, "build_s": served.build_s, "rss_before_build_mb": rss_before,
             "index_mb": rss_mb() - rss_before, "n_initial": len(rp.initial), "batches": len(rp.ends),
             "start": rp.start, "period_s": rp.period_s}
    write_json(job_dir / "meta.json", meta)
    singles = served.index.split_queries(served.index.prepare_queries(queries))
    live = np.zeros(len(base), bool)
    live[rp.initial] = True
    n_batches = len(rp.ends)

    def step(b: int, end: int, added: int, removed: int, times: dict) -> dict:
        write_status(job_dir, f"batch {b}: queries" if b >= 0 else "queries at the start")
        found, lat = served.query(singles, k)
        new = (rp.arrive > b - new_within) & (rp.arrive <= b) & (rp.arrive >= 0)
        rec = {"step": b + 1, "end": end, "n_live": int(live.sum()), "added": added, "removed": removed,
               "pending": len(served.pending), "filtered": len(served.dead), **times,
               **_shares(found, truth[b + 1], live, new, k),
               "qps": len(lat) / lat.sum(), "p50_ms": float(np.percentile(lat, 50) * 1e3),
               "p99_ms": float(np.percentile(lat, 99) * 1e3), "index_mb": rss_mb() - rss_before,
               "fresh_recall": None, "fresh_build_s": None}
        if times.get("rebuild_s") is not None:  # the index is itself a fresh build on the live items
            rec["fresh_recall"], rec["fresh_build_s"] = rec["recall"], times["rebuild_s"]
        elif b + 1 == n_batches or (b >= 0 and (b + 1) % job["fresh_every"] == 0):
            write_status(job_dir, f"build: fresh index after batch {b}")
            fresh = Served(cls, job, base, np.flatnonzero(live))
            found, _ = fresh.query(singles, k)
            rec["fresh_recall"], rec["fresh_build_s"] = live_recall(found, truth[b + 1]), fresh.build_s
            del fresh, found
            _trim()
        return rec

    steps = open(job_dir / STEPS, "w")  # a job directory is fresh per replay

    def emit(rec: dict) -> None:  # one synced line per step: a kill loses at most the step under way
        steps.write(json.dumps(rec) + "\n")
        steps.flush()
        os.fsync(steps.fileno())

    emit(step(-1, rp.start, 0, 0, {"add_s": 0.0, "remove_s": 0.0, "rebuild_s": None}))
    for b, batch in enumerate(rp.batches()):
        write_status(job_dir, f"batch {b}: update")
        times = {"add_s": served.add(batch.add)}
        live[batch.add] = True
        times["remove_s"] = served.remove(batch.remove)
        live[batch.remove] = False
        times["rebuild_s"] = None
        if served.updates == REBUILD and (b + 1) % job["rebuild_every"] == 0:
            write_status(job_dir, f"build: rebuild after batch {b}")
            times["rebuild_s"] = served.rebuild(np.flatnonzero(live))
        emit(step(b, int(batch.end), len(batch.add), len(batch.remove), times))
    steps.close()
    meta["peak_rss_mb"] = peak_rss_mb()
    write_json(job_dir / "meta.json", meta)
    write_status(job_dir, "done")


def read_steps(job_dir: Path) -> list[dict]:
    """The steps a replay finished; a last line cut short by a kill is left out."""
    path = Path(job_dir) / STEPS
    out = []
    if path.is_file():
        for line in path.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                break
    return out


if __name__ == "__main__":
    clean_sys_path()
    run(Path(sys.argv[1]))
