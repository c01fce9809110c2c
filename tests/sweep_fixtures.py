"""Fixtures shared by the sweep tests: a tiny u2i workload, misbehaving plugin adapters."""

import os
import sys
from pathlib import Path

import numpy as np
import pytest

from ann_bench.sweep import config
from ann_bench.workloads import format as wformat
from ann_bench.workloads.groundtruth import exact_knn

TESTS = Path(__file__).resolve().parent


@pytest.fixture(autouse=True)
def plugins(monkeypatch):
    monkeypatch.setenv("ANN_BENCH_PLUGINS", "plugin_adapters")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")])))
    sys.path.insert(0, str(TESTS))
    yield
    sys.path.remove(str(TESTS))


@pytest.fixture
def workload(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1_000, 8)).astype(np.float32)
    q = rng.standard_normal((40, 8)).astype(np.float32)
    ids, d = exact_knn(q, x, 100, "ip")
    rel = wformat.Ragged.from_lists([ids[i, 3:6].astype(np.int64) for i in range(40)])
    seen = wformat.Ragged.from_lists([ids[i, :2].astype(np.int64) for i in range(40)])
    f_ids, f_d = exact_knn(q, x, 100, "ip", exclude=[seen[i] for i in range(40)])
    w = wformat.Workload("tiny.u2i.ip", "ip", x, q, ids, d, relevant=rel, seen=seen, filtered_neighbors=f_ids, filtered_distances=f_d)
    return wformat.write(w, tmp_path / "tiny.u2i.ip.hdf5")


def cfg(algorithms, **settings):
    return config.parse({"settings": {"repeats": 1, **settings}, "algorithms": algorithms})


def sweep_workers(pid: int) -> list:
    """The isolated worker processes under process ``pid`` (children that exit or turn zombie
    while being looked at, such as a short ``git`` call, are passed over)."""
    import psutil

    out = []
    for child in psutil.Process(pid).children(recursive=True):
        try:
            if "ann_bench.sweep.worker" in " ".join(child.cmdline()):
                out.append(child)
        except psutil.Error:
            pass
    return out
