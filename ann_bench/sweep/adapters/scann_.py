"""ScaNN: partitioning tree + anisotropic quantisation (asymmetric hashing) + exact reorder."""

from __future__ import annotations

import os

from ..params import Param
from ..registry import register
from .base import NATIVE, NORMALIZE_IP, Adapter


@register
class ScaNN(Adapter):
    name = "scann"
    module = "scann"
    distribution = "scann"
    metrics = {"ip": NATIVE, "l2": NATIVE, "cosine": NORMALIZE_IP}
    deterministic = False  # its k-means tree differs between builds, even on one training thread
    build_params = {
        "num_leaves": Param(int, 1000, min=1, help="partitions of the tree", tune=("sqrt(N)/4", "4*sqrt(N)"), log=True),
        "avq_threshold": Param(float, 0.2, min=0.0, help="anisotropic quantisation threshold (ip/cosine)"),
        "dims_per_block": Param(int, 2, min=1, help="dimensions per quantisation block"),
        "reorder": Param(int, 100, min=0, help="candidates kept for exact re-scoring (0: none)"),
        "training_sample_size": Param(int, 100_000, min=1, help="items the tree and quantiser are trained on"),
    }
    query_params = {
        "leaves_to_search": Param(int, 1, min=1, help="partitions searched per query", tune=(1, "num_leaves"), log=True,
                                  monotone=True),
        "reorder_k": Param(int, 100, min=1, help="candidates re-scored exactly per query", tune=(20, 2000), log=True,
                           monotone=True, needs="reorder"),
    }

    def _fit(self, x):
        import scann

        p = self.params
        dist = "squared_l2" if self.space == "l2" else "dot_product"
        leaves = min(p["num_leaves"], len(x))
        b = scann.scann_ops_pybind.builder(x, 10, dist)
        b.set_n_training_threads(self.threads)
        b = b.tree(num_leaves=leaves, num_leaves_to_search=1, training_sample_size=min(p["training_sample_size"], len(x)))
        if self.space == "l2":
            b = b.score_ah(p["dims_per_block"], anisotropic_quantization_threshold=float("nan"))
        else:
            b = b.score_ah(p["dims_per_block"], anisotropic_quantization_threshold=p["avq_threshold"])
        if p["reorder"]:
            b = b.reorder(p["reorder"])
        self.searcher = b.build()
        self.searcher.set_num_threads(self.threads)

    def _set_query(self, leaves_to_search, reorder_k):
        self._leaves, self._reorder = leaves_to_search, reorder_k

    def effective_build(self):
        n = self.n_base
        return self.params | {"num_leaves": min(self.params["num_leaves"], n),
                              "training_sample_size": min(self.params["training_sample_size"], n)}

    def effective_query(self, k):
        eff = super().effective_query(k) | {"leaves_to_search": min(self._leaves, self.effective_build()["num_leaves"])}
        if "reorder_k" in eff:
            eff["reorder_k"] = max(self._reorder, k)  # ScaNN re-scores at least the k answers
        return eff

    def search_batch(self, q, k, threads):
        self.searcher.set_num_threads(threads)
        pre = max(self._reorder, k) if self.params["reorder"] else None
        if threads > 1:
            ids, _ = self.searcher.search_batched_parallel(q, k, pre, self._leaves)
        else:
            ids, _ = self.searcher.search_batched(q, k, pre, self._leaves)
        return ids.astype("int64")

    def search_one(self, v, k):
        pre = max(self._reorder, k) if self.params["reorder"] else -1
        return self.searcher.search(v, k, pre, self._leaves)[0]

    def save(self, path):
        os.makedirs(path, exist_ok=True)
        self.searcher.serialize(path)
        return True

    @classmethod
    def accurate_params(cls, n):
        return {"num_leaves": 8, "reorder": 200, "dims_per_block": 2}, {"leaves_to_search": 8, "reorder_k": 200}



