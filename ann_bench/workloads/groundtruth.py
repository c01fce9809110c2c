"""Exact k-nearest-neighbour ground truth.

The search runs in tiles of queries x base (:mod:`ann_bench.exact_search` with BLAS on the CPU,
:mod:`ann_bench.torch_search` on a GPU), so memory stays bounded whatever the base size. A
float32 product rounds differently on every machine and library (the order of its sums), so
the answer is not taken from it: the search returns the best ``k + MARGIN`` candidates, every
candidate is scored again in float64 and the answer is the ``k`` best of those, by score then
by id. That answer is the same on any device, ties included, because it is certified: a
query's candidates must hold every item whose float32 score lies within twice the float32
rounding bound of its k-th (:func:`rounding_bound`), or it is searched again with more. The
same vectors therefore give the same ground truth on a laptop's BLAS and on a GPU.

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


MARGIN = 16  # candidates beyond k that the float32 search returns for the float64 re-scoring
U32 = 2.0**-24  # float32 unit roundoff
RESCORE_VALUES = 1 << 22  # candidate coordinates gathered as float64 at a time (32 MB)


def rounding_bound(queries: np.ndarray, base: np.ndarray, space: str) -> np.ndarray:
    """Per query, a bound on |float32 score - exact score| for every base row, whatever order
    the float32 sums ran in (the classic gamma_d bound |q|.|x|.d.u, doubled for safety, with
    Cauchy-Schwarz over the base's largest norm; ``l2`` adds |x|^2's own rounding)."""
    d = queries.shape[1]
    qn, m = row_norms(queries), float(row_norms(base).max(initial=0.0))
    if space == "ip":
        return 2 * (d + 1) * U32 * qn * m
    return 2 * (d + 2) * U32 * (2 * qn * m + m * m)


def _rescored(queries: np.ndarray, base: np.ndarray, cand: np.ndarray, space: str) -> np.ndarray:
    """float64 scores of the candidate ids ``cand`` (-1: none, scored -inf), one query row each.
    Each pair is summed the same way whatever else is in the block, so equal inputs give equal
    scores on any machine."""
    out = np.full(cand.shape, -np.inf)
    rows = max(1, RESCORE_VALUES // max(1, cand.shape[1] * queries.shape[1]))
    for start in range(0, len(cand), rows):
        c = cand[start : start + rows]
        x = base[np.maximum(c, 0)].astype(np.float64)  # (rows, candidates, d)
        q = queries[start : start + rows].astype(np.float64)[:, None, :]
        s = (x * q).sum(axis=2)
        if space == "l2":
            s = 2 * s - (x * x).sum(axis=2)
        out[start : start + rows] = np.where(c >= 0, s, -np.inf)
    return out


def certified_top_k(search, queries: np.ndarray, base: np.ndarray, k: int, space: str) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best base ids per query by float64 score, then by id, and those scores.

    ``search(rows, kk)``: float32 candidates of ``queries[rows]``, ``kk`` per row (ids, -1 where
    fewer exist, and their scores, best first). A row is settled when its candidates hold every
    item whose float32 score is within twice :func:`rounding_bound` of its k-th: the float64
    top ``k`` is then among them (an item of it scores at least the k-th float32 score less two
    bounds). Other rows are searched again with four times as many candidates."""
    nq, n = len(queries), len(base)
    bound = rounding_bound(queries, base, space)
    ids, scores = np.full((nq, k), -1, dtype=np.int64), np.full((nq, k), -np.inf)
    todo, kk = np.arange(nq), min(n, k + MARGIN)
    while len(todo):
        cand, s32 = search(todo, kk)
        settled = (kk >= n) | (cand[:, -1] < 0) | (s32[:, -1].astype(np.float64) < s32[:, k - 1] - 2 * bound[todo])
        done = todo[settled]
        if len(done):
            c = cand[settled]
            s64 = _rescored(queries[done], base, c, space)
            order = np.lexsort((np.where(c >= 0, c, n), -s64), axis=1)[:, :k]
            ids[done], scores[done] = np.take_along_axis(c, order, 1), np.take_along_axis(s64, order, 1)
        todo, kk = todo[~settled], min(n, 4 * kk)
    return ids, scores


def candidate_search(queries: np.ndarray, base: np.ndarray, space: str, *, exclude=None, device: str = "cpu",
                     threads: int = 1, query_block: int | None = None, tile: int | None = None, progress: str | None = None):
    """``search(rows, kk)`` for :func:`certified_top_k`: BLAS tiles on ``device`` 'cpu'; torch on
    any other device ('cuda', 'cuda:1'), or on the CPU as 'torch-cpu' (the GPU's code path)."""
    sub = (lambda rows: None) if exclude is None else (lambda rows: [exclude[r] for r in rows])
    first = [True]  # the progress bar is for the first pass over every query; repeats are few

    def shown() -> str | None:
        label, first[0] = (progress if first[0] else None), False
        return label

    if device == "cpu":
        return lambda rows, kk: exact_search.search(
            queries[rows], base, kk, space, exclude=sub(rows), threads=threads,
            query_block=query_block or exact_search.QUERY_BLOCK, tile=tile, progress=shown())
    from .. import torch_search

    on = torch_search.Base(base, space, torch_search.device(device.removeprefix("torch-")))
    return lambda rows, kk: on.search(queries[rows], kk, exclude=sub(rows), query_block=query_block, tile=tile,
                                      progress=shown())


def exact_knn(
    queries: np.ndarray,
    base: np.ndarray,
    k: int,
    metric: str,
    *,
    exclude=None,
    threads: int | None = None,
    query_block: int | None = None,
    tile: int | None = None,
    progress: bool = False,
    device: str = "cpu",
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-``k`` neighbours (int32 ids) and distances (float32) of each query, by float64
    distance, then by id: the same on every ``device`` (see the module docstring).

    ``exclude``: per query, the base ids that must not be returned: one id (its own id in
    an item-to-item workload; -1 for none) or an array of ids (the items a user has already
    seen, for filtered search). ``threads``: default, as many as BLAS is set to use.
    ``device``: 'cpu' (BLAS), 'cuda' or 'cuda:N' (torch on that GPU), 'torch-cpu'.
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
    space = "l2" if metric == "l2" else "ip"
    if k <= 0 or not len(queries):
        return np.zeros((len(queries), max(k, 0)), np.int32), np.zeros((len(queries), max(k, 0)), np.float32)
    search = candidate_search(queries, base, space, exclude=exclude, device=device, threads=threads or blas_thread_count(),
                              query_block=query_block, tile=tile, progress=f"ground truth ({metric})" if progress else None)
    ids, score = certified_top_k(search, queries, base, k, space)
    q_sq = row_norms(queries) ** 2 if metric == "l2" else None
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
