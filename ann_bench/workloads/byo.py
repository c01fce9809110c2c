"""Bring your own embeddings: a base/query pair of ``.npy`` files becomes a workload."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..errors import DataError
from .format import Workload, write
from .groundtruth import check_metric, exact_knn


def _load(path: Path, what: str) -> np.ndarray:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{what} file {path} does not exist.")
    try:
        arr = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise DataError(f"{path} is not a readable .npy array ({exc}).") from None
    if arr.ndim != 2 or not np.issubdtype(arr.dtype, np.number):
        raise DataError(f"{path}: expected a 2-D numeric array (rows = vectors), got shape {arr.shape} {arr.dtype}.")
    if not np.isfinite(arr).all():
        raise DataError(f"{path} contains NaN or infinite values.")
    return arr.astype(np.float32)


def import_npy(base: Path, queries: Path, metric: str, name: str, out_dir: Path, *, k: int = 100, progress: bool = True) -> Path:
    check_metric(metric)
    x, q = _load(base, "base"), _load(queries, "queries")
    if x.shape[1] != q.shape[1]:
        raise DataError(f"base vectors have dimension {x.shape[1]} but queries have {q.shape[1]}.")
    start = time.perf_counter()
    ids, dists = exact_knn(q, x, k, metric, progress=progress)
    w = Workload(
        name=name, metric=metric, train=x, test=q, neighbors=ids, distances=dists,
        attrs={"kind": "custom", "synthetic": False, "source": {"base": str(base), "queries": str(queries)},
               "ground_truth_seconds": time.perf_counter() - start},
    )
    return write(w, Path(out_dir) / f"{name}.hdf5")
