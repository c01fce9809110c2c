"""Index adapters; importing this package registers every built-in one."""

from . import annoy_, bruteforce, faiss_, hnswlib_, nmslib_, scann_  # noqa: F401  (registration)
from .base import NATIVE, NORMALIZE_IP, Adapter

__all__ = ["Adapter", "NATIVE", "NORMALIZE_IP"]
