"""faiss: exact Flat, HNSWFlat, IVFFlat, IVFPQ (with optional exact refine) and IVF-SQ8."""

from __future__ import annotations

import numpy as np

from ..params import Param
from ..registry import register
from .base import ADD_ONLY, EF_CONSTRUCTION_START, IN_PLACE, NATIVE, NORMALIZE_IP, Adapter

NLIST = ("sqrt(N)/4", "8*sqrt(N)")  # the inverted lists ann-bench tune searches
# where its first build starts: the middle of faiss's guideline for IVF indexes, 4*sqrt(N) to
# 16*sqrt(N) lists (faiss wiki, "Guidelines to choose an index"), or fewer where k-means would
# have under 39 points per list (below that faiss warns that it has too few to train on)
NLIST_START = ("8*sqrt(N)", "N/39")

_METRICS = {"ip": NATIVE, "l2": NATIVE, "cosine": NORMALIZE_IP}


class _Faiss(Adapter):
    module = "faiss"
    distribution = "faiss-cpu"
    metrics = _METRICS

    def faiss_metric(self):
        import faiss

        return faiss.METRIC_L2 if self.space == "l2" else faiss.METRIC_INNER_PRODUCT

    def _build(self, x: np.ndarray):
        raise NotImplementedError

    def _fit(self, x: np.ndarray) -> None:
        import faiss

        faiss.omp_set_num_threads(self.threads)
        self.index = self._build(x)

    def _set_query(self, **params) -> None:
        import faiss

        ps = faiss.ParameterSpace()
        for key, value in params.items():
            ps.set_index_parameter(self.index, key, value)

    def search_batch(self, q, k, threads):
        import faiss

        faiss.omp_set_num_threads(threads)
        _, ids = self.index.search(q, k)
        return ids

    def split_queries(self, q):
        return [q[i : i + 1] for i in range(len(q))]  # faiss takes 2-D input

    def search_one(self, v, k):
        return self.index.search(v, k)[1][0]

    native_filter = True

    def search_params(self, sel):
        """The index's search parameters with an id selector (the current query settings kept:
        a parameter object overrides the index's own values)."""
        import faiss

        return faiss.SearchParameters(sel=sel)

    def search_one_filtered(self, v, k, exclude):
        ids = self.index.search(v, k, params=self.search_params(self._selector(exclude)))[1][0]
        return ids[ids >= 0]

    def _selector(self, exclude):
        """An id selector leaving ``exclude`` out, made once per exclusion array: a streaming replay
        filters every query by the same array of retired ids, 100,000s of them at 1M items, and
        building the selector's hash set per query would cost more than the search (an array is
        never changed in place once passed)."""
        if self.__dict__.get("_excluded") is not exclude:
            import faiss

            self._excluded, self._not_excluded = exclude, faiss.IDSelectorNot(faiss.IDSelectorBatch(exclude))
        return self._not_excluded

    def _add(self, x, ids):
        self.index.add(x)  # ids run on from ntotal: n_base while nothing was removed (add-only indexes)

    def save(self, path: str) -> bool:
        import faiss

        faiss.write_index(self.index, path)
        return True


@register
class FaissFlat(_Faiss):
    """Exact search: the reference every approximate index is compared with."""

    name = "faiss-flat"
    exact = True
    # its batch search is a BLAS product (one thread under the harness's limit) plus a heap
    # update per query (OpenMP): at k = 10 the product dominates and all cores are no faster
    # (the conformance check measured 0.113 vs 0.112 s), so it is not declared threaded;
    # numpy-bruteforce is the exact baseline for all-cores batch
    threaded_batch = False
    updates = ADD_ONLY  # IndexFlat.remove_ids renumbers the ids after the removed ones

    def _build(self, x):
        import faiss

        index = faiss.IndexFlat(x.shape[1], self.faiss_metric())
        index.add(x)
        return index

    @classmethod
    def accurate_params(cls, n):
        return {}, {}


@register
class FaissHNSW(_Faiss):
    name = "faiss-hnsw"
    build_params = {
        "M": Param(int, 32, min=2, max=512, help="graph degree", tune=(4, 64), log=True, raises_recall=True),
        "ef_construction": Param(int, 200, min=1, help="candidate list size while building", tune=(32, 512),
                                 start=EF_CONSTRUCTION_START, log=True, raises_recall=True),
    }
    query_params = {"ef_search": Param(int, 64, min=1, help="candidate list size while searching", tune=(1, 4096), log=True,
                                     monotone=True)}
    updates = ADD_ONLY  # an HNSW graph in faiss grows but cannot drop a node

    def _build(self, x):
        import faiss

        index = faiss.IndexHNSWFlat(x.shape[1], self.params["M"], self.faiss_metric())
        index.hnsw.efConstruction = self.params["ef_construction"]
        index.add(x)
        return index

    def _set_query(self, ef_search):
        self.index.hnsw.efSearch = ef_search

    def search_params(self, sel):
        import faiss

        return faiss.SearchParametersHNSW(sel=sel, efSearch=self.query["ef_search"])

    @classmethod
    def accurate_params(cls, n):
        return {"M": 32, "ef_construction": 200}, {"ef_search": 256}


