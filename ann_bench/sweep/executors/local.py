"""This machine: one run at a time on all cores, or ``jobs`` runs side by side, each pinned to
its own disjoint set of cores (the worker and every thread its library starts)."""

from __future__ import annotations

import os
import shutil
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from ...errors import ConfigError
from . import Done, Task, run_task


def core_sets(cores: list[int], jobs: int) -> list[list[int]]:
    """``jobs`` disjoint, equal sets of ``cores`` (cores left over stay idle)."""
    if not 1 <= jobs <= len(cores):
        raise ConfigError(f"--jobs {jobs}: this machine lets the sweep use {len(cores)} cores; "
                          f"run 1 to {len(cores)} jobs at once (each gets its own cores).")
    per = len(cores) // jobs
    return [cores[i * per : (i + 1) * per] for i in range(jobs)]


class LocalExecutor:
    """``jobs`` = 1: the worker may use every core (``threads``, default all of them, in its
    all-cores batch mode). ``jobs`` > 1: each run pinned to ``len(cores) // jobs`` cores, which
    are then its thread count too."""

    def __init__(self, jobs: int = 1, threads: int | None = None):
        cores = sorted(os.sched_getaffinity(0))
        if jobs == 1:
            self._free: list[list[int] | None] = [None]
            self.threads_all = threads or len(cores)
        else:
            self._free = core_sets(cores, jobs)
            self.threads_all = len(self._free[0])
            if threads and threads != self.threads_all:
                raise ConfigError(f"--threads {threads} with --jobs {jobs}: each job has {self.threads_all} "
                                  "cores of its own; leave --threads out.")
        self._pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="ann-bench-run")
        self._running: dict[Future, tuple[Task, list[int] | None, float]] = {}
        self._stop = threading.Event()

    def free(self) -> int:
        return len(self._free)

    def busy(self) -> bool:
        return bool(self._running)

    def submit(self, task: Task) -> None:
        cpus = self._free.pop()
        extra = {"cpus": cpus} if cpus else {}
        self._running[self._pool.submit(run_task, task, extra, self._stop)] = (task, cpus, time.time())

    def wait(self, timeout: float) -> list[Done]:
        finished, _ = wait(self._running, timeout=timeout, return_when=FIRST_COMPLETED)
        out = []
        for fut in finished:
            task, cpus, started = self._running.pop(fut)
            self._free.append(cpus)
            job_dir, code, reason = fut.result()  # an error of the sweep itself (a full disk) ends the sweep
            out.append(Done(task.key, job_dir, code, reason, started))
        return out

    def close(self) -> None:
        self._stop.set()
        self._pool.shutdown(wait=True, cancel_futures=True)
        for fut in self._running:  # stopped half-way: nothing of theirs is recorded
            if fut.done() and not fut.cancelled() and fut.exception() is None:
                shutil.rmtree(fut.result()[0], ignore_errors=True)
