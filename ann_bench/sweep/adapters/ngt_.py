"""NGT (Yahoo Japan): ANNG graph index (ngtpy returns 0-based ids, in insertion order)."""

from __future__ import annotations

import tempfile


from ..params import Param
from ..registry import register
from .base import NATIVE, NORMALIZE_IP, Adapter, pad


@register
class NGT(Adapter):
    name = "ngt"
    module = "ngtpy"
    distribution = "ngt"
    metrics = {"l2": NATIVE, "cosine": NORMALIZE_IP, "ip": NATIVE}
    build_params = {
        "edge_size_for_creation": Param(int, 10, min=1, help="edges per node while building the graph", tune=(5, 80), log=True,
                                        raises_recall=True),
        "edge_size_for_search": Param(int, 40, min=1, help="edges per node followed while searching", tune=(10, 160), log=True,
                                      raises_recall=True),
    }
    query_params = {"epsilon": Param(float, 0.1, min=-1.0, help="search range coefficient", tune=(-0.1, 0.5), monotone=True)}
    deterministic = False

    def _fit(self, x):
        import ngtpy

        self._dir = tempfile.TemporaryDirectory(prefix="ngt-")
        path = self._dir.name + "/index"
        ngtpy.create(path, x.shape[1], distance_type="Inner Product" if self.space == "ip" else "L2", object_type="Float",
                     edge_size_for_creation=self.params["edge_size_for_creation"],
                     edge_size_for_search=self.params["edge_size_for_search"])
        self.index = ngtpy.Index(path)
        self.index.batch_insert(x, num_threads=self.threads)

    def _set_query(self, epsilon):
        self._eps = epsilon
        self.index.set(epsilon=epsilon)  # batch_search reads it from the index

    def search_batch(self, q, k, threads):
        import ngtpy
        from threadpoolctl import threadpool_limits

        results = ngtpy.BatchResults()
        with threadpool_limits(limits=threads, user_api="openmp"):  # NGT's batch search is an OpenMP loop
            self.index.batch_search(q, results, k, with_distance=False)
        return pad(list(results.get_ids()), k)

    def search_one(self, v, k):
        return [i for i, _ in self.index.search(v, size=k, epsilon=self._eps)]

    def save(self, path):
        self.index.save()
        return False  # NGT writes into its own folder; its size is not reported

    @classmethod
    def accurate_params(cls, n):
        return {"edge_size_for_creation": 20, "edge_size_for_search": 60}, {"epsilon": 0.3}



