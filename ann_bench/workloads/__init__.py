"""Stage 3: search workloads (vectors + exact ground truth) in HDF5.

Reading a workload never imports torch: the later stages (sweep, results, analysis) import
this package, so building workloads from a trained model (:mod:`.build`, which reads the
model's files) is imported only where it is used.
"""

from .format import Ragged, Workload, read, write
from .groundtruth import METRICS, exact_knn

__all__ = ["Ragged", "Workload", "read", "write", "METRICS", "exact_knn"]
