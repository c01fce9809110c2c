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


class RunningTopK:
    """The ``k`` largest scores per row over column tiles offered left to right, in the order of
    :func:`top_k` (score descending, then column ascending), without holding more than a tile.

    The first tile is reduced densely; after it each row keeps a threshold (its k-th score at the
    last merge, a lower bound of the current one), and a later tile contributes only the cells
    above it, collected and merged once they outnumber the kept entries. A cell equal to the
    threshold can never enter: every kept column is smaller, so it would lose the tie."""

    SENTINEL = np.iinfo(np.int64).max

    def __init__(self, rows: int, k: int):
        self.k = k
        self.scores = np.full((rows, k), -np.inf, dtype=np.float32)
        self.ids = np.full((rows, k), self.SENTINEL, dtype=np.int64)
        self.threshold = np.full(rows, -np.inf, dtype=np.float32)
        self._pending: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._n_pending = 0
        self._seen = 0
        self._started = False

    def offer(self, scores: np.ndarray, offset: int) -> None:
        """Scores of columns ``offset .. offset + scores.shape[1] - 1``; offsets must increase.
        Cells of -inf (excluded pairs) are never returned."""
        if offset < self._seen:
            raise ValueError(f"tiles must be offered left to right (column {offset} after {self._seen})")
        self._seen = offset + scores.shape[1]
        if not self._started:  # the first tile: reduced densely, it sets every row's threshold
            self._started = True
            top = top_k(scores, self.k)
            vals = np.take_along_axis(scores, top, 1)
            rows = np.repeat(np.arange(len(scores)), top.shape[1])
            keep = np.isfinite(vals.ravel())
            self._add(rows[keep], top.ravel()[keep] + offset, vals.ravel()[keep])
            self._merge()
            return
        # flat indices of a raveled mask: np.nonzero on a 2-D mask costs more than the product itself
        flat = np.flatnonzero(scores > self.threshold[:, None])
        if len(flat):
            rows, cols = np.divmod(flat, scores.shape[1])
            self._add(rows, cols + offset, scores.ravel()[flat])
            if self._n_pending > self.scores.size:
                self._merge()

    def _add(self, rows, ids, vals) -> None:
        self._pending.append((rows, ids.astype(np.int64), vals.astype(np.float32)))
        self._n_pending += len(rows)

    def _merge(self) -> None:
        if not self._pending:
            return
        n, k = self.scores.shape
        r = np.concatenate([np.repeat(np.arange(n), k)] + [p[0] for p in self._pending])
        i = np.concatenate([self.ids.ravel()] + [p[1] for p in self._pending])
        s = np.concatenate([self.scores.ravel()] + [p[2] for p in self._pending])
        order = np.lexsort((i, -s, r))
        r, i, s = r[order], i[order], s[order]
        counts = np.bincount(r, minlength=n)
        position = np.arange(len(r)) - np.repeat(np.cumsum(counts) - counts, counts)
        keep = position < k  # every row has at least k entries (the kept ones, sentinels included)
        self.ids, self.scores = i[keep].reshape(n, k), s[keep].reshape(n, k)
        self.threshold = self.scores[:, -1].copy()
        self._pending, self._n_pending = [], 0

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """(columns, scores) per row, best first; rows with fewer than k finite cells end in
        SENTINEL columns with -inf scores."""
        self._merge()
        return self.ids, self.scores
