"""ann-bench: which ANN index to deploy for two-tower retrieval, measured on real workloads.

Stages, each reading the previous stage's files so any can be rerun alone:
``data`` -> ``embeddings`` -> ``workloads`` -> ``sweep`` -> ``results`` -> ``analysis``.
"""

__version__ = "0.1.0"