class _FaissIVF(_Faiss):
    query_params = {"nprobe": Param(int, 1, min=1, help="inverted lists visited per query (at most nlist)", tune=(1, "nlist"),
                                  log=True, monotone=True)}

    updates = IN_PLACE  # inverted lists hold explicit ids: added with the next ones, removed by id

    def effective_query(self, k):
        return super().effective_query(k) | {"nprobe": min(self.query["nprobe"], self.params["nlist"])}

    def _add(self, x, ids):
        self.index.add_with_ids(x, ids)  # not add(): after a removal ntotal no longer is the next id

    def _remove(self, ids):
        self.index.remove_ids(ids)

    def factory(self) -> str:
        raise NotImplementedError

    def _build(self, x):
        import faiss

        index = faiss.index_factory(x.shape[1], self.factory(), self.faiss_metric())
        index.train(x)
        index.add(x)
        return index

    def search_params(self, sel):
        import faiss

        return faiss.SearchParametersIVF(sel=sel, nprobe=self.query["nprobe"])


@register
class FaissIVFFlat(_FaissIVF):
    name = "faiss-ivf"
    build_params = {"nlist": Param(int, 1024, min=1, help="inverted lists (k-means centroids)", tune=NLIST, start=NLIST_START, log=True)}

    def factory(self):
        return f"IVF{self.params['nlist']},Flat"

    @classmethod
    def accurate_params(cls, n):
        return {"nlist": 16}, {"nprobe": 16}


@register
class FaissIVFSQ8(_FaissIVF):
    name = "faiss-ivfsq8"
    build_params = {"nlist": Param(int, 1024, min=1, help="inverted lists", tune=NLIST, start=NLIST_START, log=True)}

    def factory(self):
        return f"IVF{self.params['nlist']},SQ8"

    @classmethod
    def accurate_params(cls, n):
        return {"nlist": 16}, {"nprobe": 16}


@register
class FaissIVFPQ(_FaissIVF):
    """IVF with product quantisation; ``refine`` re-ranks k * k_factor candidates exactly."""

    name = "faiss-ivfpq"
    build_params = {
        "nlist": Param(int, 1024, min=1, help="inverted lists", tune=NLIST, start=NLIST_START, log=True),
        "m": Param(int, 16, min=1, help="sub-quantisers (must divide the dimension)"),
        "nbits": Param(int, 8, min=1, max=16, help="bits per sub-quantiser code"),
        "refine": Param(bool, False, help="keep full vectors and re-rank exactly"),
    }
    query_params = {
        "nprobe": Param(int, 1, min=1, help="inverted lists visited per query", tune=(1, "nlist"), log=True, monotone=True),
        "k_factor": Param(int, 1, min=1, help="with refine: candidates re-ranked = k * k_factor", tune=(1, 64), log=True,
                          monotone=True, needs="refine"),
    }

    def __init__(self, metric: str, dim: int, **kw):
        super().__init__(metric, dim, **kw)
        if self.params["refine"]:  # the refine stage's flat index numbers vectors in order and removes none
            self.updates = ADD_ONLY

    def _add(self, x, ids):
        # with refine: the add-only path of every faiss index; without: the inverted lists' ids
        (_Faiss._add if self.params["refine"] else _FaissIVF._add)(self, x, ids)

    @classmethod
    def fitting_dim(cls, dim, params):
        m = params.get("m", cls.build_params["m"].default)
        return -(-dim // m) * m

    def factory(self):
        p = self.params
        if self.dim % p["m"]:
            from ...errors import ConfigError

            raise ConfigError(f"{self.name}.build.m: {p['m']} does not divide the dimension {self.dim}.")
        return f"IVF{p['nlist']},PQ{p['m']}x{p['nbits']}" + (",RFlat" if p["refine"] else "")

    def _set_query(self, nprobe, k_factor):
        import faiss

        ps = faiss.ParameterSpace()
        ps.set_index_parameter(self.index, "nprobe", nprobe)
        if self.params["refine"]:
            faiss.downcast_index(self.index).k_factor = k_factor

    def search_params(self, sel):
        import faiss

        ivf = super().search_params(sel)
        if not self.params["refine"]:
            return ivf
        return faiss.IndexRefineSearchParameters(k_factor=self.query["k_factor"], base_index_params=ivf)

    @classmethod
    def accurate_params(cls, n):
        return {"nlist": 16, "m": 8, "nbits": 4, "refine": True}, {"nprobe": 16, "k_factor": 10}
