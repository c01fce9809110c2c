"""The small interface every index library sits behind.

Lifecycle: ``Adapter(metric, dim, **build_params)`` -> ``fit(base)`` ->
``set_query_params(**query_params)`` -> ``search_batch(queries, k, threads)`` /
``search_one(query, k)`` / ``search_one_filtered(query, k, exclude)``. Queries go through
``prepare_queries`` once, outside any timed loop, so ``search_one`` is a thin call into the
library. Searching before ``fit`` raises :class:`NotFittedError`.

Each adapter reports the parameters the library really used (:meth:`Adapter.effective_query`:
hnswlib searches with ``max(ef, k)``, so ``ef=10`` at k = 100 is ``ef=100``), declares
truthfully whether its batch search runs on several threads (``threaded_batch``) and
whether a one-thread build is reproducible (``deterministic``), and names the build
parameter that seeds it (``seed_param``), so repeated builds can draw other seeds. An adapter
whose behaviour changes for the same parameters raises its ``revision``: every result and
replay recorded at the older one is run again. The
conformance suite (``tests/test_adapters.py``) checks every one of these claims.

Each adapter declares, per metric it supports, whether the library handles it natively or
through a reduction (cosine = normalise the vectors, then inner product). A library without
a true inner-product search does not declare ``ip``: it is never run on ``ip`` workloads.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ...errors import AnnBenchError, ConfigError
from ..params import Param, check_params

NATIVE = "native"
NORMALIZE_IP = "normalize+ip"
ALL_NATIVE = {"ip": NATIVE, "cosine": NATIVE, "l2": NATIVE}
IN_PLACE, ADD_ONLY, REBUILD = "in place", "add only", "rebuild"  # Adapter.updates
# where ann-bench tune's first build of an HNSW graph sets ef_construction: ann-benchmarks builds
# hnswlib and faiss HNSW at efConstruction 500 for every M (their config.yml), and hnswlib's
# ALGO_PARAMS.md: a larger ef_construction gives a better graph, up to a point, for build time
# alone; the tuner maximises query speed, so it starts from a well-built graph
EF_CONSTRUCTION_START = 500


class NotFittedError(AnnBenchError):
    """An index was searched before it was built."""


def normalize(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.ascontiguousarray(x / np.where(norms == 0, 1, norms), dtype=np.float32)


class Adapter:
    name: ClassVar[str]
    module: ClassVar[str]  # the importable module of the library
    distribution: ClassVar[str]  # the pip distribution, for version records
    metrics: ClassVar[dict[str, str]]  # workload metric -> NATIVE or NORMALIZE_IP
    build_params: ClassVar[dict[str, Param]] = {}
    query_params: ClassVar[dict[str, Param]] = {}
    deterministic: ClassVar[bool] = True  # same data + params, 1 build thread -> same answers
    threaded_batch: ClassVar[bool] = True  # batch search really runs on several threads
    seed_param: ClassVar[str | None] = None  # the build parameter that seeds the build, if any
    exact: ClassVar[bool] = False  # exact search (the baseline an index must beat)
    native_filter: ClassVar[bool] = False  # the library skips excluded ids while searching
    # how a changing catalog reaches the index (the streaming replay, ann_bench/stream):
    # IN_PLACE: add() and remove() change it; ADD_ONLY: add() does, removed ids must be filtered out
    # of answers (search_one_filtered); REBUILD: neither, the index is built again
    updates: ClassVar[str] = REBUILD
    # raised when the adapter measures something else for the same parameters (e.g. Voyager's insert
    # order): results made at an older revision are stale and run again
    revision: ClassVar[int] = 0

    def __init__(self, metric: str, dim: int, *, threads: int = 1, **params):
        if metric not in self.metrics:
            raise ConfigError(f"{self.name} does not support metric '{metric}' (supports {', '.join(self.metrics)}).")
        self.metric, self.dim, self.threads = metric, dim, threads
        self.params = check_params(params, self.build_params, f"{self.name}.build")
        self.query = {}
        # until fit() replaces them: searching an index that was never built is a clear error
        self.search_batch = self.search_one = self.search_one_filtered = self._not_fitted

    def _not_fitted(self, *args, **kwargs):
        raise NotFittedError(f"{self.name}: search called before fit(); build the index first.")

    @classmethod
    def revision_key(cls) -> dict:
        """What a run definition holds of the adapter's revision (nothing at 0, so the
        definitions made before revisions existed stay valid)."""
        return {"adapter_revision": cls.revision} if cls.revision else {}

    @property
    def reduced(self) -> bool:
        return self.metrics[self.metric] == NORMALIZE_IP

    @property
    def space(self) -> str:
        """The metric the library itself is asked for."""
        return "ip" if self.reduced else self.metric

    def prepare_base(self, x: np.ndarray) -> np.ndarray:
        return normalize(x) if self.reduced else np.ascontiguousarray(x, dtype=np.float32)

    def prepare_queries(self, q: np.ndarray) -> np.ndarray:
        return normalize(q) if self.reduced else np.ascontiguousarray(q, dtype=np.float32)

    def fit(self, x: np.ndarray) -> None:
        self.n_base = len(x)
        self._fit(self.prepare_base(x))
        for name in ("search_batch", "search_one", "search_one_filtered"):
            self.__dict__.pop(name, None)

    def add(self, x: np.ndarray) -> None:
        """Add vectors to a built index (``updates`` in-place or add-only); they get the next
        ids, ``n_base`` onwards, whatever was removed before."""
        if self.updates == REBUILD:
            raise NotImplementedError(f"{self.name} cannot add to a built index: rebuild it.")
        if not hasattr(self, "n_base"):
            self._not_fitted()
        if not len(x):
            return
        self._add(self.prepare_base(x), np.arange(self.n_base, self.n_base + len(x), dtype=np.int64))
        self.n_base += len(x)

    def remove(self, ids: np.ndarray) -> None:
        """Take ``ids`` out of every later answer (``updates`` in-place only)."""
        if self.updates != IN_PLACE:
            raise NotImplementedError(f"{self.name} cannot remove from a built index ({self.updates}).")
        if not hasattr(self, "n_base"):
            self._not_fitted()
        self._remove(np.asarray(ids, dtype=np.int64))

    def set_query_params(self, **params) -> None:
        if not hasattr(self, "n_base"):
            self._not_fitted()
        self.query = check_params(params, self.query_params, f"{self.name}.query")
        self._set_query(**self.query)

    def effective_query(self, k: int) -> dict:
        """The query parameters the library really uses when asked for ``k`` answers
        (after :meth:`set_query_params`), without those whose ``needs`` build parameter is off.
        Override where the library changes them."""
        return {k: v for k, v in self.query.items() if not self.query_params[k].needs or self.params[self.query_params[k].needs]}

    def effective_build(self) -> dict:
        """The build parameters the library really used (after :meth:`fit`)."""
        return dict(self.params)

    def environment(self) -> dict:
        """What the result file must record beyond the CPU and library versions for the run to be
        compared (after :meth:`fit`): the GPU an index runs on, its driver. Nothing for most."""
        return {}

    @classmethod
    def fitting_dim(cls, dim: int, params: dict) -> int:
        """The smallest dimension >= ``dim`` that an index with build ``params`` accepts (a product
        quantiser needs a multiple of its sub-quantiser count); a reduction pads to it with zeros."""
        return dim

    @classmethod
    def warm_up(cls, metric: str, dim: int) -> None:
        """Pay the library's one-off costs (lazy imports, JIT compilation) on a tiny index,
        so that a measured build and its memory hold only the index. The default builds
        and searches the adapter's :meth:`accurate_params` index on 500 random vectors."""
        build, query = cls.accurate_params(500)
        x = np.random.default_rng(0).standard_normal((500, dim)).astype(np.float32)
        index = cls(metric, dim, threads=1, **build)
        index.fit(x)
        index.set_query_params(**query)
        pq = index.prepare_queries(x[:4])
        index.search_batch(pq, 10, 1)
        index.search_one(index.split_queries(pq)[0], 10)

    # --- what each library implements -------------------------------------------------
    def _fit(self, x: np.ndarray) -> None:
        raise NotImplementedError

    def _set_query(self, **params) -> None:
        pass

    def search_batch(self, q: np.ndarray, k: int, threads: int) -> np.ndarray:
        """Ids (nq, k), -1 where the library returned fewer than k."""
        raise NotImplementedError

    def split_queries(self, q: np.ndarray) -> list:
        """Prepared queries as the per-query objects ``search_one`` takes (built before timing)."""
        return [q[i] for i in range(len(q))]

    def search_one(self, v, k: int):
        """Ids for one query from :meth:`split_queries` (any integer sequence)."""
        raise NotImplementedError

    def search_one_filtered(self, v, k: int, exclude: np.ndarray) -> np.ndarray:
        """The ``k`` nearest ids of one query that are not in ``exclude`` (sorted int64 ids,
        e.g. the items a user has already seen).

        Without a native filter: ask for ``k + len(exclude)`` and drop the excluded ids
        (over-fetching, what a serving system does with a library that cannot filter).
        """
        ids = np.asarray(self.search_one(v, min(k + len(exclude), self.n_base)), dtype=np.int64)
        return ids[(ids >= 0) & ~is_in_sorted(ids, exclude)][:k]

    def _add(self, x: np.ndarray, ids: np.ndarray) -> None:
        raise NotImplementedError

    def _remove(self, ids: np.ndarray) -> None:
        raise NotImplementedError

    def save(self, path: str) -> bool:
        """Serialise to ``path`` if the library can; return whether it did."""
        return False

    @classmethod
    def accurate_params(cls, n: int) -> tuple[dict, dict]:
        """Build and query parameters for near-exact search on ``n`` vectors (conformance)."""
        raise NotImplementedError


def is_in_sorted(ids: np.ndarray, sorted_ids: np.ndarray) -> np.ndarray:
    """Membership of ``ids`` in a sorted array (a binary search: cheaper than np.isin here)."""
    if not len(sorted_ids):
        return np.zeros(len(ids), dtype=bool)
    pos = np.minimum(np.searchsorted(sorted_ids, ids), len(sorted_ids) - 1)
    return sorted_ids[pos] == ids


def pad(ids: list, k: int) -> np.ndarray:
    """Rows of possibly short id lists as an (n, k) int64 array padded with -1."""
    out = np.full((len(ids), k), -1, dtype=np.int64)
    for i, row in enumerate(ids):
        row = np.asarray(row)[:k]
        out[i, : len(row)] = row
    return out
