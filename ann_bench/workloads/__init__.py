"""Stage 3: search workloads (vectors + exact ground truth) in HDF5."""

from .build import WorkloadSpec, build
from .format import Ragged, Workload, read, write
from .groundtruth import METRICS, exact_knn

__all__ = ["WorkloadSpec", "build", "Workload", "Ragged", "read", "write", "METRICS", "exact_knn"]
