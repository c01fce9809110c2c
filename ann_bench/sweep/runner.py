"""Run a sweep: one isolated worker process per (workload, algorithm, build configuration).

The worker's supervisor (:mod:`.supervise`) enforces the build and per-query-pass timeouts
and the memory ceiling, turns a crash, timeout or memory overrun into a *failed* result (with
the reason and the tail of stderr), and the sweep goes on with the next run. Runs are measured
by an executor (:mod:`.executors`: here, pinned side by side, or on a Ray cluster); this module
alone writes result files. Finished result files are skipped, so an interrupted sweep resumes
where it stopped, whichever executor measures the rest; a result file whose run definition
(parameters, settings, library versions, workload content) differs from this sweep's is
measured again.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import time
import warnings
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from ..errors import ConfigError, DataError
from ..h5util import job_dir_prefix, remove_orphan_job_dirs, remove_stale_temporaries
from ..threads import available_cores
from ..workloads import format as wformat
from . import budget, load, query_plan, record, registry
from .adapters.reduction import describe
from .config import SweepConfig
from .executors import Executor, Task
from .executors.local import LocalExecutor
from .supervise import memory_limit_mb

@dataclass
class RunOutcome:
    path: Path
    status: str  # ok, failed, skipped
    summary: str


@dataclass(frozen=True)
class Run:
    """One build configuration of one algorithm on one workload, and why it runs (or not)."""

    workload: Path
    workload_name: str
    metric: str
    algorithm: object  # config.Algorithm
    adapter: str  # the registered adapter that serves this workload's metric (maybe a reduction)
    build: dict  # at this workload's size (size-relative values resolved)
    queries: list[dict] | dict  # a grid, or a bisection (see .query_plan)
    written: dict  # {"build": {name: expression}, "query": [...]}: the size-relative values it came from
    size: int  # the workload's catalog size N
    repeat: int
    path: Path
    definition: dict
    state: str | None  # 'ok' / 'failed' / 'skipped' of an up-to-date result file, None when it must run
    why: list[str]


def _repeat_build(cls, build: dict, repeat: int) -> dict:
    """Build ``repeat`` of a configuration: the adapter's seed moved on by ``repeat``."""
    if repeat and cls.seed_param:
        return build | {cls.seed_param: build[cls.seed_param] + repeat}
    return build


def _check_depths(cfg: SweepConfig, w: wformat.Workload, wname: str) -> None:
    gt_k, n = w.neighbors.shape[1], len(w.train)
    deepest = max(cfg.settings["k"])
    if deepest > gt_k:
        raise ConfigError(f"{cfg.source}: settings.k: {deepest} is deeper than the ground truth of {wname} "
                          f"({gt_k} neighbours{' = its base size' if gt_k == n else ''}); use depths up to {gt_k}.")


def plan(cfg: SweepConfig, workloads: list[Path], results_dir: Path, *, threads_all: int) -> list[Run]:
    """Every run the sweep covers, with its result file's state against this sweep's definition.

    An algorithm is paired with the workloads whose metric it declares, and with inner-product
    workloads through the reduction where it has no inner-product search of its own (or where
    its ``ip_via`` asks for the reduction). One whose library is not installed here is left
    out, with a warning that says why.
    """
    runs, names = [], {}
    missing = registry.left_out(cfg.algorithms, "this sweep")
    for wpath in workloads:
        # read() checks the whole file first (values, ground truth on a sample, the stored
        # content hash): nothing below reads a workload that has not passed
        w = wformat.read(wpath)
        name, metric = w.name, w.metric
        if name in names and Path(names[name]).resolve() != Path(wpath).resolve():
            raise ConfigError(f"{names[name]} and {wpath} are both called '{name}' inside: their results would "
                              "overwrite each other. Sweep one at a time, or re-import one under another name.")
        names[name] = wpath
        _check_depths(cfg, w, name)
        whash = w.content_hash()  # equal to the stored one (read() checked); computed for a foreign file
        for alg in cfg.algorithms:
            adapter = registry.for_metric(alg.adapter, metric, alg.ip_via)
            if adapter is None or alg.name in missing:
                continue
            cls = registry.get(adapter)
            grids = alg.at_size(len(w.train), cfg.source)
            for build, build_written in zip(grids.build, grids.build_written):
                written = {"build": build_written, "query": grids.query_written} if build_written or any(grids.query_written) else {}
                for repeat in range(cfg.settings["build_repeats"]):
                    runs.append(make_run(cfg, results_dir, wpath, w, alg, adapter, _repeat_build(cls, build, repeat), grids.query,
                                         written=written, repeat=repeat, threads_all=threads_all, workload_hash=whash))
    return runs


