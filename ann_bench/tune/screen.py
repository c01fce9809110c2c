"""Screening: build parameters ranked on a catalog sample before the full catalog is built.

Where a full build is dear, a tuning run may afford only as many builds as it has build
parameters, or fewer: one build of Annoy at a million items is the middle of ``n_trees``' range,
a blind guess. Screening spends a little first: a seeded random sample of the catalog
(:func:`ann_bench.workloads.sample.catalog_sample`, written beside the workload), and a study
of its own on it, every build an ordinary result file under ``screen/``, its builds spread over
the space by a Sobol sequence (Optuna's ``QMCSampler``: after the recommended builds, the richest
among them, the range's low end and middle, then the gaps), each bisected toward the targets as a
full build is. The screened build that meets the most targets, then is fastest across them (the
geometric mean of its speed over the best speed per target), is the full study's first build; a
parameter whose range is relative to the catalog size (``nlist`` ~ sqrt(N)) keeps its place in the
range, others their value.

What screening cost is reported beside the answer (``screen_builds``, ``screen_query_configs``,
``screen_items``): builds on a sample are builds, of smaller indexes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

from ..sweep.config import Algorithm, SweepConfig
from ..sweep.executors import Executor
from ..h5util import get_json, open_h5
from ..workloads import format as wformat
from ..workloads.sample import catalog_sample
from .space import Dim, space_for
from .study import Tuning, _journal, points, run_study, study_path


@dataclass(frozen=True)
class Screening:
    """A screening run's size: the sample's share of the catalog and how many builds it ranks."""

    fraction: float
    builds: int = 8
    seed: int = 0


@dataclass(frozen=True)
class Screened:
    """What screening chose (Optuna parameters of the full study's first build) and what it cost."""

    first: dict
    items: int
    builds: int
    query_configs: int
    build_s: float  # the screening builds' seconds, together

    def cost(self) -> dict:
        return {"screen_items": self.items, "screen_builds": self.builds, "screen_query_configs": self.query_configs,
                "screen_build_s": self.build_s}


def sample_path(wpath: Path, n: int) -> Path:
    """Where the sample of ``n`` items of a workload file is kept: beside it."""
    return Path(wpath).with_name(f"{Path(wpath).stem}.sample{n}.hdf5")


def sample_of(w: wformat.Workload, wpath: Path, fraction: float, seed: int) -> Path:
    """The catalog sample of workload ``w`` (read from ``wpath``), drawn and written once
    (rewritten if the workload changed)."""
    n = max(1, round(fraction * len(w.train)))
    path = sample_path(wpath, n)
    if path.is_file():
        with open_h5(path, "workload") as f:  # its attributes only: the study reads the arrays
            if get_json(f, "sample_of_hash") == w.content_hash() and get_json(f, "sample_seed") == seed:
                return path
    return wformat.write(catalog_sample(w, n, seed=seed), path)


def screen(cfg: SweepConfig, alg: Algorithm, wpath: Path, results_dir: Path, tuning: Tuning, executor: Executor,
           screening: Screening, *, log=print) -> Screened | None:
    """Rank ``screening.builds`` builds of ``alg`` on a sample of the workload; None when the
    algorithm cannot serve the workload's metric."""
    import optuna

    w = wformat.read(wpath)
    spath = sample_of(w, wpath, screening.fraction, screening.seed)
    done = run_study(cfg, alg, spath, results_dir / "screen", replace(tuning, trials=screening.builds, query_configs=None),
                     executor, log=log, sampler="sobol")
    if done is None:
        return None
    small, files, name = done
    study = optuna.load_study(study_name=f"{name}/{alg.name}", storage=_journal(study_path(results_dir / "screen", name, alg.name)))
    trials = {}  # a build's first trial (a proposal repeating a build measured nothing)
    for t in study.trials:
        if t.state == optuna.trial.TrialState.COMPLETE and "file" in t.user_attrs:
            trials.setdefault(t.user_attrs["file"], t)
    trials = list(trials.values())
    best = choose([list(t.values) for t in trials])
    full = space_for(alg, len(w.train), cfg.source)
    first = {}
    for key, v in trials[best].params.items():  # "build.nlist", "query.reorder_k", ...
        name = key.split(".", 1)[1]
        first[key] = carry(v, small.dim(name), full.dim(name))
    log(f"{name} {alg.name}: screened {len(files)} builds; the full catalog's first build {first}")
    made = [points(Path(t.user_attrs["file"]), tuning.k) for t in trials]
    return Screened(first, small.n, len(trials), sum(map(len, made)), float(sum(p["build_s"].iloc[0] for p in made if len(p))))


def choose(values: list[list[float]]) -> int:
    """The index of the build that meets the most targets (a speed above 0), then has the
    highest geometric mean of its speed over the best speed per target, over the targets it
    meets; the first of equals."""
    best = [max(col) for col in zip(*values)]

    def score(v):
        met = [x / b for x, b in zip(v, best) if x > 0 and b > 0]
        return len(met), sum(map(math.log, met)) / len(met) if met else -math.inf

    return max(range(len(values)), key=lambda i: (score(values[i]), -i))


def carry(value, small: Dim, full: Dim):
    """A screened value at the full catalog's size: its place in a range that moves with the
    catalog size (on a log scale where the range is), the value itself otherwise."""
    if small.choices and full.choices:  # a grid's values, as the file wrote them at each size: the same place in the list
        same = len(small.choices) == len(full.choices) and value in small.choices
        return full.choices[small.choices.index(value)] if same else value
    if small.choices or full.choices or (small.lo, small.hi) == (full.lo, full.hi):
        return value
    place = 0.5 if small.hi == small.lo else (
        math.log(value / small.lo) / math.log(small.hi / small.lo) if small.log else (value - small.lo) / (small.hi - small.lo))
    x = full.lo * (full.hi / full.lo) ** place if full.log else full.lo + place * (full.hi - full.lo)
    x = min(max(x, full.lo), full.hi)
    return int(round(x)) if full.type is int else float(x)
