"""Scoring of returned answers: recall that duplicates or padding cannot inflate, on
distances recomputed exactly from the vectors, and the end-to-end recommendation recall.

Two recall definitions, both named in the results:

- ``knn`` (ann-benchmarks' k-NN recall, the one the tables use): a returned id counts for
  recall@K when its true distance is at most the K-th true distance plus an *absolute*
  epsilon (``d_K + eps``, ann-benchmarks' ``knn_threshold`` with eps = 1e-3).
- ``relative``: the K-th true distance widened by ``eps * |d_K|`` (``(1+eps) d_K`` for the
  non-negative cosine and l2 distances, the same slack for negative inner-product distances).

Distances come from the vectors, never from the library; an id returned twice counts once;
-1 and out-of-range ids count as misses. A query's own id (an item-to-item query is an item
of the base) is removed from its answer before scoring: the index is asked for one more.
"""

from __future__ import annotations

import numpy as np

from ..workloads.groundtruth import exact_distances  # noqa: F401  (part of the scoring API)

KS = (1, 10, 100)
RECALL_DEFINITIONS = ("knn", "relative")
MODE_TOLERANCE = 0.01  # modes whose recall differs by more than this are flagged


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


def drop_self(ids: np.ndarray, self_ids: np.ndarray | None, k: int) -> np.ndarray:
    """Each row without the query's own id (``self_ids[i]``; -1: none), first ``k`` kept.

    The index was asked for k + 1 answers, so a row that returned the query item still
    has k others; a row that did not simply loses its last one.
    """
    ids = np.asarray(ids, dtype=np.int64)
    if self_ids is None:
        return ids[:, :k]
    out = np.full((len(ids), k), -1, dtype=np.int64)
    for i, row in enumerate(ids):
        row = row[row != self_ids[i]][:k]
        out[i, : len(row)] = row
    return out


def knn_recall(run_dist: np.ndarray, gt_dist: np.ndarray, k: int, epsilon: float = 1e-3, *,
               definition: str = "knn") -> np.ndarray:
    """Per-query recall@k of returned distances against the true k-th distance."""
    kth = gt_dist[:, k - 1].astype(np.float64)
    if definition == "knn":
        threshold = kth + epsilon
    elif definition == "relative":
        threshold = kth + epsilon * np.abs(kth)
    else:
        raise ValueError(f"unknown recall definition {definition!r} (expected {', '.join(RECALL_DEFINITIONS)})")
    return (run_dist[:, :k] <= threshold[:, None]).sum(axis=1) / k


def origin_recall(ids: np.ndarray, gt_ids: np.ndarray, n_real: int, k: int) -> dict:
    """Recall@k by where the true neighbours come from, in a catalog grown with synthetic items
    (rows below ``n_real`` are real): of all queries' true top-k neighbours that are real items,
    the share returned, and the same for synthetic ones; with the real share of the true top k.
    Returned ids are cleaned (no repeats, no padding)."""
    true = np.asarray(gt_ids[: len(ids), :k], dtype=np.int64)
    found = np.array([np.isin(t, r) for t, r in zip(true, ids[:, :k])]).reshape(true.shape)
    real = true < n_real
    share = lambda mask: float(found[mask].mean()) if mask.any() else float("nan")  # noqa: E731
    return {f"recall@{k}_real_items": share(real), f"recall@{k}_synthetic_items": share(~real),
            f"real_share@{k}": float(real.mean())}


def filtered_topk(ids: np.ndarray, seen, k: int) -> list[np.ndarray]:
    """Each row's ids with the user's already-seen items (and -1) removed, first k kept."""
    out = []
    for i, row in enumerate(ids):
        row = row[row >= 0]
        out.append(row[~np.isin(row, seen[i])][:k])
    return out


def recommendation_recall(ids: np.ndarray, seen, relevant, k: int) -> float:
    """Mean of hits in the filtered top k / min(k, #relevant) over queries with relevant items.

    ``ids`` must hold at least k unseen items per row for the figure to be the model's own
    metric: the filtered search (seen items excluded while searching, or asked for k plus
    the number of seen items) provides them.
    """
    vals = []
    for row, rel_i in zip(filtered_topk(ids, seen, k), (relevant[i] for i in range(len(relevant)))):
        if len(rel_i):
            vals.append(np.isin(row, rel_i).sum() / min(k, len(rel_i)))
    return float(np.mean(vals)) if vals else float("nan")
