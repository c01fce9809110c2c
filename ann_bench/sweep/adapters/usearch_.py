"""USearch: HNSW with native inner product, cosine and squared L2."""

from __future__ import annotations

import numpy as np

from ..params import Param
from ..registry import register
from .base import ALL_NATIVE, IN_PLACE, Adapter

_METRICS = {"ip": "ip", "cosine": "cos", "l2": "l2sq"}


@register
class USearch(Adapter):
    name = "usearch"
    module = "usearch"
    distribution = "usearch"
    metrics = ALL_NATIVE
    build_params = {
        "M": Param(int, 16, min=2, max=512, help="connectivity", tune=(4, 64), log=True, raises_recall=True),
        "ef_construction": Param(int, 128, min=1, help="expansion_add", tune=(32, 512), log=True, raises_recall=True),
    }
    query_params = {"ef": Param(int, 64, min=1, help="expansion_search (USearch uses max(ef, k))", tune=(1, 4096), log=True,
                                 monotone=True)}
    updates = IN_PLACE  # add() under new keys, remove() by key

    def _fit(self, x):
        from usearch.index import Index

        self.index = Index(ndim=x.shape[1], metric=_METRICS[self.space], dtype="f32",
                           connectivity=self.params["M"], expansion_add=self.params["ef_construction"])
        self.index.add(np.arange(len(x), dtype=np.uint64), x, threads=self.threads)

    def _set_query(self, ef):
        self.index.expansion_search = ef

    def effective_query(self, k):
        return {"ef": max(self.query["ef"], k)}

    def search_batch(self, q, k, threads):
        m = self.index.search(q, k, threads=threads)
        ids = m.keys.astype(np.int64)
        ids[np.arange(k)[None, :] >= np.asarray(m.counts)[:, None]] = -1
        return ids

    def search_one(self, v, k):
        return self.index.search(v, k).keys

    def _add(self, x, ids):
        self.index.add(ids.astype(np.uint64), x, threads=self.threads)

    def _remove(self, ids):
        self.index.remove(ids.astype(np.uint64))

    def save(self, path):
        self.index.save(path)
        return True

    @classmethod
    def accurate_params(cls, n):
        return {"M": 32, "ef_construction": 200}, {"ef": 256}
