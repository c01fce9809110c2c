"""Exact brute force in numpy (BLAS): the baseline any index must beat to be worth it."""

from __future__ import annotations

import numpy as np

from ... import exact_search
from ...topk import top_k
from ..registry import register
from .base import NATIVE, NORMALIZE_IP, Adapter


@register
class NumpyBruteForce(Adapter):
    name = "numpy-bruteforce"
    exact = True
    module = "numpy"
    distribution = "numpy"
    metrics = {"ip": NATIVE, "l2": NATIVE, "cosine": NORMALIZE_IP}

    def _fit(self, x):
        self.x = x.copy()  # its own copy, so its memory counts as the index's
        self.sq = np.einsum("ij,ij->i", x, x)

    def _scores(self, q):
        return exact_search.scores(q, self.x, self.sq, self.space)

    def search_batch(self, q, k, threads):
        """Tiles of queries x base folded into a running top k, query blocks spread over
        ``threads`` Python threads at one BLAS thread each (:mod:`ann_bench.exact_search`)."""
        return exact_search.search(q, self.x, k, self.space, threads=threads)[0]

    def split_queries(self, q):
        return [q[i : i + 1] for i in range(len(q))]

    def search_one(self, v, k):
        return top_k(self._scores(v), k)[0]

    native_filter = True

    def search_one_filtered(self, v, k, exclude):
        scores = self._scores(v)
        scores[0, exclude] = -np.inf
        return top_k(scores, min(k, self.n_base - len(exclude)))[0]

    def save(self, path):
        np.save(path, self.x)
        return True

    @classmethod
    def accurate_params(cls, n):
        return {}, {}
