"""Exact k-nearest-neighbour ground truth.

The search runs in tiles of queries x base (:mod:`ann_bench.exact_search`), so memory stays
bounded and each BLAS product fits in cache whatever the base size. Results are ordered by
distance, then by id, so the same data always gives the same answer, ties included.

Distances (smaller is nearer): ``ip`` -> negative inner product (un-normalised vectors are
fine); ``cosine`` -> 1 - cosine similarity; ``l2`` -> Euclidean distance.
"""

from __future__ import annotations

import numpy as np

from .. import exact_search
from ..errors import ConfigError
from ..threads import blas_thread_count

METRICS = ("ip", "cosine", "l2")


def check_metric(metric: str) -> str:
    if metric not in METRICS:
        raise ConfigError(f"unknown metric '{metric}'; expected one of {', '.join(METRICS)}.")
    return metric


CHUNK_ROWS = 1 << 18  # rows per step of the row-wise helpers: bounded temporaries at 10M items


def row_norms(x: np.ndarray) -> np.ndarray:
    """Euclidean norm of each row, in float64, without a full-size temporary."""
    out = np.empty(len(x))
    for start in range(0, len(x), CHUNK_ROWS):
        c = np.asarray(x[start : start + CHUNK_ROWS], dtype=np.float64)
        out[start : start + len(c)] = np.sqrt(np.einsum("ij,ij->i", c, c))
    return out


def normalize(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit norm (zero rows left as they are), in at least float32; one output
    array and chunk-sized temporaries."""
    x = np.asarray(x)
    out = np.empty(x.shape, dtype=np.result_type(x.dtype, np.float32))
    for start in range(0, len(x), CHUNK_ROWS):
        c = x[start : start + CHUNK_ROWS]
        norms = row_norms(c)[:, None]
        out[start : start + len(c)] = c / np.where(norms == 0, 1, norms)
    return out


def to_distance(score: np.ndarray, metric: str, query_sq: np.ndarray | None = None) -> np.ndarray:
    """Distances (smaller is nearer) from :mod:`~ann_bench.exact_search` scores."""
    if metric == "ip":
        return -score
    if metric == "cosine":
        return 1.0 - score
    return np.sqrt(np.maximum(query_sq[:, None] - score, 0))


def exact_knn(
    queries: np.ndarray,
    base: np.ndarray,
    k: int,
    metric: str,
    *,
    exclude=None,
    threads: int | None = None,
    query_block: int = exact_search.QUERY_BLOCK,
    tile: int | None = None,
    progress: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-``k`` neighbours (int32 ids) and distances (float32) of each query.

    ``exclude``: per query, the base ids that must not be returned: one id (its own id in
    an item-to-item workload; -1 for none) or an array of ids (the items a user has already
    seen, for filtered search). ``threads``: default, as many as BLAS is set to use.
    """
    check_metric(metric)
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    base = np.ascontiguousarray(base, dtype=np.float32)
    if queries.ndim != 2 or base.ndim != 2 or queries.shape[1] != base.shape[1]:
        raise ConfigError(f"queries {queries.shape} and base {base.shape} must be 2-D with the same dimension.")
    if metric == "cosine":
        queries, base = normalize(queries), normalize(base)
    most = max((np.size(exclude[i]) for i in range(len(queries))), default=0) if exclude is not None else 0
    k = min(k, len(base) - most)  # an excluded id is never an answer
    ids, score = exact_search.search(
        queries, base, k, "l2" if metric == "l2" else "ip",
        exclude=exclude, threads=threads or blas_thread_count(), query_block=query_block, tile=tile,
        progress=f"ground truth ({metric})" if progress else None,
    )  # fmt: skip
    q_sq = np.einsum("ij,ij->i", queries, queries) if metric == "l2" else None
    return ids.astype(np.int32), to_distance(score, metric, q_sq).astype(np.float32)


def exact_distances(ids: np.ndarray, queries: np.ndarray, base: np.ndarray, metric: str) -> np.ndarray:
    """Distances of returned ids (after :func:`clean_ids`); +inf where the id is -1."""
    q = queries.astype(np.float64)
    x = base
    if metric == "cosine":
        q = normalize(q)
    out = np.full(ids.shape, np.inf)
    for i in range(len(ids)):
        valid = ids[i] >= 0
        v = x[ids[i][valid]].astype(np.float64)
        if metric == "ip":
            d = -(v @ q[i])
        elif metric == "cosine":
            d = 1.0 - normalize(v) @ q[i]
        else:
            d = np.sqrt(((v - q[i]) ** 2).sum(axis=1))
        out[i, valid] = d
    return out
