"""Exact top-k search in tiles: the basis of ground truth and of the brute-force baseline.

A block of queries is multiplied by one tile of the base at a time (one BLAS product that
fits in cache) and the scores are folded into a running top-k (:class:`~ann_bench.topk.RunningTopK`),
so no product is ever a skinny one that streams the whole base for a handful of queries, and
memory stays at one tile per thread whatever the base size. Query blocks run on Python threads,
each product at one BLAS thread (numpy releases the GIL in the product and the selection).

Scores are "larger is nearer": ``ip`` the inner product (normalise beforehand for cosine),
``l2`` ``2<q, x> - |x|^2`` (``|q|^2 - |q - x|^2`` without the per-query constant).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .threads import blas_threads
from .topk import RunningTopK

SPACES = ("ip", "l2")
QUERY_BLOCK = 512
TILE_BYTES = 8 << 20  # scores per (query block x base tile): 8 MB, 4096 items at 512 queries


def scores(queries: np.ndarray, base: np.ndarray, base_sq: np.ndarray | None, space: str) -> np.ndarray:
    """Scores of every query against every base row (larger is nearer); ``base_sq`` (l2 only)
    is each base row's squared norm."""
    if space == "ip":
        return queries @ base.T
    s = (2 * queries) @ base.T
    s -= base_sq[None, :]
    return s


def excluded_cells(exclude, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
    """(row within the block, base id) of every excluded pair of queries ``start:stop``;
    ``exclude[i]`` is one id (-1 for none) or an array of ids."""
    rows, cols = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for r in range(start, stop):
        ids = np.atleast_1d(np.asarray(exclude[r], dtype=np.int64))
        ids = ids[ids >= 0]
        rows.append(np.full(len(ids), r - start, dtype=np.int64))
        cols.append(ids)
    return np.concatenate(rows), np.concatenate(cols)


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass


def query_bar(total: int, label: str | None):
    """A progress bar over ``total`` queries; without a label one that does nothing and costs
    nothing (a filtered query is timed one at a time through these searches)."""
    if label is None:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=label, unit="query")


def search(
    queries: np.ndarray,
    base: np.ndarray,
    k: int,
    space: str,
    *,
    exclude=None,
    threads: int = 1,
    query_block: int = QUERY_BLOCK,
    tile: int | None = None,
    progress: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` base ids (int64) and scores (float32) per query, best first, ties by smaller
    id. Rows with fewer than ``k`` candidates (exclusions) end in -1 ids and -inf scores.
    ``progress``: a label for a progress bar over the queries."""
    if space not in SPACES:
        raise ValueError(f"space must be one of {SPACES}, not {space!r}")
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    base = np.ascontiguousarray(base, dtype=np.float32)
    nq, n = len(queries), len(base)
    k = min(k, n)
    base_sq = np.einsum("ij,ij->i", base, base) if space == "l2" else None
    query_block = max(1, min(query_block, -(-nq // max(1, threads))))
    tile = max(k, tile or TILE_BYTES // (4 * query_block))
    ids = np.empty((nq, k), dtype=np.int64)
    out = np.empty((nq, k), dtype=np.float32)
    bar = query_bar(nq, progress)
    lock = threading.Lock()

    def one_block(start: int) -> None:
        stop = min(start + query_block, nq)
        q = queries[start:stop]
        rows, cols = excluded_cells(exclude, start, stop) if exclude is not None else (None, None)
        top = RunningTopK(stop - start, k)
        for b in range(0, n, tile):
            e = min(b + tile, n)
            s = scores(q, base[b:e], None if base_sq is None else base_sq[b:e], space)
            if rows is not None and len(rows):
                inside = (cols >= b) & (cols < e)
                s[rows[inside], cols[inside] - b] = -np.inf
            top.offer(s, b)
        i, v = top.result()
        i[i == RunningTopK.SENTINEL] = -1
        ids[start:stop], out[start:stop] = i, v
        with lock:
            bar.update(stop - start)

    starts = range(0, nq, query_block)
    with blas_threads(1):
        if threads > 1 and len(starts) > 1:
            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(one_block, starts))
        else:
            for start in starts:
                one_block(start)
    bar.close()
    return ids, out
