"""Run a sweep: one isolated worker process per (workload, algorithm, build configuration).

The parent enforces the build and per-query-pass timeouts and the memory ceiling, turns a
crash, timeout or memory overrun into a *failed* result (with the reason and the tail of
stderr) and goes on with the next run. Finished result files are skipped, so an
interrupted sweep resumes where it stopped.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
from tqdm.auto import tqdm

from ..threads import available_cores
from ..workloads import format as wformat
from . import registry
from .config import SweepConfig
from ..results.store import result_path, run_status, write_result

POLL_S = 0.05


@dataclass
class RunOutcome:
    path: Path
    status: str  # ok, failed, skipped
    summary: str


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()
    proc.wait()


def _signal_name(code: int) -> str:
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


def _tree_rss_mb(proc: psutil.Process) -> float:
    try:
        procs = [proc, *proc.children(recursive=True)]
        return sum(p.memory_info().rss for p in procs) / 2**20
    except psutil.Error:
        return 0.0


def supervise(job_dir: Path, settings: dict) -> tuple[int | None, str | None]:
    """Run the worker for ``job_dir``; return (exit code, failure reason or None)."""
    env = dict(os.environ)
    env.setdefault("PYTHONFAULTHANDLER", "1")  # a segfault prints the Python stack to stderr
    with open(job_dir / "stderr.txt", "wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "ann_bench.sweep.worker", str(job_dir)],
                                stdout=subprocess.DEVNULL, stderr=err, env=env, start_new_session=True)
        ps = psutil.Process(proc.pid)
        limit = settings["memory_limit_mb"]
        try:
            while proc.poll() is None:
                time.sleep(POLL_S)
                rss = _tree_rss_mb(ps)
                if rss > limit:
                    _kill(proc)
                    return proc.returncode, f"memory limit exceeded ({rss:.0f} MB > {limit} MB)"
                status = _read_status(job_dir)
                if status:
                    allowed = settings["build_timeout_s"] if status["phase"] == "build" else settings["query_timeout_s"]
                    if status["phase"] != "done" and time.time() - status["since"] > allowed:
                        _kill(proc)
                        return proc.returncode, f"timeout: {status['phase']} took longer than {allowed:g} s"
        except BaseException:
            _kill(proc)
            raise
    code = proc.returncode
    if code == 0:
        return 0, None
    return code, (f"crashed ({_signal_name(code)})" if code < 0 else f"exited with code {code}")


def _read_status(job_dir: Path) -> dict | None:
    try:
        return json.loads((job_dir / "status.json").read_text())
    except (OSError, ValueError):
        return None


def plan(cfg: SweepConfig, workloads: list[Path]) -> list[tuple[Path, str, str, object, dict]]:
    """(workload file, name, metric, algorithm, build params) for every run the sweep covers.

    An algorithm is paired only with workloads whose metric it declares.
    """
    runs = []
    for wpath in workloads:
        name = wformat.attr(wpath, "name") or wpath.stem
        metric = wformat.read_metric(wpath)
        for alg in cfg.algorithms:
            if metric not in registry.get(alg.adapter).metrics:
                continue
            for build in alg.build:
                runs.append((wpath, str(name), metric, alg, build))
    return runs


def remove_stale_temporaries(results_dir: Path) -> None:
    """Half-written result files of a killed sweep (their writer's pid is gone)."""
    for tmp in Path(results_dir).rglob("*.tmp-*"):
        pid = tmp.name.rsplit(".tmp-", 1)[-1]
        if not pid.isdigit() or not psutil.pid_exists(int(pid)):
            tmp.unlink(missing_ok=True)


def sweep(cfg: SweepConfig, workloads: list[Path], results_dir: Path, *, force: bool = False,
          retry_failed: bool = False, threads_all: int | None = None, progress: bool = True) -> list[RunOutcome]:
    threads_all = threads_all or available_cores()
    remove_stale_temporaries(results_dir)
    runs = plan(cfg, workloads)
    outcomes = []
    n_query = sum(len(alg.query) for *_, alg, _ in runs)
    bar = tqdm(total=n_query, desc="sweep", unit="query config", disable=not progress)
    # computed once per workload (a foreign ann-benchmarks file has no stored hash)
    hashes = {w: str(wformat.attr(w, "content_hash") or wformat.read(w).content_hash()) for w in workloads}
    for wpath, wname, metric, alg, build in runs:
        out = result_path(results_dir, wname, alg.name, build)
        status = run_status(out, hashes[wpath])
        if status is not None and not force and (status == "ok" or not retry_failed):
            bar.update(len(alg.query))
            outcomes.append(RunOutcome(out, "skipped", f"{alg.name} {build}: already done ({status})"))
            continue
        bar.set_description(f"{wname} {alg.name}")
        job_dir = Path(tempfile.mkdtemp(prefix="ann-bench-run-"))
        try:
            job = {
                "workload": str(wpath), "algorithm": alg.adapter, "label": alg.name, "metric": metric, "build": build, "queries": alg.query,
                "k": cfg.settings["k"], "repeats": cfg.settings["repeats"], "threads_all": threads_all,
                "build_threads": threads_all, "single_query_limit": cfg.settings["single_query_limit"],
                "filtered_k": cfg.settings["filtered_k"],
            }
            (job_dir / "job.json").write_text(json.dumps(job))
            started = time.time()
            code, reason = supervise(job_dir, cfg.settings)
            summary = write_result(out, job_dir, job, cfg.settings, wpath, wname, workload_hash=hashes[wpath],
                                   started=started, reason=reason, exit_code=code)
            outcomes.append(RunOutcome(out, "failed" if reason else "ok", summary))
            tqdm.write(summary) if progress else None
        finally:
            shutil.rmtree(job_dir, ignore_errors=True)
        bar.update(len(alg.query))
    bar.close()
    return outcomes
