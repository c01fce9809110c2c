"""Adapters that misbehave on purpose, loaded into sweep workers via ANN_BENCH_PLUGINS.

They exercise the runner's isolation: a hard crash inside the process (``os.abort()``,
what a failing assertion in a C extension does), a query pass that never ends, a build
that allocates far more memory than the ceiling allows, a build during which the disk
fills up (another process writing, as seen from the sweep), and a build whose time grows
with the catalog size.
"""

import os
import time

import numpy as np

from ann_bench.sweep.adapters.base import IN_PLACE, NATIVE, Adapter, pad
from ann_bench.sweep.adapters.bruteforce import NumpyBruteForce
from ann_bench.sweep.params import Param
from ann_bench.sweep.registry import register
from ann_bench.topk import top_k


class _Plain(Adapter):
    module = "numpy"
    distribution = "numpy"
    metrics = {"ip": NATIVE, "l2": NATIVE, "cosine": NATIVE}

    def _fit(self, x):
        self.n = len(x)

    def search_batch(self, q, k, threads):
        return pad([np.arange(min(k, self.n))] * len(q), k)

    def search_one(self, v, k):
        return np.arange(min(k, self.n))


@register
class Abort(_Plain):
    name = "test-abort"

    def _fit(self, x):
        os.abort()


@register
class Hang(_Plain):
    name = "test-hang"
    query_params = {"sleep_s": Param(float, 3600.0, min=0)}

    def _set_query(self, sleep_s):
        self.sleep_s = sleep_s

    def search_batch(self, q, k, threads):
        time.sleep(self.sleep_s)
        return super().search_batch(q, k, threads)


@register
class SlowBuild(_Plain):
    """A build whose time grows linearly with the catalog: ``ms_per_item`` x N."""

    name = "test-slow-build"
    build_params = {"ms_per_item": Param(float, 1.0, min=0)}

    def _fit(self, x):
        time.sleep(self.params["ms_per_item"] * len(x) / 1000)
        self.n = len(x)


@register
class MemoryPerItem(_Plain):
    """An index of ``kb_per_item`` KB per base item, all resident: memory that grows with N."""

    name = "test-memory-per-item"
    build_params = {"kb_per_item": Param(int, 100, min=1)}

    def _fit(self, x):
        self.block = np.ones(self.params["kb_per_item"] * 1024 * len(x), dtype=np.uint8)
        self.n = len(x)


@register
class MemoryHog(_Plain):
    name = "test-memhog"
    build_params = {"mb": Param(int, 2048, min=1)}

    def _fit(self, x):
        self.block = np.ones(self.params["mb"] * 2**20, dtype=np.uint8)  # touched, so resident
        time.sleep(30)


@register
class LeakyFilter(NumpyBruteForce):
    """Exact search whose filter lets excluded ids through: filtered recall must show it."""

    name = "test-leaky-filter"

    def search_one_filtered(self, v, k, exclude):
        return self.search_one(v, k)


@register
class SelfFirst(NumpyBruteForce):
    """Returns the query's own item first, then the farthest items: on an item-to-item workload
    only the query item is "near", so every real neighbour is missed."""

    name = "test-self-first"

    def search_batch(self, q, k, threads):
        scores = self._scores(q)
        order = np.argsort(scores, axis=1)  # ascending: farthest first
        return np.concatenate([order[:, -1:], order[:, : k - 1]], axis=1)


@register
class BadSingles(NumpyBruteForce):
    """Exact in batch mode, wrong one query at a time: only scoring every mode shows it."""

    name = "test-bad-singles"

    def search_one(self, v, k):
        return np.arange(k)


@register
class HeavyImport(NumpyBruteForce):
    """A library whose import takes memory (like a JIT runtime) and whose first use is slow."""

    name = "test-heavy-import"
    module = "heavy_import_lib"

    def _fit(self, x):
        import heavy_import_lib  # noqa: F401

        super()._fit(x)

    @classmethod
    def warm_up(cls, metric, dim):
        import heavy_import_lib

        heavy_import_lib.compile()


@register
class DiskFiller(NumpyBruteForce):
    """Exact search whose build fills the folder named by ANN_BENCH_TEST_FILL to the last byte
    (when set): the disk runs full in the middle of a run."""

    name = "test-fill-disk"

    def _fit(self, x):
        folder = os.environ.get("ANN_BENCH_TEST_FILL")
        if folder:
            block = b"\0" * 2**16
            with open(os.path.join(folder, "filler.bin"), "ab", buffering=0) as f:
                try:
                    while True:
                        f.write(block)
                except OSError:  # ENOSPC: full now; fill the last partial block too
                    while True:
                        try:
                            f.write(b"\0")
                        except OSError:
                            break
        super()._fit(x)


@register
class NotInstalled(NumpyBruteForce):
    """An adapter whose library is not installed here (as nmslib on Python 3.13)."""

    name = "test-not-installed"
    module = "ann_bench_no_such_library"
    distribution = "ann-bench-no-such-library"


@register
class ExactUpdates(NumpyBruteForce):
    """Exact search that adds and removes in place (a removed row scores -inf): replayed, it must
    score recall 1 at every step, so any slip in the replay's id bookkeeping shows. With
    ``abort_at_add`` it aborts (as a failed assertion in a C extension does) at that add call:
    a replay that crashes midway."""

    name = "test-exact-updates"
    exact = False
    updates = IN_PLACE
    build_params = {"abort_at_add": Param(int, 0, min=0)}

    def _fit(self, x):
        super()._fit(x)
        self.gone, self.adds = np.zeros(len(x), bool), 0

    def _add(self, x, ids):
        self.adds += 1
        if self.adds == self.params["abort_at_add"]:
            os.abort()
        self.x = np.concatenate([self.x, x])
        self.sq = np.einsum("ij,ij->i", self.x, self.x)
        self.gone = np.concatenate([self.gone, np.zeros(len(x), bool)])

    def _remove(self, ids):
        self.gone[ids] = True

    def _scores(self, q):
        s = super()._scores(q)
        s[:, self.gone] = -np.inf
        return s

    def search_batch(self, q, k, threads):
        return pad([self.search_one(v[None], k) for v in q], k)

    def search_one(self, v, k):
        return top_k(self._scores(v), min(k, int((~self.gone).sum())))[0]


@register
class SlowExactUpdates(ExactUpdates):
    """:class:`ExactUpdates` taking ``sleep_ms`` per query: a replay slow enough to interrupt midway."""

    name = "test-slow-exact-updates"
    query_params = {"sleep_ms": Param(float, 20.0, min=0)}

    def _set_query(self, sleep_ms):
        self.sleep_s = sleep_ms / 1000

    def search_one(self, v, k):
        time.sleep(self.sleep_s)
        return super().search_one(v, k)
