"""Annoy: random-projection forests. ``dot`` is a true inner-product search in Annoy >= 1.17."""

from __future__ import annotations


from ..params import Param
from ..registry import register
from .base import ALL_NATIVE, Adapter, pad

_METRICS = {"ip": "dot", "cosine": "angular", "l2": "euclidean"}


@register
class Annoy(Adapter):
    name = "annoy"
    module = "annoy"
    distribution = "annoy"
    metrics = ALL_NATIVE
    build_params = {
        "n_trees": Param(int, 100, min=1, help="trees in the forest", tune=(4, 256), log=True),
        "seed": Param(int, 42, help="random seed"),
    }
    # tuned up to N: inspecting as many nodes as the catalog has items costs more than scoring
    # every item exactly (at 1M items: search_k=N 13 QPS single-query, faiss-flat 60)
    query_params = {"search_k": Param(int, -1, min=-1, help="nodes inspected per query (-1: n_trees * k)",
                                    tune=(10, "N"), log=True, monotone=True)}
    threaded_batch = False  # Annoy has no batch call: a batch is a loop of single queries
    seed_param = "seed"

    def _fit(self, x):
        from annoy import AnnoyIndex

        self.index = AnnoyIndex(x.shape[1], _METRICS[self.space])
        self.index.set_seed(self.params["seed"])
        for i, v in enumerate(x):
            self.index.add_item(i, v)
        self.index.build(self.params["n_trees"], n_jobs=self.threads)

    def _set_query(self, search_k):
        self._search_k = search_k

    def effective_query(self, k):
        return {"search_k": self._search_k if self._search_k > 0 else self.params["n_trees"] * k}

    def search_batch(self, q, k, threads):
        get = self.index.get_nns_by_vector
        return pad([get(v, k, self._search_k) for v in q], k)

    def search_one(self, v, k):
        return self.index.get_nns_by_vector(v, k, self._search_k)

    def split_queries(self, q):
        return [v.tolist() for v in q]  # Annoy converts each vector to a list anyway

    def save(self, path):
        return bool(self.index.save(path))

    @classmethod
    def accurate_params(cls, n):
        return {"n_trees": 50}, {"search_k": n * 10}



