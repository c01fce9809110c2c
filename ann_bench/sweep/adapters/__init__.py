"""Index adapters; importing this package registers every built-in one."""

from . import annoy_, bruteforce, faiss_, hnswlib_, ngt_, nmslib_, pynndescent_, scann_, torch_exact, usearch_, voyager_  # noqa: F401
from .base import ALL_NATIVE, NATIVE, NORMALIZE_IP, Adapter

__all__ = ["Adapter", "ALL_NATIVE", "NATIVE", "NORMALIZE_IP"]
