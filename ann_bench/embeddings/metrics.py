"""Ranking metrics over full-catalog top-K lists.

Recall@K divides by min(K, |relevant|) (as in Liang et al. 2018), so a user with more
relevant items than K can still reach 1.0; NDCG@K uses binary gains and the ideal ranking
of min(K, |relevant|) hits.
"""

from __future__ import annotations

import numpy as np

KS = (10, 20, 50, 100)  # the cut-offs every quality report uses


def hits(topk: np.ndarray, relevant: list[np.ndarray]) -> np.ndarray:
    """Boolean (users, K): is the item at each rank among the user's relevant items."""
    return np.stack([np.isin(row, rel) for row, rel in zip(topk, relevant)]) if len(topk) else np.zeros((0, topk.shape[1]), bool)


def recall_at_k(hit: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    """Per-user recall@k; users with no relevant item must be removed beforehand."""
    return hit[:, :k].sum(axis=1) / np.minimum(k, n_relevant)


def ndcg_at_k(hit: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = (hit[:, :k] * discounts[: hit[:, :k].shape[1]]).sum(axis=1)
    ideal = np.cumsum(discounts)[np.minimum(k, n_relevant) - 1]
    return dcg / ideal


def summarize(hit: np.ndarray, n_relevant: np.ndarray, ks: tuple[int, ...]) -> dict[str, float]:
    """Mean recall@k and ndcg@k for each k, plus how many users were evaluated."""
    out: dict[str, float] = {"users": int(len(n_relevant))}
    for k in ks:
        out[f"recall@{k}"] = float(recall_at_k(hit, n_relevant, k).mean())
        out[f"ndcg@{k}"] = float(ndcg_at_k(hit, n_relevant, k).mean())
    return out