def make_run(cfg: SweepConfig, results_dir: Path, wpath: Path, w: wformat.Workload, alg, adapter: str, build: dict,
             queries: list[dict] | dict, *, written: dict, repeat: int, threads_all: int, workload_hash: str,
             also_named_by: dict | None = None) -> Run:
    """One run (a build configuration and its query plan) with its result file's state;
    ``also_named_by``: query parameters held fixed for the whole run, named in its file too."""
    d = record.definition(adapter=adapter, build=build, repeat=repeat, queries=queries,
                          settings=cfg.settings, threads_all=threads_all, workload_hash=workload_hash)
    path = record.result_path(results_dir, w.name, alg.name, build | (also_named_by or {}), repeat)
    state, why = record.run_state(path, d)
    return Run(wpath, w.name, w.metric, alg, adapter, build, queries, written, len(w.train), repeat, path, d, state, why)


def should_run(run: Run, *, force: bool, retry_failed: bool) -> str | None:
    """Why ``run`` runs now, or None to keep its result file."""
    if force:
        return "--force"
    if run.state is None:
        return "; ".join(run.why)
    if run.state == "failed" and retry_failed:
        return "--retry-failed"
    if run.state == "skipped":
        return "skipped before (predicted too long or too big): checked again"
    return None


def predict(history: budget.History, r: Run) -> budget.Prediction | None:
    return history.predict(r.workload_name, r.algorithm.name, r.build, r.written.get("build"), r.size)


def too_big(pred: budget.Prediction | None, settings: dict) -> str | None:
    """Why a run is skipped without starting: its predicted build exceeds the build timeout, or
    its predicted peak memory the memory limit."""
    if pred is not None and pred.build_s > settings["build_timeout_s"]:
        return f"predicted build {budget.duration(pred.build_s)} ({pred.basis}) exceeds build_timeout_s {settings['build_timeout_s']:g} s"
    if pred is not None and pred.rss_mb > memory_limit_mb(settings):
        return (f"predicted peak memory {pred.rss_mb:,.0f} MB ({pred.rss_basis}) exceeds memory_limit_mb "
                f"{memory_limit_mb(settings):,.0f} MB" + ("" if memory_limit_mb(settings) == settings["memory_limit_mb"] else " (90% of RAM)"))
    return None


def dry_run(cfg: SweepConfig, workloads: list[Path], results_dir: Path, *, force: bool = False,
            retry_failed: bool = False, threads_all: int | None = None, total_line: bool = False) -> list[str]:
    """One line per run: what would run and why (with its predicted time), which run would be
    skipped as too long or too big, or which result file is kept; ``total_line``: and the predicted total."""
    lines, total, unknown = [], 0.0, 0
    history = budget.History.load(results_dir)
    for r in plan(cfg, workloads, results_dir, threads_all=threads_all or available_cores()):
        why = should_run(r, force=force, retry_failed=retry_failed)
        pred = predict(history, r) if why else None
        skip = too_big(pred, cfg.settings) if why and not force else None
        via = describe(registry.get(r.adapter).metrics[r.metric])
        via = f" ({via})" if via else ""
        what = f"{r.workload_name} {r.algorithm.name}{via} {record.slug(r.build)}" + (f" (repeat {r.repeat})" if r.repeat else "")
        if r.written.get("build"):
            what += " (" + ", ".join(f"{k}: {v}" for k, v in r.written["build"].items()) + f" at N={r.size:,})"
        if skip:
            lines.append(f"skip  {what}: {skip}")
        elif why:
            lines.append(f"run   {what}: {why}" + (f" ({pred})" if pred else ""))
            known = pred is not None and math.isfinite(pred.run_s)
            total += pred.run_s if known else 0.0
            unknown += not known
        else:
            lines.append(f"keep  {what}: up to date ({r.state})")
    n_run = sum(line.startswith("run ") for line in lines)
    if n_run and total_line:
        lines.append(f"predicted time: ~{budget.duration(total)} for {n_run - unknown} of the {n_run} runs"
                     + (f"; {unknown} with no earlier size of the same configuration to predict from" if unknown else ""))
    return lines


