"""Exact search in PyTorch on the CPU or a GPU (``device: cuda``): the line every CPU index is
judged against when a GPU is at hand.

Batch search is :class:`ann_bench.torch_search.Base`'s blocked search; a single query is one
matrix-vector product and a top-k on the device. Every timed call starts from queries in host
memory and ends with ids in host memory, so the copies to and from the GPU are part of what is
measured, as they are for a service. The result file records the GPU, its memory, CUDA, the
driver and torch (:meth:`TorchExact.environment`).
"""

from __future__ import annotations

import numpy as np

from ..params import Param
from ..registry import register
from .base import NATIVE, NORMALIZE_IP, Adapter


@register
class TorchExact(Adapter):
    name = "torch-exact"
    exact = True
    module = "torch"
    distribution = "torch"
    metrics = {"ip": NATIVE, "l2": NATIVE, "cosine": NORMALIZE_IP}
    build_params = {"device": Param(str, "cpu", help="where the base sits and the search runs: cpu, cuda or cuda:N")}

    def _fit(self, x):
        from ... import torch_search

        self._torch = torch_search
        self.dev = torch_search.device(self.params["device"])
        self._threads(self.threads)
        before = self._device_bytes()
        self.base = torch_search.Base(x, self.space, self.dev)
        self.device_mb = (self._device_bytes() - before) / 2**20 if self.dev.type == "cuda" else 0.0
        self._threads(1)  # single queries run on one thread; a batch sets its own count

    def _device_bytes(self) -> int:
        import torch

        return torch.cuda.memory_allocated(self.dev) if self.dev.type == "cuda" else 0

    def _threads(self, n: int) -> None:
        import torch

        if torch.get_num_threads() != n:
            torch.set_num_threads(n)

    def search_batch(self, q, k, threads):
        self._threads(threads)
        try:
            return self.base.search(q, k)[0]
        finally:
            self._threads(1)

    def split_queries(self, q):
        import torch

        return [torch.from_numpy(np.ascontiguousarray(q[i])) for i in range(len(q))]

    def search_one(self, v, k):
        return self.base.search_one(v, k)

    native_filter = True

    def search_one_filtered(self, v, k, exclude):
        ids, _ = self.base.search(v.numpy()[None, :], min(k, self.n_base - len(exclude)), exclude=[exclude],
                                  query_block=1)
        return ids[0][ids[0] >= 0]

    def environment(self) -> dict:
        return self._torch.facts(self.dev) | ({"device_index_mb": round(self.device_mb, 3)} if self.dev.type == "cuda" else {})

    def save(self, path):
        np.save(path, self.base.x.cpu().numpy())
        return True

    @classmethod
    def warm_up(cls, metric: str, dim: int) -> None:
        """The CPU path, and the GPU's context and kernels where one is usable (its first call
        takes seconds: not the build's time)."""
        import torch

        super().warm_up(metric, dim)
        if torch.cuda.is_available():
            x = np.random.default_rng(0).standard_normal((500, dim)).astype(np.float32)
            index = cls(metric, dim, threads=1, device="cuda")
            index.fit(x)
            index.search_batch(index.prepare_queries(x[:4]), 10, 1)
            index.search_one(index.split_queries(index.prepare_queries(x[:1]))[0], 10)

    @classmethod
    def accurate_params(cls, n):
        return {}, {}
