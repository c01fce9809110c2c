"""The recommendation-quality protocol, one code path for every model.

For split S (validation or test), each user with at least one positive in S is evaluated.
The candidates are the catalog items that survived preprocessing (k-core); the items the
user already interacted with before S (train for validation; train and validation for
test) are excluded; every remaining candidate is scored (full ranking, no sampling) and
the top max(K) are compared with the user's positives in S.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..data import Prepared
from ..topk import top_k
from .features import history_matrix
from .metrics import KS, hits, summarize

Scorer = Callable[[np.ndarray], np.ndarray]  # user indices -> (len, n_items) scores

PROTOCOL = (
    "Full ranking over the k-core item catalog; per user, items seen before the evaluated "
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
    not_candidate = ~p.items["in_core"].to_numpy()
    kmax = max(ks)
    all_hits = []
    for start in range(0, len(users), batch):
        chunk = users[start : start + batch]
        scores = np.array(scorer(chunk), dtype=np.float32, copy=True)
        scores[:, not_candidate] = -np.inf
        rows = seen[chunk]
        scores[np.repeat(np.arange(len(chunk)), np.diff(rows.indptr)), rows.indices] = -np.inf
        all_hits.append(hits(top_k(scores, kmax), relevant[start : start + batch]))
    n_rel = np.array([len(r) for r in relevant])
    return summarize(np.concatenate(all_hits), n_rel, ks)


def dot_scorer(user_vecs: np.ndarray, item_vecs: np.ndarray) -> Scorer:
    return lambda users: user_vecs[users] @ item_vecs.T
