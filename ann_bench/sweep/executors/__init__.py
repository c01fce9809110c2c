"""Where a sweep's runs are measured: this machine one at a time or several pinned side by side
(:mod:`.local`), or the nodes of a Ray cluster (:mod:`.ray_cluster`).

An executor takes :class:`Task` objects and hands back :class:`Done` ones; the runner decides
what runs and alone writes result files, so files and their contents (timings aside) do not
depend on the executor, and resume works across executors. Every executor measures a run the
same way: the isolated worker process under :func:`ann_bench.sweep.supervise.supervise`.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ...h5util import job_dir_prefix


@dataclass(frozen=True)
class Task:
    key: int  # the run's place in the sweep's plan
    job: dict  # the worker's job.json; the executor adds where it runs ("cpus", "node", "parent_pid")
    settings: dict  # timeouts and the memory limit
    workload_hash: str  # content hash of job["workload"], the driver's copy
    versions: dict  # the libraries' versions in the run's definition: a node must have the same


@dataclass(frozen=True)
class Done:
    key: int
    job_dir: Path  # on the driver: the worker's meta.json, raw measurements and stderr.txt
    code: int | None  # the worker's exit status (None: it never started)
    reason: str | None  # why it failed, or None
    started: float  # time.time() when it was handed to the executor


class Executor(Protocol):
    threads_all: int  # threads of the all-cores batch mode (and default build threads) per run

    def free(self) -> int:
        """How many more tasks it would start now."""

    def busy(self) -> bool:
        """Whether tasks are still running."""

    def submit(self, task: Task) -> None: ...

    def wait(self, timeout: float) -> list[Done]:
        """The tasks that ended, waiting up to ``timeout`` seconds for one."""

    def close(self) -> None:
        """Stop what still runs (an interrupted sweep) and let go of the resources."""


def new_job_dir(job: dict) -> Path:
    """A fresh job folder holding ``job.json``."""
    job_dir = Path(tempfile.mkdtemp(prefix=job_dir_prefix()))
    (job_dir / "job.json").write_text(json.dumps(job))
    return job_dir


def run_task(task: Task, extra: dict, stop=None) -> tuple[Path, int | None, str | None]:
    """Measure ``task`` here with ``extra`` added to its job: (job folder, exit code, reason)."""
    from ..supervise import supervise

    job_dir = new_job_dir(task.job | extra | {"parent_pid": os.getpid()})
    code, reason = supervise(job_dir, task.settings, stop=stop)
    return job_dir, code, reason
