"""Exact search timed where a run is measured: the yardstick that makes nodes comparable.

QPS measured on two machines cannot be compared directly. Every run therefore also times a
plain exact search (one BLAS thread, one query at a time: a matrix-vector product and a
partial sort) over the same workload, in the same worker, pinned to the same cores, so that
``speedup_single = qps_single / exact_qps`` means the same on any node.
"""

from __future__ import annotations

import time

import numpy as np

from ..threads import blas_threads

METHOD = "numpy float32 matrix-vector product + argpartition, 1 BLAS thread, one query at a time"


def exact_qps(base: np.ndarray, queries: np.ndarray, metric: str, *, k: int = 10,
              seconds: float = 0.5, max_queries: int = 200, min_queries: int = 3) -> dict:
    """Queries per second of exact top-``k`` search by ``metric``, timed for about ``seconds``
    (at least ``min_queries``, at most ``max_queries`` queries)."""
    k = max(1, min(k, len(base) - 1))
    with blas_threads(1):
        sq = np.einsum("ij,ij->i", base, base) if metric == "l2" else None  # outside the clock, as an index would
        done, start = 0, time.perf_counter()
        for q in queries[:max_queries]:
            scores = base @ q
            if sq is not None:
                scores = 2 * scores - sq  # -(|b|^2 - 2 b.q): larger is nearer, |q|^2 is common to all
            top = np.argpartition(-scores, k)[:k]
            top[np.argsort(-scores[top])]
            done += 1
            if done >= min_queries and time.perf_counter() - start >= seconds:
                break
        elapsed = time.perf_counter() - start
    return {"exact_qps": done / elapsed if elapsed > 0 else float("nan"), "queries": done, "method": METHOD}
