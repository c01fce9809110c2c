"""The BLAS kernels the catalog scale-up runs on, pinned to OpenBLAS's Haswell ones so that one
bundle and seed grow the same catalog on every x86-64 machine with AVX2.

The scale-up (:mod:`.scale`) clusters the real items (faiss k-means), takes each cluster's
covariance and Cholesky factor (numpy) and draws samples through matrix products. numpy and faiss
each ship an OpenBLAS that picks its kernels by the CPU it finds, and kernels of other widths sum
in other orders: on an AVX-512 machine a 1M-item scale-up under ``OPENBLAS_CORETYPE=Haswell``
gave 2 of its 990,258 synthetic vectors different by up to 3.7e-9 from the default kernels'
(``benchmarks/scale_kernels.py``): the same catalog for search, another content hash.
OpenBLAS reads the variable once, when it loads, and numpy has long been loaded by then, so
:func:`fill` runs the scale-up in a child process started with the variable set, unless the
user set it already (then it is kept, and the work runs here), or the CPU is not x86-64 with
AVX2. What the work ran on is returned, for the workload to record (``scaled_on``).
"""

from __future__ import annotations

import multiprocessing
import os
import tempfile
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..errors import AnnBenchError
from ..host import cpu_model, pins_in_effect, pins_to_set

PINS = {"OPENBLAS_CORETYPE": "Haswell"}


def loaded() -> list[dict]:
    """Every OpenBLAS loaded in this process: which library, its version, kernels and threads."""
    from threadpoolctl import ThreadpoolController

    return [{"library": Path(lib["filepath"]).name, "version": lib["version"], "kernels": lib["architecture"],
             "threads": lib["num_threads"]} for lib in ThreadpoolController().select(internal_api="openblas").info()]


def child_env() -> dict[str, str]:
    """The variables a child process is started with to run on the pinned kernels; empty where the
    work runs in this process (the user set them, or the CPU cannot run AVX2 code)."""
    return pins_to_set(PINS)


@contextmanager
def _environ(extra: dict[str, str]):
    old = {k: os.environ.get(k) for k in extra}
    os.environ.update(extra)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _facts() -> dict:
    """What this process runs on: the CPU, the pinning variables set, every loaded OpenBLAS."""
    return {"cpu": cpu_model(), "pinned": pins_in_effect(PINS), "openblas": loaded()}


def _fill_file(fn, path: Path, args: tuple, kwargs: dict):
    out = np.load(path, mmap_mode="r+")
    result = fn(*args, out=out, **kwargs)
    out.flush()
    return result, _facts()


def fill(fn, out: np.ndarray, *args, scratch: Path, **kwargs):
    """``fn(*args, out=out, **kwargs)`` on the pinned kernels: ``(its result, what it ran on)``.

    In a child process the output goes through a file under ``scratch`` (removed afterwards):
    /dev/shm is 64 MB in a default container, a 10M-item catalog 2.5 GB."""
    env = child_env()
    if not env:
        return fn(*args, out=out, **kwargs), _facts()
    with tempfile.TemporaryDirectory(dir=scratch, prefix=".scale-") as tmp:
        path = Path(tmp) / "out.npy"
        np.lib.format.open_memmap(path, mode="w+", dtype=out.dtype, shape=out.shape).flush()
        # the child reads the environment when it starts, at the submit below
        try:
            with _environ(env), ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
                result, facts = pool.submit(_fill_file, fn, path, args, kwargs).result()
        except BrokenProcessPool:
            pins = " ".join(f"{k}={v}" for k, v in env.items())
            raise AnnBenchError(f"the child process drawing {len(out):,} synthetic items on pinned kernels ({pins}) died, out of "
                                "memory or killed (`dmesg` says which): free memory or grow a smaller catalog; with "
                                f"{pins} set in the environment they are drawn in this process.") from None
        out[...] = np.load(path, mmap_mode="r")
    return result, facts
