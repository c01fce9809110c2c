"""Voyager (Spotify): HNSW with inner product, cosine and Euclidean spaces.

Voyager's inner-product space stores each vector with one more coordinate, computed from the
largest norm inserted *so far* (its order-preserving transform, ``TypedIndex.h``): in row order
items get coordinates from different maxima and the graph mixes geometries, so results depend
on how the file happens to be sorted. The first build inserts the items largest norm first (ids
unchanged): every coordinate then comes from the final maximum, the transform is exact, as the
library intends, and items added later with smaller norms get coordinates consistent with it.
Recall@10 at M=16, ef_construction=100, ef=40 (``benchmarks/voyager_insert_order.py``, with
``--workload ml-latest-small.dot.u2i.ip`` for the second line):

* 400,000 items of the 1M catalog: row order 0.697, largest first 0.904 (hnswlib 0.900);
* ml-latest-small's 9,742 items: row order 0.985, largest first 0.953 (a row order that
  happens to correlate with the norm, +0.29, builds nearly the plain inner-product graph there).

Smallest first builds the plain inner-product graph (0.993 and 0.874), but every item added
afterwards gets a non-zero coordinate the graph was not built with: in the streaming replay of
the 1M catalog recall fell from 0.880 to 0.538 (largest first: 0.887 to 0.838; ``ann-bench stream
--workloads ml-latest-small.dot.u2i.ip.synthetic1M --algorithms voyager --force`` at commits
d4e0c57 and efb99a5).
"""

from __future__ import annotations

import numpy as np

from ..params import Param
from ..registry import register
from .base import ALL_NATIVE, IN_PLACE, Adapter, pad


@register
class Voyager(Adapter):
    name = "voyager"
    module = "voyager"
    distribution = "voyager"
    metrics = ALL_NATIVE
    build_params = {
        "M": Param(int, 12, min=2, max=512, help="graph degree", tune=(4, 64), log=True, raises_recall=True),
        "ef_construction": Param(int, 200, min=1, help="candidate list size while building", tune=(32, 512), log=True,
                                 raises_recall=True),
        "seed": Param(int, 1, help="random seed of the level assignment"),
    }
    query_params = {"ef": Param(int, 10, min=1, help="query_ef (Voyager uses max(ef, k))", tune=(1, 4096), log=True,
                                 monotone=True)}
    seed_param = "seed"
    updates = IN_PLACE  # add_items under new ids; mark_deleted hides an id from every query
    revision = 1  # 1: the first build inserts largest norm first (a6c3f58); row order before

    def _fit(self, x):
        from voyager import Index, Space

        space = {"ip": Space.InnerProduct, "cosine": Space.Cosine, "l2": Space.Euclidean}[self.space]
        self.index = Index(space, num_dimensions=x.shape[1], M=self.params["M"],
                           ef_construction=self.params["ef_construction"], random_seed=self.params["seed"])
        order = np.argsort(-np.linalg.norm(x, axis=1), kind="stable") if self.space == "ip" else np.arange(len(x))
        self.index.add_items(x[order], ids=order, num_threads=self.threads)

    def _set_query(self, ef):
        self._ef = ef

    def effective_query(self, k):
        return {"ef": max(self._ef, k)}

    def search_batch(self, q, k, threads):
        try:
            ids, _ = self.index.query(q, k=k, num_threads=threads, query_ef=max(self._ef, k))
        except RuntimeError:  # fewer than k live items reachable for some query (after deletions)
            return pad([self.search_one(v, k) for v in q], k)
        return ids.astype(np.int64)

    def search_one(self, v, k):
        try:
            return self.index.query(v, k=k, query_ef=max(self._ef, k))[0]
        except RuntimeError:  # fewer than k live items reachable
            return np.zeros(0, dtype=np.int64)

    def _add(self, x, ids):
        self.index.add_items(x, ids=ids, num_threads=self.threads)

    def _remove(self, ids):
        for i in ids.tolist():
            self.index.mark_deleted(i)

    def save(self, path):
        self.index.save(path)
        return True

    @classmethod
    def accurate_params(cls, n):
        return {"M": 32, "ef_construction": 200}, {"ef": 256}
