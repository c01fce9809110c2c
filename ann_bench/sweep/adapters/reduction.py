"""Maximum inner-product search through a nearest-neighbour index: the standard reduction.

Every base vector ``x`` gets one more coordinate, ``sqrt(M^2 - |x|^2)`` with ``M`` the largest
base norm, and every query ``q`` gets a ``0`` (Bachrach et al., RecSys 2014). All augmented base
vectors then have norm ``M``, and

    |q' - x'|^2 = |q|^2 + M^2 - 2 q.x        cos(q', x') = q.x / (|q| M)

so both the L2 order and the cosine order over the augmented vectors are the inner-product
order over the originals. Any adapter with an ``l2`` (or ``cosine``) search can then serve an
``ip`` workload: :func:`reduced` wraps it, and results record the run as ``reduction:l2``
(or ``reduction:cosine``), never as native inner-product search.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .base import Adapter

REDUCTIONS = ("l2", "cosine")


def augment_base(x: np.ndarray, dim: int | None = None) -> np.ndarray:
    """``[x, sqrt(M^2 - |x|^2)]``, every row with norm ``M`` (the largest norm in ``x``), padded
    with zero columns to ``dim`` (default: one more than ``x``'s)."""
    x64 = np.asarray(x, dtype=np.float64)
    sq = np.einsum("ij,ij->i", x64, x64)
    out = np.zeros((len(x64), dim or x64.shape[1] + 1), dtype=np.float32)
    out[:, : x64.shape[1]] = x64
    out[:, x64.shape[1]] = np.sqrt(np.maximum(sq.max(initial=0.0) - sq, 0.0))
    return out


def augment_queries(q: np.ndarray, dim: int | None = None) -> np.ndarray:
    """``[q, 0]``, padded with zero columns to ``dim`` (default: one more than ``q``'s)."""
    q = np.asarray(q, dtype=np.float32)
    out = np.zeros((len(q), dim or q.shape[1] + 1), dtype=np.float32)
    out[:, : q.shape[1]] = q
    return out


def handling(via: str) -> str:
    """What results record as the metric handling of a reduced run."""
    return f"reduction:{via}"


def describe(metric_handling: str) -> str:
    """``ip via l2`` for a run recorded as ``reduction:l2``; empty for any other handling."""
    via = metric_handling.partition("reduction:")[2]
    return f"ip via {via}" if via else ""


def possible(inner: type[Adapter]) -> list[str]:
    """The metrics ``inner`` can serve inner product through, in order of preference."""
    return [m for m in REDUCTIONS if m in inner.metrics]


class Reduced(Adapter):
    """An ``ip`` index made of an inner adapter searching augmented vectors with ``via``."""

    inner: type[Adapter]
    via: str

    def __init__(self, metric: str, dim: int, *, threads: int = 1, **params):
        super().__init__(metric, dim, threads=threads, **params)
        self.inner_dim = self.inner.fitting_dim(dim + 1, self.params)
        self.index = self.inner(self.via, self.inner_dim, threads=threads, **self.params)

    def prepare_base(self, x: np.ndarray) -> np.ndarray:
        return augment_base(x, self.inner_dim)

    def prepare_queries(self, q: np.ndarray) -> np.ndarray:
        return self.index.prepare_queries(augment_queries(q, self.inner_dim))

    def _fit(self, x: np.ndarray) -> None:
        self.index.fit(x)

    def fit(self, x: np.ndarray) -> None:
        super().fit(x)
        # the inner index's own bound methods: no extra call layer inside the timed loops
        self.search_batch, self.search_one = self.index.search_batch, self.index.search_one
        self.search_one_filtered, self.split_queries = self.index.search_one_filtered, self.index.split_queries

    def _set_query(self, **params) -> None:
        self.index.set_query_params(**params)

    def effective_query(self, k: int) -> dict:
        return self.index.effective_query(k)

    def effective_build(self) -> dict:
        return self.index.effective_build()

    def environment(self) -> dict:
        return self.index.environment()

    def save(self, path: str) -> bool:
        return self.index.save(path)

    @classmethod
    def warm_up(cls, metric: str, dim: int) -> None:
        cls.inner.warm_up(cls.via, cls.inner.fitting_dim(dim + 1, cls.inner.accurate_params(500)[0]))

    @classmethod
    def accurate_params(cls, n: int) -> tuple[dict, dict]:
        return cls.inner.accurate_params(n)


@lru_cache(maxsize=None)
def reduced(inner: type[Adapter], via: str) -> type[Adapter]:
    """``inner`` serving ``ip`` workloads through the augmentation and its ``via`` search."""
    if via not in possible(inner):
        raise ValueError(f"{inner.name} cannot serve inner product via '{via}' (it searches {', '.join(inner.metrics)})")
    attrs = {name: getattr(inner, name) for name in (
        "module", "distribution", "build_params", "query_params", "deterministic", "threaded_batch", "seed_param",
        "exact", "native_filter", "revision")}
    return type(f"{inner.__name__}Via{via.title()}", (Reduced,), attrs | {
        "name": reduced_name(inner.name, via), "inner": inner, "via": via, "metrics": {"ip": handling(via)},
        "__doc__": f"{inner.name} on inner product through the augmentation and its {via} search."})


_SEP = ":ip-via-"


def reduced_name(adapter: str, via: str) -> str:
    """The registry name of ``adapter`` reduced via ``via`` (e.g. ``pynndescent:ip-via-l2``)."""
    return f"{adapter}{_SEP}{via}"


def split_name(name: str) -> tuple[str, str]:
    """``(adapter, via)`` of a registry name; ``via`` is empty for an adapter searching natively."""
    adapter, _, via = name.partition(_SEP)
    return adapter, via
