"""Recall that duplicate or padded ids cannot inflate, on distances recomputed exactly.

A returned id counts for recall@K when its true distance to the query is within the K-th
true neighbour's distance, widened by epsilon (``d_K + eps * |d_K|``: ``(1+eps) d_K`` for the
non-negative cosine and l2 distances, and the same slack for inner-product distances, which
are negative), as ann-benchmarks counts it. Distances come from the vectors, never from the
library; an id returned twice counts once; -1 and out-of-range ids count as misses.
"""

from __future__ import annotations

import numpy as np

from ..workloads.groundtruth import normalize

KS = (1, 10, 100)


def clean_ids(ids: np.ndarray, n_base: int) -> np.ndarray:
    """-1 for padding, out-of-range ids and repeats of an id earlier in the same row."""
    ids = np.asarray(ids, dtype=np.int64).copy()
    ids[(ids < 0) | (ids >= n_base)] = -1
    order = np.argsort(ids, axis=1, kind="stable")
    sorted_ids = np.take_along_axis(ids, order, 1)
    dup_sorted = np.zeros_like(sorted_ids, dtype=bool)
    dup_sorted[:, 1:] = (sorted_ids[:, 1:] == sorted_ids[:, :-1]) & (sorted_ids[:, 1:] >= 0)
    dup = np.zeros_like(dup_sorted)
    np.put_along_axis(dup, order, dup_sorted, 1)
    ids[dup] = -1
    return ids


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


def knn_recall(run_dist: np.ndarray, gt_dist: np.ndarray, k: int, epsilon: float = 1e-3) -> np.ndarray:
    """Per-query recall@k of returned distances against the true k-th distance."""
    kth = gt_dist[:, k - 1].astype(np.float64)
    threshold = kth + epsilon * np.abs(kth)
    return (run_dist[:, :k] <= threshold[:, None]).sum(axis=1) / k


def filtered_topk(ids: np.ndarray, seen, k: int) -> list[np.ndarray]:
    """Each row's ids with the user's already-seen items (and -1) removed, first k kept."""
    out = []
    for i, row in enumerate(ids):
        row = row[row >= 0]
        out.append(row[~np.isin(row, seen[i])][:k])
    return out


def recommendation_recall(ids: np.ndarray, seen, relevant, k: int) -> float:
    """Mean of hits in the filtered top k / min(k, #relevant) over queries with relevant items."""
    vals = []
    for row, rel_i in zip(filtered_topk(ids, seen, k), (relevant[i] for i in range(len(relevant)))):
        if len(rel_i):
            vals.append(np.isin(row, rel_i).sum() / min(k, len(rel_i)))
    return float(np.mean(vals)) if vals else float("nan")
