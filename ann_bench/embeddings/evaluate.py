"""The recommendation-quality protocol, one code path for every model.

For split S (validation or test), each user with at least one positive in S is evaluated.
Every movie in the catalog is a candidate (the k-core filter removes interactions, not
movies: a deployed retriever searches the whole catalog, as the workloads do); the items the
user already interacted with before S (train for validation; train and validation for
test) are excluded; every remaining candidate is scored (full ranking, no sampling) and
the top max(K) are compared with the user's positives in S.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..data import Prepared
from ..topk import top_k
from .interactions import history_matrix
from .metrics import KS, hits, summarize

Scorer = Callable[[np.ndarray], np.ndarray]  # user indices -> (len, n_items) scores

PROTOCOL = (
    "Full ranking over the whole movie catalog; per user, items seen before the evaluated "
    "split are excluded (train for validation, train+validation for test); Recall@K = hits in "
    "top K / min(K, #relevant); NDCG@K with binary gains; averaged over every user with a "
    "positive in the split."
)


def relevant_lists(p: Prepared, split: int) -> tuple[np.ndarray, list[np.ndarray]]:
    df = p.split(split)
    groups = df.groupby("user_idx")["item_idx"]
    users = np.fromiter(groups.groups.keys(), dtype=np.int64)
    return users, [np.sort(g.to_numpy()) for _, g in groups]


def evaluate(p: Prepared, scorer: Scorer, split: int, ks: tuple[int, ...] = KS, batch: int = 1024) -> dict[str, float]:
    """Mean Recall@K and NDCG@K of ``scorer`` on ``split`` under :data:`PROTOCOL`."""
    users, relevant = relevant_lists(p, split)
    seen = history_matrix(p, split)
    kmax = max(ks)
    # movies nobody interacted with before the split: a model that ranks them high for
    # everyone is broken for whole-catalog retrieval (see cold_share@10)
    cold = np.asarray(seen.sum(axis=0)).ravel() == 0
    all_hits, cold_slots = [], []
    for start in range(0, len(users), batch):
        chunk = users[start : start + batch]
        scores = np.array(scorer(chunk), dtype=np.float32, copy=True)
        rows = seen[chunk]
        scores[np.repeat(np.arange(len(chunk)), np.diff(rows.indptr)), rows.indices] = -np.inf
        top = top_k(scores, kmax)
        all_hits.append(hits(top, relevant[start : start + batch]))
        cold_slots.append(cold[top[:, :10]].mean(axis=1))
    n_rel = np.array([len(r) for r in relevant])
    out = summarize(np.concatenate(all_hits), n_rel, ks)
    out["cold_share@10"] = float(np.concatenate(cold_slots).mean())
    return out


def dot_scorer(user_vecs: np.ndarray, item_vecs: np.ndarray) -> Scorer:
    return lambda users: user_vecs[users] @ item_vecs.T
