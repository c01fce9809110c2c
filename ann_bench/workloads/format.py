"""The workload file: ann-benchmarks' HDF5 layout plus what a recommender benchmark needs.

ann-benchmarks datasets: ``train`` (base vectors), ``test`` (queries), ``neighbors``
(int32 top-k exact ids), ``distances``, attributes ``distance``, ``point_type``,
``dimension``. On top, optional: item ids and titles, when each item was first and last
rated (unix seconds, -1: never), query ids, each query's held-out
relevant items and already-seen items (ragged, as base row numbers), the model's config
and quality metrics, the preprocessing summary, a content hash and a format version.
A plain ann-benchmarks file (e.g. glove-100-angular.hdf5) loads through the same reader.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from ..errors import DataError
from ..h5util import STR, atomic_h5, open_h5, set_json
from .groundtruth import CHUNK_ROWS, METRICS, exact_distances, exact_knn, row_norms

FORMAT_VERSION = 4  # 2: filtered ground truth; 3: self_ids (item-to-item queries' own rows); 4: item rating times
ITEM_TIMES = ("item_first_rated", "item_last_rated")
# ann-benchmarks' names for our metrics, and the names we accept when reading
ANN_BENCHMARKS_DISTANCE = {"ip": "ip", "cosine": "angular", "l2": "euclidean"}
_FROM_ANNB = {"ip": "ip", "dot": "ip", "inner_product": "ip", "angular": "cosine", "cosine": "cosine", "euclidean": "l2", "l2": "l2"}


@dataclass
class Ragged:
    """Variable-length id lists, stored flat with offsets (row i is ids[offsets[i]:offsets[i+1]])."""

    ids: np.ndarray
    offsets: np.ndarray

    @classmethod
    def from_lists(cls, lists: list[np.ndarray]) -> "Ragged":
        lengths = np.fromiter((len(x) for x in lists), dtype=np.int64, count=len(lists))
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        ids = np.concatenate(lists).astype(np.int32) if len(lists) and offsets[-1] else np.zeros(0, np.int32)
        return cls(ids, offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i: int) -> np.ndarray:
        return self.ids[self.offsets[i] : self.offsets[i + 1]]


@dataclass
class Workload:
    """Base vectors, queries and exact ground truth for one metric, with recommender context."""

    name: str
    metric: str
    train: np.ndarray
    test: np.ndarray
    neighbors: np.ndarray
    distances: np.ndarray
    item_ids: np.ndarray | None = None
    item_titles: np.ndarray | None = None
    query_ids: np.ndarray | None = None
    relevant: Ragged | None = None
    seen: Ragged | None = None
    # exact top-k of each query with its ``seen`` items excluded (filtered search)
    filtered_neighbors: np.ndarray | None = None
    filtered_distances: np.ndarray | None = None
    # each query's own row in the base (-1: none): an item-to-item query is an item of the
    # base, and is never one of its own answers (the ground truth leaves it out; the sweep
    # asks the index for one more answer and drops it)
    self_ids: np.ndarray | None = None
    # per base item, its first and last rating (unix seconds; -1: never rated; a synthetic item
    # has the times of a real one drawn at random): when it entered and left the catalog
    item_first_rated: np.ndarray | None = None
    item_last_rated: np.ndarray | None = None
    attrs: dict = field(default_factory=dict)

    @property
    def dimension(self) -> int:
        return int(self.train.shape[1])

    def content_hash(self) -> str:
        """Identifies the vectors, metric and ground truth (not the file's metadata)."""
        h = hashlib.sha256(self.metric.encode())
        for a, dtype in ((self.train, np.float32), (self.test, np.float32), (self.neighbors, np.int32),
                         (self.filtered_neighbors, np.int32), (self.self_ids, np.int32)):
            if a is None:
                continue
            h.update(str(a.shape).encode())
            h.update(np.ascontiguousarray(a, dtype=dtype).data)  # as stored, whatever it was given as; no copy if already so
        return h.hexdigest()[:16]


def write(w: Workload, path: Path) -> Path:
    """Write atomically; validates shapes first so a bad workload never reaches disk."""
    validate(w, path)
    with atomic_h5(path) as f:
        f.attrs["distance"] = ANN_BENCHMARKS_DISTANCE[w.metric]
        f.attrs["metric"] = w.metric
        f.attrs["point_type"] = "float"
        f.attrs["dimension"] = w.dimension
        f.attrs["format_version"] = FORMAT_VERSION
        f.attrs["name"] = w.name
        f.attrs["content_hash"] = w.content_hash()
        f.create_dataset("train", data=np.asarray(w.train, dtype=np.float32))
        f.create_dataset("test", data=np.asarray(w.test, dtype=np.float32))
        f.create_dataset("neighbors", data=np.asarray(w.neighbors, dtype=np.int32))
        f.create_dataset("distances", data=np.asarray(w.distances, dtype=np.float32))
        if w.filtered_neighbors is not None:
            f.create_dataset("filtered_neighbors", data=np.asarray(w.filtered_neighbors, dtype=np.int32))
            f.create_dataset("filtered_distances", data=np.asarray(w.filtered_distances, dtype=np.float32))
        if w.self_ids is not None:
            f.create_dataset("self_ids", data=np.asarray(w.self_ids, dtype=np.int32))
        if w.item_ids is not None:
            f.create_dataset("item_ids", data=w.item_ids)
        if w.item_titles is not None:
            f.create_dataset("item_titles", data=np.asarray(w.item_titles, dtype=object), dtype=STR, compression="gzip")
        if w.query_ids is not None:
            f.create_dataset("query_ids", data=w.query_ids)
        for key in ITEM_TIMES:
            if getattr(w, key) is not None:
                f.create_dataset(key, data=np.asarray(getattr(w, key), dtype=np.int64))
        for key in ("relevant", "seen"):
            r = getattr(w, key)
            if r is not None:
                g = f.create_group(key)
                g.create_dataset("ids", data=r.ids, compression="gzip")
                g.create_dataset("offsets", data=r.offsets)
        for key, value in w.attrs.items():
            set_json(f, key, value)
    return path


GT_SAMPLE = 8  # queries whose ground truth is recomputed on every read and write


def validate(w: Workload, path: Path | str = "workload") -> None:
    """Clear errors for anything that would make a sweep's numbers wrong, naming the file and
    the field: shapes, empty sets, NaN or infinite values, zero vectors under cosine, ids out
    of range, and ground truth that does not match the vectors (recomputed exactly for a
    sample of queries)."""
    def bad(msg: str):
        raise DataError(f"{path}: {msg}")

    if w.metric not in METRICS:
        bad(f"unknown metric '{w.metric}' (expected {', '.join(METRICS)}).")
    for key in ("train", "test", "distances"):
        a = getattr(w, key)
        if not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
            bad(f"'{key}' holds {a.dtype} values; expected numbers.")
    if w.train.ndim != 2 or w.test.ndim != 2:
        bad(f"'train' and 'test' must be 2-D; got {w.train.shape} and {w.test.shape}.")
    if not len(w.train) or not len(w.test) or not w.train.shape[1]:
        bad(f"'train' {w.train.shape} and 'test' {w.test.shape} must hold at least one vector of at least one dimension.")
    for key in ("train", "test", "distances"):
        a = getattr(w, key)
        if not all(np.isfinite(a[i : i + CHUNK_ROWS]).all() for i in range(0, len(a), CHUNK_ROWS)):
            bad(f"'{key}' holds NaN or infinite values.")
    if w.metric == "cosine":
        for key in ("train", "test"):
            zero = np.flatnonzero(row_norms(getattr(w, key)) == 0)
            if len(zero):
                bad(f"'{key}' row {zero[0]} is a zero vector ({len(zero)} in all): cosine is undefined for it.")
    if w.train.shape[1] != w.test.shape[1]:
        bad(f"'train' has dimension {w.train.shape[1]} but 'test' has {w.test.shape[1]}.")
    if w.neighbors.shape[0] != len(w.test) or w.distances.shape != w.neighbors.shape:
        bad(f"'neighbors' {w.neighbors.shape} and 'distances' {w.distances.shape} must have one row per query ({len(w.test)}).")
    if w.neighbors.size and (w.neighbors.min() < 0 or w.neighbors.max() >= len(w.train)):
        bad("'neighbors' holds ids outside the base vectors.")
    for key, n in (("item_ids", len(w.train)), ("item_titles", len(w.train)), ("query_ids", len(w.test)),
                   ("item_first_rated", len(w.train)), ("item_last_rated", len(w.train))):
        v = getattr(w, key)
        if v is not None and len(v) != n:
            bad(f"'{key}' has {len(v)} entries, expected {n}.")
    first, last = w.item_first_rated, w.item_last_rated
    if (first is None) != (last is None):
        bad("'item_first_rated' and 'item_last_rated' come together: give both or neither.")
    wrong = np.zeros(0, bool) if first is None else (first < -1) | (last < -1) | ((first < 0) != (last < 0)) | (last < first)
    if wrong.any():
        i = int(np.flatnonzero(wrong)[0])
        bad(f"item {i} was first rated at {first[i]} and last at {last[i]}: expected first <= last, both -1 for a "
            "movie never rated.")
    for key in ("relevant", "seen"):
        r = getattr(w, key)
        if r is not None and len(r) != len(w.test):
            bad(f"'{key}' has {len(r)} rows, expected one per query ({len(w.test)}).")
    if w.self_ids is not None:
        s = np.asarray(w.self_ids)
        if s.shape != (len(w.test),) or (s.size and (s.min() < -1 or s.max() >= len(w.train))):
            bad(f"'self_ids' must hold one base row (or -1) per query ({len(w.test)}).")
        if (w.neighbors == s[:, None]).any():
            bad("'neighbors' holds a query's own id ('self_ids'): the ground truth must leave it out.")
    if w.filtered_neighbors is not None:
        fn, fd = w.filtered_neighbors, w.filtered_distances
        if w.seen is None or fd is None or fn.shape[0] != len(w.test) or fd.shape != fn.shape:
            bad(f"'filtered_neighbors' {fn.shape} needs 'seen' and 'filtered_distances' of the same shape, one row per query.")
    _check_ground_truth(w, bad)


def _check_ground_truth(w: Workload, bad) -> None:
    """Recompute the exact neighbours of a few queries and compare distances (ties may order
    ids differently, distances never): ground truth from other vectors, or zeroed, is caught."""
    k = w.neighbors.shape[1]
    if not k:
        bad("'neighbors' has no columns: the ground truth is empty.")
    rows = np.unique(np.linspace(0, len(w.test) - 1, min(GT_SAMPLE, len(w.test))).astype(int))
    exclude = None if w.self_ids is None else [w.self_ids[i] for i in rows]
    _, d = exact_knn(w.test[rows], w.train, k, w.metric, exclude=exclude)
    stored = w.distances[rows, : d.shape[1]].astype(np.float64)
    of_ids = exact_distances(w.neighbors[rows, : d.shape[1]].astype(np.int64), w.test[rows], w.train, w.metric)
    tol = 1e-3 + 1e-3 * np.abs(d)
    wrong = (np.abs(stored - d) > tol) | (np.abs(of_ids - stored) > tol)
    if d.shape[1] < k or wrong.any():
        i = rows[np.flatnonzero(wrong.any(axis=1))[0]] if wrong.any() else rows[0]
        bad(f"'distances' of query {i} do not match the vectors (exact search gives {d[list(rows).index(i), :3].round(4).tolist()}..., "
            f"the file {w.distances[i, :3].round(4).tolist()}...): the ground truth belongs to other vectors. "
            "Rebuild it (`ann-bench workloads build` or `workloads import`).")


def read(path: Path) -> Workload:
    """Read a workload or a plain ann-benchmarks dataset; clear errors for broken files."""
    path = Path(path)
    try:
        with open_h5(path, "workload") as f:
            w, stored_hash = _from_file(f, path)
    except (OSError, ValueError, KeyError, RuntimeError, TypeError) as exc:  # h5py's errors for damaged files
        raise DataError(f"{path} is truncated or corrupt ({' '.join(str(exc).split())}); rebuild it with "
                        "`ann-bench workloads`.") from None
    if w.attrs.get("kind") == "i2i" and w.self_ids is None:
        raise DataError(f"{path}: an item-to-item workload from an older ann-bench (no 'self_ids', so a query would be "
                        "scored against itself); rebuild it with `ann-bench workloads build`.")
    validate(w, path)
    if stored_hash and str(stored_hash) != w.content_hash():
        raise DataError(f"{path}: its contents changed after its content hash was written (stored {stored_hash}, "
                        f"now {w.content_hash()}); results would be filed under the wrong workload. Rebuild it.")
    return w


def stored_hash(path: Path) -> str | None:
    """The content hash written into a workload file (not recomputed), or None if it has none
    or cannot be read."""
    try:
        with h5py.File(path, "r") as f:
            return _attr_value(f.attrs["content_hash"]) if "content_hash" in f.attrs else None
    except OSError:
        return None


def _from_file(f: h5py.File, path: Path) -> tuple[Workload, str | None]:
    missing = [k for k in ("train", "test", "neighbors", "distances") if k not in f]
    if missing:
        raise DataError(f"{path} lacks dataset(s) {', '.join(missing)}: not an ann-benchmarks/ann-bench workload.")
    metric = _metric_of(f, path)
    stored_hash = _attr_value(f.attrs["content_hash"]) if "content_hash" in f.attrs else None
    w = Workload(
        name=str(f.attrs.get("name", path.stem)),
        metric=metric,
        train=f["train"][()],
        test=f["test"][()],
        neighbors=f["neighbors"][()].astype(np.int32),
        distances=f["distances"][()].astype(np.float32),
        item_ids=f["item_ids"][()] if "item_ids" in f else None,
        item_titles=np.array([t.decode() if isinstance(t, bytes) else t for t in f["item_titles"][()]], dtype=object) if "item_titles" in f else None,
        query_ids=f["query_ids"][()] if "query_ids" in f else None,
        relevant=_ragged(f, "relevant"),
        seen=_ragged(f, "seen"),
        filtered_neighbors=f["filtered_neighbors"][()].astype(np.int32) if "filtered_neighbors" in f else None,
        filtered_distances=f["filtered_distances"][()].astype(np.float32) if "filtered_distances" in f else None,
        self_ids=f["self_ids"][()].astype(np.int64) if "self_ids" in f else None,
        **{key: f[key][()].astype(np.int64) for key in ITEM_TIMES if key in f},
        attrs={k: _attr_value(v) for k, v in f.attrs.items() if k not in _PLAIN_ATTRS},
    )
    return w, stored_hash


_PLAIN_ATTRS = {"distance", "metric", "point_type", "dimension", "format_version", "name", "content_hash"}


def _attr_value(v):
    """Our attributes are JSON; a foreign file's may be plain strings or numbers."""
    if isinstance(v, bytes):
        v = v.decode()
    if isinstance(v, str):
        try:
            return json.loads(v)
        except ValueError:
            return v
    return v.item() if isinstance(v, np.generic) else v


def _ragged(f: h5py.File, key: str) -> Ragged | None:
    if key not in f:
        return None
    return Ragged(f[key]["ids"][()], f[key]["offsets"][()])


def _metric_of(f: h5py.File, path: Path) -> str:
    raw = f.attrs.get("metric", f.attrs.get("distance"))
    raw = raw.decode() if isinstance(raw, bytes) else raw
    metric = _FROM_ANNB.get(str(raw).lower()) if raw is not None else None
    if metric is None:
        raise DataError(f"{path}: distance '{raw}' is not supported (ann-bench handles ip, angular/cosine, euclidean).")
    return metric


def attr(path: Path, key: str):
    """One plain attribute of a workload file without reading its arrays."""
    with open_h5(path, "workload") as f:
        return f.attrs.get(key)
