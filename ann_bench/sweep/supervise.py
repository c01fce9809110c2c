"""Run one worker process under the sweep's limits: build and query-pass timeouts, memory ceiling.

Every executor runs a build through :func:`supervise`, on this machine or on a cluster node, so
isolation, timeouts, the memory ceiling and crash capture are the same whichever runs it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

from .worker import EXIT_NO_SPACE

POLL_S = 0.05


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


def memory_limit_mb(settings: dict) -> float:
    """``memory_limit_mb``, but never above 90% of this machine's RAM: a run is stopped by the
    sweep with a clear reason before the kernel's OOM killer picks a process."""
    return min(float(settings["memory_limit_mb"]), 0.9 * psutil.virtual_memory().total / 2**20)


def _read_status(job_dir: Path) -> dict | None:
    try:
        return json.loads((job_dir / "status.json").read_text())
    except (OSError, ValueError):
        return None


def supervise(job_dir: Path, settings: dict, stop: threading.Event | None = None, *,
              module: str = "ann_bench.sweep.worker", watch=None) -> tuple[int | None, str | None]:
    """Run the worker ``module`` for ``job_dir`` (its ``job.json``); return (exit code, failure
    reason or None). ``stop``: set by another thread to kill the worker (an interrupted sweep);
    ``watch``: called with each status the worker announces (progress)."""
    env = dict(os.environ)
    env.setdefault("PYTHONFAULTHANDLER", "1")  # a segfault prints the Python stack to stderr
    with open(job_dir / "stderr.txt", "wb") as err:
        # -P: the working directory is not put on sys.path, so a faiss.py lying there is never imported
        proc = subprocess.Popen([sys.executable, "-P", "-m", module, str(job_dir)],
                                stdout=subprocess.DEVNULL, stderr=err, env=env, start_new_session=True)
        ps = psutil.Process(proc.pid)
        limit = memory_limit_mb(settings)
        try:
            while proc.poll() is None:
                time.sleep(POLL_S)
                if stop is not None and stop.is_set():
                    _kill(proc)
                    return proc.returncode, "interrupted"
                rss = _tree_rss_mb(ps)
                if rss > limit:
                    _kill(proc)
                    return proc.returncode, f"memory limit exceeded ({rss:.0f} MB > {limit:.0f} MB)"
                status = _read_status(job_dir)
                if status:
                    if watch is not None:
                        watch(status)
                    allowed = settings["build_timeout_s"] if status["phase"].startswith("build") else settings["query_timeout_s"]
                    if status["phase"] != "done" and time.time() - status["since"] > allowed:
                        _kill(proc)
                        return proc.returncode, f"timeout: {status['phase']} took longer than {allowed:g} s"
        except BaseException:
            _kill(proc)
            raise
    code = proc.returncode
    if code == 0:
        return 0, None
    if code == EXIT_NO_SPACE:
        return code, (f"no space to write its measurements in {job_dir.parent} (disk full, quota or file-size limit); "
                      "free space or point TMPDIR to a larger disk")
    return code, (f"crashed ({_signal_name(code)})" if code < 0 else f"exited with code {code}")
