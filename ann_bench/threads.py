"""Pin every library's thread pool explicitly.

Several libraries (BLAS, torch, faiss) default to all cores, which silently turns a
"single-thread" measurement into a multi-thread one. Call :func:`set_threads` before any
timed work; the sweep records the counts it used with every result.
"""

from __future__ import annotations

import functools
import os
import sys

_ENV_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - non-Linux
        return os.cpu_count() or 1


@functools.cache
def _blas_controller():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController().select(user_api="blas")


def blas_threads(n: int):
    """Context manager: every loaded BLAS at ``n`` threads, restored on exit. The libraries are
    found once (at the first call) and the switch then costs about 20 us, cheap enough inside
    a timed batch call (a fresh ``threadpool_limits`` rescans them: about 0.5 ms)."""
    return _blas_controller().limit(limits=n)


def blas_thread_count() -> int:
    """Threads the loaded BLAS is set to use now (1 if none is loaded)."""
    counts = [lib["num_threads"] for lib in _blas_controller().info()]
    return max(counts, default=1)


def set_env_threads(n: int) -> None:
    """Set the thread env vars; effective only before the libraries are imported (subprocesses)."""
    for var in _ENV_VARS:
        os.environ[var] = str(n)


def set_threads(n: int) -> dict[str, int]:
    """Limit BLAS/OpenMP, faiss and (once imported: it is slow to import) torch to ``n`` threads."""
    set_env_threads(n)
    applied: dict[str, int] = {}
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=n)
    applied["blas_openmp"] = n
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        torch.set_num_threads(n)
        applied["torch"] = torch.get_num_threads()
    try:
        import faiss

        faiss.omp_set_num_threads(n)
        applied["faiss"] = faiss.omp_get_max_threads()
    except ImportError:
        pass
    return applied
