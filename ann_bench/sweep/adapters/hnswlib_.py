"""hnswlib: HNSW with native inner product, cosine and L2."""

from __future__ import annotations

import numpy as np

from ..params import Param
from ..registry import register
from .base import ALL_NATIVE, EF_CONSTRUCTION_START, IN_PLACE, Adapter, pad


@register
class Hnswlib(Adapter):
    name = "hnswlib"
    module = "hnswlib"
    distribution = "hnswlib"
    metrics = ALL_NATIVE
    build_params = {
        "M": Param(int, 16, min=2, max=512, help="graph degree", tune=(4, 64), log=True, raises_recall=True),
        "ef_construction": Param(int, 200, min=1, help="candidate list size while building", tune=(32, 512),
                                 start=EF_CONSTRUCTION_START, log=True, raises_recall=True),
        "seed": Param(int, 100, help="random seed of the level assignment"),
    }
    query_params = {"ef": Param(int, 10, min=1, help="candidate list size while searching (hnswlib uses max(ef, k))",
                                 tune=(1, 4096), log=True, monotone=True)}
    seed_param = "seed"
    updates = IN_PLACE  # add_items with new labels; mark_deleted hides a label from every search

    def _fit(self, x):
        import hnswlib

        self.index = hnswlib.Index(space=self.space, dim=x.shape[1])
        self.index.init_index(max_elements=len(x), ef_construction=self.params["ef_construction"],
                              M=self.params["M"], random_seed=self.params["seed"])
        self.index.set_num_threads(self.threads)
        self.index.add_items(x, num_threads=self.threads)

    def _set_query(self, ef):
        self.index.set_ef(ef)

    def effective_query(self, k):
        return {"ef": max(self.query["ef"], k)}  # hnswlib never searches with ef < k

    def search_batch(self, q, k, threads):
        try:
            ids, _ = self.index.knn_query(q, k=k, num_threads=threads)  # hnswlib searches with max(ef, k)
        except RuntimeError:  # fewer than k live items reachable for some query (after deletions)
            return pad([self.search_one(v, k) for v in q], k)
        return ids.astype("int64")

    def search_one(self, v, k):
        try:
            return self.index.knn_query(v, k=k, num_threads=1)[0][0]
        except RuntimeError:  # fewer than k live items reachable: what it can give is not returned
            return np.zeros(0, dtype=np.int64)

    def _add(self, x, ids):
        need = self.index.get_current_count() + len(x)
        if need > self.index.get_max_elements():
            self.index.resize_index(max(need, 2 * self.index.get_max_elements()))
        self.index.add_items(x, ids, num_threads=self.threads)

    def _remove(self, ids):
        for i in ids.tolist():
            self.index.mark_deleted(i)

    native_filter = True

    def search_one_filtered(self, v, k, exclude):
        excluded = set(exclude.tolist())  # hnswlib calls back into Python for every candidate
        try:
            return self.index.knn_query(v, k=k, num_threads=1, filter=lambda label: label not in excluded)[0][0]
        except RuntimeError:  # it found fewer than k allowed ids: all count as misses
            return np.zeros(0, dtype=np.int64)

    def save(self, path):
        self.index.save_index(path)
        return True

    @classmethod
    def accurate_params(cls, n):
        return {"M": 32, "ef_construction": 200}, {"ef": 256}