def _job(r: Run, cfg: SweepConfig, threads_all: int, build_threads: int) -> dict:
    return {
        "workload": str(Path(r.workload).resolve()), "algorithm": r.adapter, "label": r.algorithm.name, "metric": r.metric,
        "build": r.build, "build_repeat": r.repeat, "queries": r.queries, "size_relative": r.written, "k": cfg.settings["k"],
        "repeats": cfg.settings["repeats"], "min_time_s": cfg.settings["min_time_s"], "threads_all": threads_all, "build_threads": build_threads,
        "single_query_limit": cfg.settings["single_query_limit"], "filtered_k": cfg.settings["filtered_k"],
        "recall_epsilon": cfg.settings["recall_epsilon"],
    }


def _record(r: Run, cfg: SweepConfig, job: dict, *, job_dir: Path, started: float, code: int | None = None,
            reason: str | None = None, skipped: bool = False) -> RunOutcome:
    """Score a run's measurements (or record it as skipped, for ``reason``) into its result
    file, the sweep's only writer; the job folder is removed."""
    try:
        # a disk that fills up (or goes read-only) now is one clear error (atomic_h5): nothing half-written stays
        status, summary = record.write_result(r.path, job_dir, job, cfg.settings, r.workload, r.workload_name,
                                              run_definition=r.definition, started=started, reason=reason,
                                              exit_code=code, skipped=skipped)
        return RunOutcome(r.path, status, summary)
    finally:
        shutil.rmtree(job_dir, ignore_errors=True)


MIN_FREE_MB = 32  # below this, a result file might not fit: stop with a clear error before writing


