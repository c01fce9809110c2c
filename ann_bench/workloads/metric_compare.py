"""What the metric costs: the same model's vectors searched exactly under ip, cosine and l2.

A two-tower model trained on raw inner products ranks by ``u.v``; searching its vectors by
cosine or L2 distance ranks differently wherever item norms differ (norms carry popularity).
For a sample of users this reports how much the exact top 100 of each pair of metrics
overlap, how widely the item norms spread, and the recommendation quality (Recall@10/50 of
the exact top-k with each user's seen items excluded, against their held-out test items) of
exact search under each metric: what searching with the wrong metric loses before any
approximation.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

from ..embeddings.metrics import hits, recall_at_k
from .groundtruth import METRICS, exact_knn, row_norms


def norm_spread(x: np.ndarray) -> dict:
    norms = row_norms(x)
    p5, p50, p95 = np.percentile(norms, [5, 50, 95])
    return {"p5": float(p5), "median": float(p50), "p95": float(p95), "max": float(norms.max()),
            "p95_over_p5": float(p95 / max(p5, 1e-12))}


def compare(users: np.ndarray, items: np.ndarray, seen: list[np.ndarray], relevant: list[np.ndarray], *,
            k: int = 100, ks: tuple[int, ...] = (10, 50), sample: int = 2_000, seed: int = 0) -> dict:
    """Overlap of the metrics' exact top ``k`` and each metric's recommendation recall, on up to
    ``sample`` users (rows of ``users`` with their ``seen`` and ``relevant`` item lists)."""
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(len(users), size=min(sample, len(users)), replace=False))
    q = users[rows]
    k = min(k, len(items))
    top = {m: exact_knn(q, items, k, m)[0] for m in METRICS}
    overlap = {f"{a}~{b}": float(np.mean([len(np.intersect1d(x, y)) / k for x, y in zip(top[a], top[b])]))
               for a, b in combinations(METRICS, 2)}
    keep = [i for i, r in enumerate(rows) if len(relevant[r])]
    rel = [relevant[rows[i]] for i in keep]
    n_rel = np.array([len(r) for r in rel])
    quality = {}
    for m in METRICS:
        kmax = min(max(ks), len(items))
        ids, _ = exact_knn(q[keep], items, kmax, m, exclude=[seen[rows[i]] for i in keep])
        h = hits(ids, rel)
        quality[m] = {f"recall@{c}": float(recall_at_k(h, n_rel, c).mean()) for c in ks if c <= kmax}
    return {
        "users_sampled": int(len(rows)),
        f"top{k}_overlap": overlap,
        "recommendation_of_exact_search": quality,
        "item_norms": norm_spread(items),
        "user_norms": norm_spread(users),
    }
