"""One Optuna study per (workload, algorithm): build parameters sampled, query parameters bisected.

Each trial is one build: Optuna (a seeded TPE sampler, one objective per recall target: the
best speed reaching it, 0 when none does; the memory and build-time limits as constraints)
proposes the build parameters and any non-monotone query parameters; the built index then
finds, for every target, the smallest value of its monotone query parameter reaching it
(:mod:`ann_bench.sweep.query_plan`), or gives the target up once it has missed it at a speed
below the best an earlier build met it at. The build is run by the sweep's own runner and executor,
so it is an ordinary result file: plots, tables, ``results compare`` and resume read it like a
grid point. The study is kept beside the results (an append-only journal file): a tuning run
killed midway picks up where it stopped; the build it was measuring is asked for again first,
and its result file, if it was finished, is kept rather than measured twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from ..results.store import read_runs
from ..sweep import record, registry
from ..sweep.config import Algorithm, SweepConfig
from ..sweep.executors import Executor
from ..sweep.runner import execute, make_run
from ..workloads import format as wformat
from .space import Space, space_for
from .targets import Goal

@dataclass(frozen=True)
class Tuning:
    """What to tune for: recall targets at one depth, shared limits, trials, speed column."""

    goals: tuple[Goal, ...]
    trials: int = 8
    seed: int = 0
    qps: str = "qps_single"
    ratio: float = 1.1  # bisection stops once the bracket is this narrow (relative)
    query_configs: int | None = None  # at most this many query configurations over all builds (None: no limit)
    # each query mode timed for at least this long (or the file's settings.min_time_s, if longer): the
    # answer is the fastest of a few points, and passes of a few milliseconds vary by a fifth
    min_time_s: float = 1.0

    @property
    def k(self) -> int:
        return self.goals[0].k

    @property
    def targets(self) -> tuple[float, ...]:
        return tuple(g.recall for g in self.goals)


def settings_for(cfg: SweepConfig, tuning: Tuning) -> SweepConfig:
    """The file's measurement settings, at the goals' one depth, without the filtered pass, each
    query mode timed for at least ``tuning.min_time_s``."""
    min_time_s = max(cfg.settings["min_time_s"], tuning.min_time_s)
    return replace(cfg, settings=cfg.settings | {"k": [tuning.k], "filtered_k": 0, "min_time_s": min_time_s})


def points(path: Path, k: int) -> pd.DataFrame:
    """The measured query configurations of one result file at depth ``k``."""
    rows = [r for r in read_runs(path) if r.get("search") == "knn" and r.get("k") == k and not r.get("duplicate_of")]
    return pd.DataFrame([r for r in rows if r.get("status") == "ok"])


def best_meeting(df: pd.DataFrame, goal: Goal, qps: str) -> pd.Series | None:
    """The fastest point that meets ``goal`` (recall and every limit), or None."""
    if df.empty or qps not in df:
        return None
    ok = df[[goal.met(r) for r in df.to_dict("records")]]
    return None if ok.empty else ok.loc[ok[qps].idxmax()]


def _journal(path: Path):
    import optuna
    from optuna.storages.journal import JournalFileBackend

    path.parent.mkdir(parents=True, exist_ok=True)
    return optuna.storages.JournalStorage(JournalFileBackend(str(path)))


def study_path(results_dir: Path, workload: str, algorithm: str) -> Path:
    """Where a study is kept: beside its algorithm's result files."""
    return record.result_path(results_dir, workload, algorithm, {"study": "optuna"}).with_suffix(".journal")


