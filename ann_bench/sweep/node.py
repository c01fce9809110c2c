"""What a worker does to its own process before it measures: run on its cores, die with its parent."""

from __future__ import annotations

import ctypes
import os
import signal
import sys

_PR_SET_PDEATHSIG = 1


def pin(cpus: list[int] | None) -> None:
    """Run this process (and the threads it starts from now on) on ``cpus`` only."""
    if cpus:
        os.sched_setaffinity(0, cpus)


def die_with_parent(parent: int | None) -> None:
    """Be killed when ``parent``, the process that started this one, ends (Linux): a sweep or a
    cluster worker that dies must not leave its build running on, taking cores from the next."""
    if not parent or not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # it ended before the request was in place
        os.kill(os.getpid(), signal.SIGKILL)