def check_writable(folder: Path, what: str) -> None:
    """A folder that can take a result file now, or one clear error naming it."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-test.tmp-{os.getpid()}"
        probe.write_bytes(b"ok")
        probe.unlink()
        free_mb = shutil.disk_usage(folder).free / 2**20
    except OSError as exc:
        raise DataError(f"cannot write to the {what} {folder} ({exc.strerror or exc}); free it or point "
                        f"{'ANN_BENCH_HOME' if what == 'results folder' else 'TMPDIR'} elsewhere. Finished results are kept.") from None
    if free_mb < MIN_FREE_MB:
        raise DataError(f"the {what} {folder} has {free_mb:.0f} MB free (at least {MIN_FREE_MB} MB needed); free some "
                        "space and rerun: finished results are kept and the sweep resumes.")


def sweep(cfg: SweepConfig, workloads: list[Path], results_dir: Path, *, force: bool = False,
          retry_failed: bool = False, threads_all: int | None = None, progress: bool = True,
          budget_s: float | None = None, executor: Executor | None = None) -> list[RunOutcome]:
    """Every planned run that needs it, in plan order, measured by ``executor`` (default: this
    machine, one run at a time). A run predicted (:mod:`.budget`) to build for longer than
    ``build_timeout_s`` is recorded as skipped; with ``budget_s``, a run predicted to end past
    the budget is not started (outcome 'not started'; a later sweep runs it)."""
    executor = executor or LocalExecutor(threads=threads_all)
    try:
        runs = plan(cfg, workloads, results_dir, threads_all=executor.threads_all)
        return execute(runs, cfg, results_dir, executor, force=force, retry_failed=retry_failed,
                       progress=progress, budget_s=budget_s)
    finally:
        executor.close()  # an interrupted sweep stops its running workers; finished results are kept


def execute(runs: list[Run], cfg: SweepConfig, results_dir: Path, executor: Executor, *, force: bool = False,
            retry_failed: bool = False, progress: bool = True, budget_s: float | None = None) -> list[RunOutcome]:
    """Measure the ``runs`` that need it (see :func:`sweep`) with ``executor``, which the caller closes."""
    threads_all = executor.threads_all
    build_threads = cfg.settings["build_threads"] or threads_all
    remove_stale_temporaries(results_dir)
    remove_orphan_job_dirs(Path(tempfile.gettempdir()))
    history = budget.History.load(results_dir)
    if progress and any(should_run(r, force=force, retry_failed=retry_failed) for r in runs):
        busy = load.idle_check()
        if busy:
            warnings.warn(busy, stacklevel=3)
    outcomes: dict[int, RunOutcome] = {}
    jobs: dict[int, dict] = {}
    queue, start = deque(enumerate(runs)), time.monotonic()
    n_query = sum(query_plan.count(r.queries) for r in runs)

    def finish(i: int, outcome: RunOutcome) -> None:
        outcomes[i] = outcome
        if outcome.status in ("ok", "failed"):
            history.add_file(runs[i].path)  # a larger size later in this sweep predicts from it
        if outcome.status not in ("kept",):
            tqdm.write(outcome.summary) if progress else None
        bar.update(query_plan.count(runs[i].queries))

    with tqdm(total=n_query, desc="sweep", unit="query config", disable=not progress) as bar:  # closed on errors too
        while queue or executor.busy():
            while queue:
                i, r = queue[0]
                what = f"{r.workload_name} {r.algorithm.name} {record.slug(r.build)}"
                if should_run(r, force=force, retry_failed=retry_failed) is None:
                    queue.popleft()
                    finish(i, RunOutcome(r.path, "kept", f"{r.algorithm.name} {r.build}: already done ({r.state})"))
                    continue
                pred = predict(history, r)
                skip = None if force else too_big(pred, cfg.settings)
                known = pred is not None and math.isfinite(pred.run_s)
                if skip and r.state == "skipped":
                    queue.popleft()
                    finish(i, RunOutcome(r.path, "skipped", f"{what}: skipped: {skip}"))
                elif budget_s is not None and known and time.monotonic() - start + pred.run_s > budget_s:
                    queue.popleft()
                    finish(i, RunOutcome(r.path, "not started", f"{what}: not started: predicted {budget.duration(pred.run_s)} "
                                         f"would end past the budget ({budget.duration(budget_s)})"))
                elif skip:
                    queue.popleft()
                    check_writable(r.path.parent, "results folder")
                    job = _job(r, cfg, threads_all, build_threads)
                    finish(i, _record(r, cfg, job, job_dir=Path(tempfile.mkdtemp(prefix=job_dir_prefix())),
                                      started=time.time(), reason=skip, skipped=True))
                elif executor.free():
                    queue.popleft()
                    check_writable(r.path.parent, "results folder")
                    check_writable(Path(tempfile.gettempdir()), "temporary folder")
                    jobs[i] = _job(r, cfg, threads_all, build_threads)
                    executor.submit(Task(i, jobs[i], cfg.settings, r.definition["workload_hash"], r.definition["versions"]))
                    bar.set_description(f"{r.workload_name} {r.algorithm.name}" + (f" (~{budget.duration(pred.run_s)})" if known else ""))
                else:
                    break  # every slot is taken: wait for one
            for done in executor.wait(timeout=1.0):
                finish(done.key, _record(runs[done.key], cfg, jobs.pop(done.key), job_dir=done.job_dir,
                                         started=done.started, code=done.code, reason=done.reason))
    return [outcomes[i] for i in sorted(outcomes)]
