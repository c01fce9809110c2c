"""Top-k selection with a deterministic order, shared by evaluation and ground truth."""

from __future__ import annotations

import numpy as np


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Ids of the ``k`` largest scores per row: score descending, then id ascending (exact ties)."""
    n = scores.shape[1]
    k = min(k, n)
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    vals = np.take_along_axis(scores, part, 1)
    kth = vals.min(axis=1)
    # rows where the k-th score is tied with a score left outside the selection: pick the
    # tied ids by smallest id, exactly as a full stable sort would
    n_ties_all = (scores == kth[:, None]).sum(axis=1)
    n_ties_sel = (vals == kth[:, None]).sum(axis=1)
    for r in np.flatnonzero(n_ties_all != n_ties_sel):
        above = np.flatnonzero(scores[r] > kth[r])
        tied = np.flatnonzero(scores[r] == kth[r])[: k - len(above)]
        part[r] = np.concatenate([above, tied])
        vals[r] = scores[r, part[r]]
    order = np.lexsort((part, -vals), axis=1)
    return np.take_along_axis(part, order, 1)
