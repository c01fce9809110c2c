"""Pareto frontiers: the configurations no other configuration beats on both axes."""

from __future__ import annotations

import numpy as np
import pandas as pd


def frontier_mask(x, y) -> np.ndarray:
    """True for points not dominated when both ``x`` and ``y`` are to be maximised.

    A point is dominated if another is at least as good on both axes and better on one.
    Of exact duplicates only the first is kept; NaN points are never on the frontier.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = np.zeros(len(x), dtype=bool)
    valid = np.flatnonzero(~(np.isnan(x) | np.isnan(y)))
    # best x first; among equal x, best y first; stable, so duplicates keep their first
    order = valid[np.lexsort((-y[valid], -x[valid]))]
    best_y = -np.inf
    for i in order:
        if y[i] > best_y:
            keep[i] = True
            best_y = y[i]
    return keep


def frontier(df: pd.DataFrame, x: str, y: str, *, minimize_y: bool = False) -> pd.DataFrame:
    """The frontier rows of ``df``, sorted by ``x``; ``minimize_y`` for costs (build time, memory)."""
    yy = -df[y].to_numpy(dtype=float) if minimize_y else df[y].to_numpy(dtype=float)
    return df[frontier_mask(df[x].to_numpy(dtype=float), yy)].sort_values(x)
