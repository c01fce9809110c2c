"""Bring your own embeddings: a base/query pair of ``.npy`` files becomes a workload."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..errors import ConfigError, DataError
from ..paths import under
from .format import Ragged, Workload, write
from .groundtruth import check_metric, exact_knn


def _read_npy(path: Path, what: str) -> np.ndarray:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{what} file {path} does not exist.")
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise DataError(f"{path} is not a readable .npy array ({exc}).") from None


def _load(path: Path, what: str) -> np.ndarray:
    arr = _read_npy(path, what)
    if arr.ndim != 2 or not np.issubdtype(arr.dtype, np.number):
        raise DataError(f"{path}: expected a 2-D numeric array (rows = vectors), got shape {arr.shape} {arr.dtype}.")
    if not np.isfinite(arr).all():
        raise DataError(f"{path} contains NaN or infinite values.")
    return arr.astype(np.float32)


def _load_pairs(path: Path, what: str, n_queries: int, n_base: int) -> Ragged:
    """A (n, 2) integer .npy of (query row, base row) pairs as one id list per query."""
    pairs = _read_npy(path, what)
    if pairs.ndim != 2 or pairs.shape[1] != 2 or not np.issubdtype(pairs.dtype, np.integer):
        raise DataError(f"{path}: expected an (n, 2) integer array of (query row, base row) pairs, got shape {pairs.shape} {pairs.dtype}.")
    for col, n, label in ((0, n_queries, "query"), (1, n_base, "base")):
        bad = (pairs[:, col] < 0) | (pairs[:, col] >= n)
        if bad.any():
            raise DataError(f"{path}: {label} row {pairs[bad][0, col]} is out of range (there are {n} {label} vectors).")
    pairs = np.unique(pairs, axis=0)  # sorted by query, then base row
    cuts = np.searchsorted(pairs[:, 0], np.arange(n_queries + 1))
    return Ragged(pairs[:, 1].astype(np.int32), cuts.astype(np.int64))


def import_npy(base: Path, queries: Path, metric: str, name: str, out_dir: Path, *, k: int = 100,
               seen: Path | None = None, relevant: Path | None = None, progress: bool = True) -> Path:
    """``seen``: items each query must not be recommended (enables filtered search);
    ``relevant``: each query's held-out positives (enables end-to-end recommendation recall);
    both (query row, base row) pairs."""
    check_metric(metric)
    out = under(out_dir, name, what="workload name", suffix=".hdf5")
    if k < 1:
        raise ConfigError(f"--k {k}: the ground truth needs at least 1 neighbour per query.")
    x, q = _load(base, "base"), _load(queries, "queries")
    for arr, path in ((x, base), (q, queries)):
        if not len(arr) or not arr.shape[1]:
            raise DataError(f"{path}: holds no vectors (shape {arr.shape}); a workload needs at least one base vector and one query.")
    if x.shape[1] != q.shape[1]:
        raise DataError(f"base vectors have dimension {x.shape[1]} but queries have {q.shape[1]}.")
    seen_r = _load_pairs(seen, "seen", len(q), len(x)) if seen else None
    rel_r = _load_pairs(relevant, "relevant", len(q), len(x)) if relevant else None
    start = time.perf_counter()
    ids, dists = exact_knn(q, x, k, metric, progress=progress)
    f_ids, f_dists = exact_knn(q, x, k, metric, exclude=seen_r, progress=progress) if seen_r is not None else (None, None)
    w = Workload(
        name=name, metric=metric, train=x, test=q, neighbors=ids, distances=dists, relevant=rel_r, seen=seen_r,
        filtered_neighbors=f_ids, filtered_distances=f_dists,
        attrs={"kind": "custom", "synthetic": False,
               "source": {"base": str(base), "queries": str(queries), "seen": str(seen or ""), "relevant": str(relevant or "")},
               "ground_truth_seconds": time.perf_counter() - start},
    )
    return write(w, out)
