"""ann-bench as a library: the few calls a script or notebook needs, on top of the stages.

    from ann_bench import api

    w = api.load_workload("ml-latest-small.dot.u2i.ip")          # a name in datasets/, or a path
    rows = api.run("hnswlib", w.path, build={"M": 16}, query={"ef": [10, 40, 160]}, results="results/mine")
    df = api.results("results/mine")                             # every run under a folder, as pandas

:func:`run` measures exactly as ``ann-bench sweep`` does (each build in its own isolated
process, the same protocol and result files, resumable), so its rows are comparable with a
sweep's. Everything else is in the stage packages (``ann_bench.workloads``, ``.sweep``,
``.results``, ``.analysis``), which this module only wires together.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from . import paths
from .errors import ConfigError

__all__ = ["Workload", "algorithms", "load_workload", "results", "run"]


@dataclass(frozen=True)
class Workload:
    """A search workload: base vectors, queries, exact neighbours, and where it is stored."""

    name: str
    metric: str
    path: Path
    base: np.ndarray
    queries: np.ndarray
    neighbors: np.ndarray
    distances: np.ndarray


def load_workload(name: str | Path) -> Workload:
    """A workload by name (``datasets/workloads/<name>.hdf5``) or path; its file is checked as
    a sweep checks it (shapes, values, ground truth on a sample, content hash)."""
    from .workloads import format as wformat

    path = paths.find_workload(str(name))
    w = wformat.read(path)
    return Workload(w.name, w.metric, path, w.train, w.test, w.neighbors, w.distances)


def algorithms() -> list[str]:
    """The registered index adapters (``ann-bench algorithms`` describes each)."""
    from .sweep import registry

    return registry.names()


def run(algorithm: str, workload: str | Path, *, build: dict | None = None, query: dict | None = None,
        results: str | Path = "results/api", k=(10,), repeats: int = 3, filtered: bool = False,
        progress: bool = False) -> pd.DataFrame:
    """Measure one adapter on one workload: every combination of the ``build`` values (a value
    or a list) and of the ``query`` values, as a one-entry ``algorithms.yaml`` would; returns
    the rows of the results table for it (one per query configuration and depth; with
    ``filtered``, also the filtered search that leaves out each user's seen items)."""
    from .results.table import gather
    from .sweep import config, registry
    from .sweep.runner import sweep

    def grid(values: dict | None) -> dict:
        return {name: v if isinstance(v, list) else [v] for name, v in (values or {}).items()}

    settings = {"k": list(k), "repeats": repeats} | ({} if filtered else {"filtered_k": 0})
    cfg = config.parse({"settings": settings,
                        "algorithms": {algorithm: {"build": grid(build), "query": grid(query)}}}, source="api.run")
    path = paths.find_workload(str(workload))
    if why := registry.unavailable(algorithm):
        raise ConfigError(f"{algorithm} cannot run here: {why}.")
    outcomes = sweep(cfg, [path], Path(results), progress=progress)
    if not outcomes:
        raise ConfigError(f"{algorithm} serves none of this workload's metric ({path.name}).")
    files = {str(o.path) for o in outcomes}
    df = gather(Path(results))
    return df[df["file"].isin(files)].reset_index(drop=True)


def results(folder: str | Path = "results") -> pd.DataFrame:
    """Every run under ``folder`` as the results table (one row per run, query configuration
    and depth; ``recall@10``, ``qps_single``, ``latency_p99_ms``, ``build_s``, ``index_mb``, ...)."""
    from .results.table import gather

    return gather(Path(folder))
