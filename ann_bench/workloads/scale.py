"""Catalog scale-up: synthetic items drawn from a mixture fitted to the real item vectors.

MovieLens catalogs have 10k-90k items; production catalogs have millions. The mixture is
k-means clusters, each a full-covariance Gaussian, and every sample is rescaled to a norm
drawn from its cluster's real norms, because inner-product search depends on the norm
distribution (popular items tend to have larger norms). Each synthetic item gets the first
and last rating times of a real rated item drawn at random (:func:`draw_times`), so a replay of
the catalog's arrivals has the real distribution of arrival times and lifetimes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError


@dataclass
class Mixture:
    means: np.ndarray  # (c, d)
    chols: np.ndarray  # (c, d, d) Cholesky factors of the covariances
    weights: np.ndarray  # (c,)
    norms: list[np.ndarray]  # the real norms of each cluster's members


def fit(x: np.ndarray, *, components: int = 64, seed: int = 0) -> Mixture:
    import faiss

    x = np.ascontiguousarray(x, dtype=np.float32)
    n, d = x.shape
    c = max(1, min(components, n // max(2 * d, 1) or 1))
    km = faiss.Kmeans(d, c, niter=25, seed=seed, verbose=False)
    km.train(x)
    _, assign = km.index.search(x, 1)
    assign = assign.ravel()
    global_cov = np.cov(x.T) + 1e-6 * np.eye(d)
    means, chols, weights, norms = [], [], [], []
    for k in range(c):
        members = x[assign == k]
        if len(members) == 0:
            continue
        if len(members) > d:
            cov = np.cov(members.T)
            cov = 0.9 * cov + 0.1 * np.trace(cov) / d * np.eye(d) + 1e-6 * np.eye(d)  # shrinkage
        else:
            cov = 0.1 * global_cov
        means.append(members.mean(axis=0))
        chols.append(np.linalg.cholesky(cov))
        weights.append(len(members))
        norms.append(np.linalg.norm(members, axis=1))
    w = np.asarray(weights, dtype=np.float64)
    return Mixture(np.asarray(means), np.asarray(chols), w / w.sum(), norms)


def sample(m: Mixture, n: int, *, seed: int = 0, chunk: int = 200_000, out: np.ndarray | None = None) -> np.ndarray:
    """``n`` synthetic vectors (float32), generated in chunks to bound memory, into ``out`` if given."""
    if n < 0:
        raise ConfigError("the number of synthetic items must be >= 0.")
    rng = np.random.default_rng(seed)
    d = m.means.shape[1]
    if out is None:
        out = np.empty((n, d), dtype=np.float32)
    for start in range(0, n, chunk):
        size = min(chunk, n - start)
        comp = rng.choice(len(m.weights), size=size, p=m.weights)
        block = out[start : start + size]
        for k in np.unique(comp):
            sel = np.flatnonzero(comp == k)
            x = m.means[k] + rng.standard_normal((len(sel), d)) @ m.chols[k].T
            norm = np.linalg.norm(x, axis=1)
            target = rng.choice(m.norms[k], size=len(sel))
            block[sel] = x * (target / np.where(norm == 0, 1, norm))[:, None]
    return out


def grow(items: np.ndarray, *, seed: int = 0, out: np.ndarray) -> int:
    """Fill ``out`` with synthetic items from a mixture fitted to ``items``; returns its number of components."""
    mixture = fit(items, seed=seed)
    sample(mixture, len(out), seed=seed, out=out)
    return len(mixture.weights)


def draw_times(first: np.ndarray, last: np.ndarray, n: int, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """First and last rating times for ``n`` synthetic items: each the pair of a real item that
    was rated (``first >= 0``), drawn at random with replacement; -1 when none was rated."""
    rated = np.flatnonzero(np.asarray(first) >= 0)
    if not len(rated):
        return np.full(n, -1, np.int64), np.full(n, -1, np.int64)
    pick = np.random.default_rng([seed, 1]).choice(rated, size=n)  # a stream apart from the vectors'
    return np.asarray(first, np.int64)[pick], np.asarray(last, np.int64)[pick]
