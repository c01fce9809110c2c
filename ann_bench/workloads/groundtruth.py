"""Exact k-nearest-neighbour ground truth, blocked so memory stays bounded.

Queries are processed in blocks (the full queries x base matrix is never materialised),
each block as one BLAS matrix product. Results are ordered by distance, then by id, so the
same data always gives the same answer, ties included.

Distances (smaller is nearer): ``ip`` -> negative inner product (un-normalised vectors are
fine); ``cosine`` -> 1 - cosine similarity; ``l2`` -> Euclidean distance.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from ..topk import top_k

METRICS = ("ip", "cosine", "l2")


def check_metric(metric: str) -> str:
    if metric not in METRICS:
        raise ConfigError(f"unknown metric '{metric}'; expected one of {', '.join(METRICS)}.")
    return metric


def normalize(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms == 0, 1, norms)


def similarity_block(queries: np.ndarray, base: np.ndarray, base_sq: np.ndarray | None, metric: str) -> np.ndarray:
    """Scores where larger is nearer: ip, cosine (inputs pre-normalised) or, for l2,
    2<q, x> - |x|^2 (= |q|^2 - |q - x|^2: the per-query constant is left out of the ranking)."""
    if metric != "l2":
        return queries @ base.T
    s = (2 * queries) @ base.T
    s -= base_sq[None, :]
    return s


def to_distance(score: np.ndarray, metric: str, query_sq: np.ndarray | None = None) -> np.ndarray:
    if metric == "ip":
        return -score
    if metric == "cosine":
        return 1.0 - score
    return np.sqrt(np.maximum(query_sq[:, None] - score, 0))


def _excluded_cells(exclude, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
    """(row within the block, base id) of every excluded pair of queries ``start:stop``."""
    rows, cols = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for r in range(start, stop):
        ids = np.atleast_1d(np.asarray(exclude[r], dtype=np.int64))
        ids = ids[ids >= 0]
        rows.append(np.full(len(ids), r - start, dtype=np.int64))
        cols.append(ids)
    return np.concatenate(rows), np.concatenate(cols)


def exact_knn(
    queries: np.ndarray,
    base: np.ndarray,
    k: int,
    metric: str,
    *,
    exclude=None,
    block: int | None = None,
    progress: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-``k`` neighbours (int32 ids) and distances (float32) of each query.

    ``exclude``: per query, the base ids that must not be returned: one id (its own id in
    an item-to-item workload; -1 for none) or an array of ids (the items a user has already
    seen, for filtered search).
    """
    check_metric(metric)
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    base = np.ascontiguousarray(base, dtype=np.float32)
    if queries.ndim != 2 or base.ndim != 2 or queries.shape[1] != base.shape[1]:
        raise ConfigError(f"queries {queries.shape} and base {base.shape} must be 2-D with the same dimension.")
    if metric == "cosine":
        queries, base = normalize(queries), normalize(base)
    base_sq = np.einsum("ij,ij->i", base, base) if metric == "l2" else None
    # about 64 MB of float32 scores per block (plus twice that for the selection's indices)
    block = block or max(1, min(len(queries), (16 << 20) // max(1, len(base))))
    most = max((np.size(exclude[i]) for i in range(len(queries))), default=0) if exclude is not None else 0
    k = min(k, len(base) - most)  # an excluded id is never an answer
    ids = np.empty((len(queries), k), dtype=np.int32)
    dists = np.empty(ids.shape, dtype=np.float32)
    from tqdm.auto import tqdm

    for start in tqdm(range(0, len(queries), block), desc=f"ground truth ({metric})", disable=not progress):
        stop = min(start + block, len(queries))
        scores = similarity_block(queries[start:stop], base, base_sq, metric)
        if exclude is not None:
            rows, cols = _excluded_cells(exclude, start, stop)
            scores[rows, cols] = -np.inf
        top = top_k(scores, k)
        ids[start:stop] = top
        q_sq = np.einsum("ij,ij->i", queries[start:stop], queries[start:stop]) if metric == "l2" else None
        dists[start:stop] = to_distance(np.take_along_axis(scores, top, 1), metric, q_sq)
    return ids, dists


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
