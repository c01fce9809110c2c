"""PyNNDescent: nearest-neighbour-descent graph. Its ``dot`` metric normalises the vectors,
so it is not a true inner-product search: only cosine and l2 are declared."""

from __future__ import annotations

from ..params import Param
from ..registry import register
from .base import NATIVE, Adapter


@register
class PyNNDescent(Adapter):
    name = "pynndescent"
    module = "pynndescent"
    distribution = "pynndescent"
    metrics = {"cosine": NATIVE, "l2": NATIVE}
    build_params = {
        "n_neighbors": Param(int, 30, min=2, help="graph degree while building", tune=(8, 96), log=True, raises_recall=True),
        "pruning_degree_multiplier": Param(float, 1.5, min=0.1, help="search graph degree = n_neighbors x this, after pruning"),
        "diversify_prob": Param(float, 1.0, min=0.0, max=1.0, help="chance of pruning a redundant edge"),
        "seed": Param(int, 42, help="random seed of the descent"),
    }
    query_params = {"epsilon": Param(float, 0.1, min=0.0, help="search expansion", tune=(0.0, 0.6), monotone=True)}
    deterministic = False
    threaded_batch = False  # numba-parallel build; queries run in one thread
    seed_param = "seed"

    def _fit(self, x):
        from pynndescent import NNDescent

        p = self.params
        self.index = NNDescent(x, metric="euclidean" if self.space == "l2" else "cosine", n_neighbors=p["n_neighbors"],
                               pruning_degree_multiplier=p["pruning_degree_multiplier"], diversify_prob=p["diversify_prob"],
                               random_state=p["seed"], n_jobs=self.threads)
        self.index.prepare()
        self.index.query(x[:2], k=2)  # compile the numba search before anything is timed

    def _set_query(self, epsilon):
        self._eps = epsilon

    def search_batch(self, q, k, threads):
        return self.index.query(q, k=k, epsilon=self._eps)[0].astype("int64")

    def split_queries(self, q):
        return [q[i : i + 1] for i in range(len(q))]

    def search_one(self, v, k):
        return self.index.query(v, k=k, epsilon=self._eps)[0][0]

    @classmethod
    def accurate_params(cls, n):
        return {"n_neighbors": 30}, {"epsilon": 0.3}