def run_study(cfg: SweepConfig, alg: Algorithm, wpath: Path, results_dir: Path, tuning: Tuning, executor: Executor,
              *, log=print, first: Sequence[dict] = (), sampler: str = "tpe") -> tuple[Space, list[Path], str] | None:
    """Tune ``alg`` on one workload: the space searched, the result files of its builds and the
    workload's name (None: the algorithm cannot serve the workload's metric). ``first``: Optuna
    parameters of builds to measure before the space's recommended starts (screening's choice);
    ``sampler``: "tpe", or "sobol" to spread the builds over the space (screening)."""
    import optuna

    w = wformat.read(wpath)
    adapter = registry.for_metric(alg.adapter, w.metric, alg.ip_via)
    if adapter is None:
        return None
    space = space_for(alg, len(w.train), cfg.source)
    tcfg = settings_for(cfg, tuning)
    whash = w.content_hash()
    limits = {c: b for g in tuning.goals for c, b in g.limits}
    build_limits = {c: b for c, b in limits.items() if c in ("index_mb", "build_s")}

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name=f"{w.name}/{alg.name}", storage=_journal(study_path(results_dir, w.name, alg.name)),
                                load_if_exists=True, directions=["maximize"] * len(tuning.goals),
                                sampler=_sampler(sampler, tuning))
    if not study.trials:
        for i, start in enumerate(starts := [*first, *space.starts()]):
            if start not in starts[:i]:
                study.enqueue_trial(start)
    _resume(study)

    # trials until `trials` distinct builds (a proposal repeating a build costs nothing), within bounds;
    # a space with nothing to sample has one build
    builds = tuning.trials if any(not d.fixed for d in (*space.build, *space.query)) else 1

    def objective(trial) -> list[float]:
        build = {d.name: d.suggest(trial, "build") for d in space.build}
        query = {d.name: d.suggest(trial, "query") for d in space.query}
        same = next((t for t in _complete(study) if t.params == trial.params and t.number != trial.number), None)
        if same is not None:  # proposed again: answer from the build already measured, measure nothing
            for key, value in same.user_attrs.items():
                trial.set_user_attr(key, value)
            for column, bound in build_limits.items():
                trial.set_constraint(column, same.user_attrs.get(column, float("inf")) - bound)
            trial.set_user_attr("repeat_of", same.number)
            return list(same.values)
        guesses, bars = _so_far(study, space.monotone, tuning)
        plan = space.bisection(build, query, tuning.targets, tuning.k, ratio=tuning.ratio, guesses=guesses, bars=bars,
                               qps=tuning.qps, budget=_share(study, tuning, builds))
        run = make_run(tcfg, results_dir, wpath, w, alg, adapter, build, plan.to_json(), written={}, repeat=0,
                       threads_all=executor.threads_all, workload_hash=whash,
                       also_named_by={k: v for k, v in query.items() if len(space.dim(k).choices) != 1})
        outcome = execute([run], tcfg, results_dir, executor, progress=False)[0]
        log(outcome.summary if outcome.status != "kept" else f"{w.name} {alg.name} {record.slug(build)}: kept")
        df = points(run.path, tuning.k)
        trial.set_user_attr("query_configs", len(df))
        trial.set_user_attr("file", str(run.path))
        for column, bound in build_limits.items():  # feasible when <= 0: the sampler learns where builds fit
            value = float(df[column].iloc[0]) if len(df) and column in df else float("inf")
            trial.set_user_attr(column, value)
            trial.set_constraint(column, value - bound)
        values = []
        for goal in tuning.goals:
            best = best_meeting(df, goal, tuning.qps)
            values.append(0.0 if best is None else float(best[tuning.qps]))
        return values

    for _ in range(4 * builds):
        if len(_files(study)) >= builds or _share(study, tuning, builds) == 0:
            break
        study.optimize(objective, n_trials=1)
    return space, _files(study), w.name


def _sampler(kind: str, tuning: Tuning):
    """TPE (seeded): the given first builds, the adapter's recommended build, the richest build
    and the middle of the space (:meth:`Space.starts`), then random builds up to a third of the
    trials, then TPE. Sobol (screening): after them the unscrambled sequence (in one dimension 0,
    1/2, 3/4, 1/4, ... of the range; every build enqueued after the first takes one of its turns)."""
    import warnings

    import optuna

    if kind == "sobol":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.samplers.QMCSampler(qmc_type="sobol", scramble=False, warn_independent_sampling=False)
    return optuna.samplers.TPESampler(seed=tuning.seed, n_startup_trials=max(2, tuning.trials // 3))


def _complete(study) -> list:
    import optuna

    return [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]


def _files(study) -> list[Path]:
    """The result files (one per distinct build) of the study's finished trials."""
    return sorted({Path(t.user_attrs["file"]) for t in _complete(study) if "file" in t.user_attrs})


def _share(study, tuning: Tuning, builds: int) -> int | None:
    """The next build's share of the query-configuration budget: what is left, less one
    configuration per target for each build still to come after it, and never less than an
    even split of what is left (None: no budget; 0: spent). A build stops at its bisection's
    ratio before its share runs out, and a later one gives up the targets it cannot win after a
    configuration or two each (the plan's bars): split evenly, a third of the budget went
    unspent on ml-latest-small while the first build answered 0.99 from the top of a bracket."""
    if tuning.query_configs is None:
        return None
    done = {t.user_attrs["file"]: t.user_attrs.get("query_configs", 0) for t in _complete(study) if "file" in t.user_attrs}
    left = max(0, tuning.query_configs - sum(done.values()))
    later = max(0, builds - len(done) - 1)
    return max(left // (later + 1), left - later * len(tuning.goals))


def _resume(study) -> None:
    """A trial left running by a killed tuning run is closed as failed and its build asked for
    first again: a finished result file of it is then kept, not measured twice."""
    import optuna

    waiting = [t.params for t in study.trials if t.state == optuna.trial.TrialState.WAITING]
    for t in study.trials:
        if t.state == optuna.trial.TrialState.RUNNING:
            study.tell(t.number, state=optuna.trial.TrialState.FAIL)
            if t.params and t.params not in waiting:
                study.enqueue_trial(t.params)


def _so_far(study, param: str, tuning: Tuning) -> tuple[dict, dict]:
    """What the builds so far tell the next one's bisection, per target: the value of ``param``
    at the fastest point reaching it (where to start), and the fastest speed meeting the goal
    (the bar to beat)."""
    frames = [points(f, tuning.k) for f in _files(study) if f.is_file()]
    df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    guesses, bars = {}, {}
    for goal in tuning.goals:
        best = best_meeting(df, Goal(goal.k, goal.recall), tuning.qps)  # recall alone: limits do not move the boundary
        if best is not None and f"query.{param}" in best:
            value = best[f"query.{param}"]
            guesses[goal.recall] = value.item() if hasattr(value, "item") else value  # a plain number: it goes into JSON
        met = best_meeting(df, goal, tuning.qps)
        if met is not None:
            bars[goal.recall] = float(met[tuning.qps])
    return guesses, bars
