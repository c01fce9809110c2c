"""``ann-bench stream``'s driver: plan each workload's replay, compute its exact live answers once,
then replay every configured index in its own supervised process (:mod:`.replay`), one after
the other, under the sweep's timeouts and memory ceiling.

A result file of the same definition that is complete is kept (an interrupted ``make
bench-stream`` resumes with the next index); a failed one (crash, timeout, memory) is recorded
with the steps it finished and the reason, and replayed on the next run.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError
from ..h5util import job_dir_prefix, remove_orphan_job_dirs, remove_stale_temporaries
from ..sweep import registry
from ..sweep.machine import versions
from ..sweep.supervise import supervise
from ..workloads import format as wformat
from . import store
from .config import StreamConfig
from .replay import read_steps
from .schedule import plan

STDERR_TAIL = 4000


@dataclass(frozen=True)
class Outcome:
    path: Path
    status: str  # complete, failed, kept
    summary: str


def _plan_definition(w: wformat.Workload, s: dict) -> dict:
    return {"workload": w.name, "workload_hash": w.content_hash(), "batches": s["batches"], "start_share": s["start_share"],
            "retire_after_days": s["retire_after_days"], "queries": min(s["queries"], len(w.test)), "k": s["k"]}


def _truth(w: wformat.Workload, rp, plan_def: dict, root: Path, progress: bool) -> Path:
    """The cached exact live answers of the replay ``rp`` (computed on first use)."""
    from .truth import every_step

    path = root / w.name / f"truth-{store.key(plan_def)}.h5"
    if not store.truth_ok(path, plan_def):
        neighbors = every_step(w.test[: plan_def["queries"]], w.train, rp, plan_def["k"], w.metric, progress=progress)
        store.write_truth(path, neighbors, plan_def)
    return path


def replay_all(cfg: StreamConfig, workloads: list[Path], root: Path, sweep_settings: dict, *, force: bool = False,
               threads_all: int | None = None, progress: bool = True) -> list[Outcome]:
    """Replay every algorithm of ``cfg`` on every workload; one outcome per (workload, algorithm)."""
    threads_all = threads_all or len(os.sched_getaffinity(0))
    remove_stale_temporaries(root)
    remove_orphan_job_dirs(Path(tempfile.gettempdir()))
    s, outcomes = cfg.settings, []
    missing = registry.left_out(cfg.algorithms, "this replay")
    for wpath in workloads:
        w = wformat.read(wpath)
        if w.item_first_rated is None:
            raise ConfigError(f"{wpath} has no item rating times (made before they were recorded): prepare the split "
                              "again (`ann-bench data prepare VARIANT`) and build the workload again (`ann-bench workloads "
                              "build VARIANT ...`) to replay its catalog.")
        plan_def = _plan_definition(w, s)
        rp = plan(w.item_first_rated, w.item_last_rated, batches=s["batches"], start_share=s["start_share"],
                  retire_after_days=s["retire_after_days"])
        truth = _truth(w, rp, plan_def, root, progress)
        for alg in cfg.algorithms:
            adapter = registry.for_metric(alg.adapter, w.metric, alg.ip_via)
            if adapter is None or alg.name in missing:
                continue
            cls = registry.get(adapter)
            grids = alg.at_size(len(rp.initial), cfg.source)  # N in sqrt(N): the items the index is built on
            build, query = grids.build[0], grids.query[0]
            definition = plan_def | cls.revision_key() | {"algorithm": alg.name, "adapter": adapter, "build": build, "query": query,
                                     "fresh_every": s["fresh_every"], "rebuild_every": s["rebuild_every"],
                                     "new_within": s["new_within"], "build_threads": s["build_threads"] or threads_all,
                                     "versions": versions((cls.distribution,))}
            path = store.result_path(root, w.name, alg.name)
            if not force and store.state(path, definition) == store.COMPLETE:
                outcomes.append(Outcome(path, "kept", f"{w.name} {alg.name}: already replayed"))
                continue
            job = definition | {"workload": str(Path(wpath).resolve()), "truth": str(truth.resolve()), "metric": w.metric,
                                "parent_pid": os.getpid()}
            outcomes.append(_replay_one(job, definition, path, sweep_settings, progress))
            if progress:
                print(outcomes[-1].summary, flush=True)
    return outcomes


def _replay_one(job: dict, definition: dict, path: Path, sweep_settings: dict, progress: bool) -> Outcome:
    from tqdm.auto import tqdm

    job_dir = Path(tempfile.mkdtemp(prefix=job_dir_prefix()))
    try:
        (job_dir / "job.json").write_text(json.dumps(job))
        started = time.time()
        with tqdm(total=job["batches"] + 1, desc=f"{definition['workload']} "
                  f"{definition['algorithm']}", unit="step", disable=not progress) as bar:
            seen = {"phase": None}

            def watch(status: dict) -> None:  # polled every 50 ms: read the steps only when the phase moves on
                phase = status.get("phase", "")
                if phase != seen["phase"]:
                    seen["phase"] = phase
                    bar.update(len(read_steps(job_dir)) - bar.n)
                    bar.set_postfix_str(phase, refresh=False)

            try:
                _, reason = supervise(job_dir, sweep_settings, module="ann_bench.stream.replay", watch=watch)
            except BaseException:  # Ctrl-C or a kill of this process: keep the steps done, then stop
                _record(job_dir, job, definition, path, started, "interrupted")
                raise
        return _record(job_dir, job, definition, path, started, reason)
    finally:
        shutil.rmtree(job_dir, ignore_errors=True)


def _record(job_dir: Path, job: dict, definition: dict, path: Path, started: float, reason: str | None) -> Outcome:
    """The replay's result file from its job folder: complete, or failed with ``reason`` and the
    steps it finished."""
    steps = read_steps(job_dir)
    meta_path = job_dir / "meta.json"
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    meta["wall_s"] = time.time() - started
    err_path = job_dir / "stderr.txt"
    err = err_path.read_text(errors="replace")[-STDERR_TAIL:] if err_path.is_file() else ""
    status = store.COMPLETE if reason is None and len(steps) == job["batches"] + 1 else store.FAILED
    if status == store.FAILED and reason is None:
        reason = f"ended after {len(steps)} of {job['batches'] + 1} steps"
    store.write(path, definition, meta, steps, status, reason, err)
    what = f"{definition['workload']} {definition['algorithm']}"
    if status == store.COMPLETE:
        last = steps[-1]
        summary = (f"{what} ({meta.get('updates')}): recall@{job['k']} {steps[0]['recall']:.3f} -> {last['recall']:.3f} "
                   f"(fresh build {last['fresh_recall']:.3f}), {meta['wall_s']:.0f} s")
    else:
        summary = f"{what}: failed after {len(steps)} steps: {reason} (recorded in {path})"
    return Outcome(path, status, summary)
