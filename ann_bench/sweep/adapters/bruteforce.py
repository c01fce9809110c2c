"""Exact brute force in numpy (BLAS): the baseline any index must beat to be worth it."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ...threads import blas_threads
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
        if self.space == "l2":
            s = (2 * q) @ self.x.T
            s -= self.sq
            return s
        return q @ self.x.T

    def search_batch(self, q, k, threads):
        """Blocks of queries (scores, then top k), spread over ``threads`` Python threads, each
        block's BLAS at one thread: both the product and the selection run in parallel
        (numpy releases the GIL in both)."""
        k = min(k, len(self.x))
        out = np.empty((len(q), k), dtype=np.int64)
        step = max(1, (16 << 20) // max(1, len(self.x)))  # about 64 MB of scores per block
        if threads > 1:
            step = max(1, min(step, -(-len(q) // (4 * threads))))  # enough blocks to share

        def block(s):
            out[s : s + step] = top_k(self._scores(q[s : s + step]), k)

        with blas_threads(1):
            if threads > 1:
                with ThreadPoolExecutor(threads) as pool:
                    list(pool.map(block, range(0, len(q), step)))
            else:
                for s in range(0, len(q), step):
                    block(s)
        return out

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
