"""Users x items interaction matrices (scipy only: the evaluation and the workloads stage
read them without importing torch)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..data import TRAIN, VAL, Prepared


def interaction_matrix(p: Prepared, splits: tuple[int, ...] = (TRAIN,)) -> sp.csr_matrix:
    """Users x catalog items, 1 where the user has a positive in one of ``splits``."""
    df = p.interactions[p.interactions["split"].isin(splits)]
    m = sp.csr_matrix(
        (np.ones(len(df), dtype=np.float32), (df["user_idx"].to_numpy(), df["item_idx"].to_numpy())),
        shape=(p.n_users, p.n_items),
    )
    m.sum_duplicates()
    m.data[:] = 1.0
    return m


def history_matrix(p: Prepared, for_split: int) -> sp.csr_matrix:
    """What the system knows about each user when predicting ``for_split``.

    Validation is predicted from train; test from train + validation (already seen by then).
    """
    return interaction_matrix(p, (TRAIN,) if for_split == VAL else (TRAIN, VAL))
