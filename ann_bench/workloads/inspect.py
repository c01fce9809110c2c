"""``ann-bench workloads info``: sizes, norms, difficulty hints and provenance of a workload.

Difficulty hints are computed on a sample of queries in Euclidean space (on unit vectors for
cosine workloads): relative contrast (mean distance / nearest distance; near 1 means hard)
and the MLE local intrinsic dimensionality over the 20 nearest neighbours (higher is harder).
In a catalog grown with synthetic items they are also given for real and for synthetic items
taken as queries against the whole base, so a reader can judge whether the grown part is as
hard as the real one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .format import read
from .groundtruth import normalize, row_norms


def _stats(v: np.ndarray) -> dict:
    return {"min": float(v.min()), "median": float(np.median(v)), "max": float(v.max())}


def difficulty(base: np.ndarray, queries: np.ndarray, metric: str, *, self_rows: np.ndarray | None = None, sample: int = 200,
               k: int = 20, seed: int = 0, chunk: int = 100_000) -> dict:
    """Relative contrast and LID of a sample of ``queries`` against ``base``. ``self_rows``: where
    the queries are base items (item-to-item queries, a grown catalog's own items), each one's row
    in ``base``, left out of its neighbours and of its mean distance (its distance to itself, zero
    but computed as 1e-4 and the like, would otherwise be its nearest)."""
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(queries), size=min(sample, len(queries)), replace=False)
    q = queries[pick].astype(np.float32)
    own = None if self_rows is None else np.asarray(self_rows, dtype=np.int64)[pick]
    x = base.astype(np.float32)
    if metric == "cosine":
        q, x = normalize(q), normalize(x)
    others = x.shape[0] - (own is not None)
    k = min(k, others)
    total = np.zeros(len(q))
    near = np.full((len(q), 0), np.inf, dtype=np.float32)
    for start in range(0, len(x), chunk):  # the base in chunks: memory stays bounded at 10M items
        c = x[start : start + chunk]
        d = np.sqrt(np.maximum((q * q).sum(1)[:, None] - 2 * q @ c.T + (c * c).sum(1)[None, :], 0))
        if own is not None:  # each query's own row: nothing to its mean distance, and not a neighbour
            rows = np.flatnonzero((own >= start) & (own < start + len(c)))
            d[rows, own[rows] - start] = 0
        total += d.sum(axis=1)
        if own is not None:
            d[rows, own[rows] - start] = np.inf
        both = np.concatenate([near, d], axis=1)
        near = np.partition(both, k - 1, axis=1)[:, :k] if both.shape[1] > k else both
    near = np.sort(near, axis=1)[:, :k]
    rc = total / others / np.maximum(near[:, 0], 1e-12)
    ratios = np.log(np.maximum(near[:, :-1], 1e-12) / np.maximum(near[:, -1:], 1e-12))
    lid = -1.0 / np.minimum(ratios.mean(axis=1), -1e-12)
    return {"relative_contrast_median": float(np.median(rc)), "lid_median": float(np.median(lid)), "queries_sampled": len(q), "space": "euclidean" + (" (unit vectors)" if metric == "cosine" else "")}


def info(path: Path) -> dict:
    path = Path(path)
    w = read(path)
    out = {
        "name": w.name,
        "file": str(path),
        "file_mb": round(path.stat().st_size / 1e6, 2),
        "metric": w.metric,
        "base": list(w.train.shape),
        "queries": list(w.test.shape),
        "k": int(w.neighbors.shape[1]),
        "base_norms": _stats(row_norms(w.train)),
        "query_norms": _stats(row_norms(w.test)),
        "difficulty": difficulty(w.train, w.test, w.metric, self_rows=w.self_ids),
        "content_hash": w.content_hash(),
    }
    n_real = int(w.attrs.get("n_real_items", len(w.train)))
    if w.attrs.get("synthetic") and 0 < n_real < len(w.train):  # do grown items sit in neighbourhoods like real ones?
        rows = np.arange(len(w.train))
        out["difficulty_by_origin"] = {
            "real items as queries": difficulty(w.train, w.train[:n_real], w.metric, self_rows=rows[:n_real]),
            "synthetic items as queries": difficulty(w.train, w.train[n_real:], w.metric, self_rows=rows[n_real:])}
    for key in ("kind", "metric_comparison", "synthetic", "n_real_items", "synthetic_items", "provenance", "trained_on", "scaled_on",
                "created", "source"):
        if key in w.attrs:
            out[key] = w.attrs[key]
    if w.attrs.get("vectors_normalized"):
        out["note"] = ("the model's vectors are L2-normalised, so its ip, cosine and l2 workloads have the same "
                       "neighbours; the default dot model (`ann-bench train --model dot`) gives a true inner-product workload")
    if w.relevant is not None:
        out["relevant_per_query_median"] = float(np.median(np.diff(w.relevant.offsets)))
    if w.seen is not None:
        seen = np.diff(w.seen.offsets)
        out["seen_per_query"] = {"median": float(np.median(seen)), "p99": float(np.percentile(seen, 99)), "max": int(seen.max(initial=0))}
        out["filtered_ground_truth"] = w.filtered_neighbors is not None
    return out
