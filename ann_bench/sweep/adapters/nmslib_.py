"""nmslib (the metabrainz SIMD build): HNSW over negdotprod, cosinesimil and l2."""

from __future__ import annotations



from ..params import Param
from ..registry import register
from .base import ALL_NATIVE, Adapter, pad

_SPACES = {"ip": "negdotprod", "cosine": "cosinesimil", "l2": "l2"}


@register
class NmslibHNSW(Adapter):
    name = "nmslib-hnsw"
    module = "nmslib"
    distribution = "nmslib-metabrainz"
    metrics = ALL_NATIVE
    build_params = {
        "M": Param(int, 16, min=2, max=512, help="graph degree", tune=(4, 64), log=True, raises_recall=True),
        "ef_construction": Param(int, 200, min=1, help="efConstruction", tune=(32, 512), log=True, raises_recall=True),
    }
    query_params = {"ef": Param(int, 10, min=1, help="efSearch", tune=(1, 4096), log=True, monotone=True)}
    deterministic = False  # parallel insertion order varies

    def _fit(self, x):
        import nmslib

        self.index = nmslib.init(method="hnsw", space=_SPACES[self.space], data_type=nmslib.DataType.DENSE_VECTOR)
        self.index.addDataPointBatch(x)
        self.index.createIndex(
            {"M": self.params["M"], "efConstruction": self.params["ef_construction"], "post": 0, "indexThreadQty": self.threads},
            print_progress=False,
        )

    def _set_query(self, ef):
        self.index.setQueryTimeParams({"efSearch": ef})

    def search_batch(self, q, k, threads):
        return pad([ids for ids, _ in self.index.knnQueryBatch(q, k=k, num_threads=threads)], k)

    def search_one(self, v, k):
        return self.index.knnQuery(v, k=k)[0]

    def save(self, path):
        self.index.saveIndex(path, save_data=False)
        return True

    @classmethod
    def accurate_params(cls, n):
        return {"M": 32, "ef_construction": 200}, {"ef": 256}



