"""How busy the machine was while something was timed.

Other processes on the same cores make OpenMP and BLAS threads spin and wait, and can slow
a measurement several times over without any sign in the numbers themselves. So every
timed phase is bracketed by two samples of the kernel's CPU counters (``/proc/stat``) and
of this process's own CPU time: what the whole machine was busy with, minus what this
process did, is what *other* processes took, in cores on average over the phase. Steal
time (a hypervisor giving the cores to another guest) is recorded as a share of the phase.

The kernel counts CPU time in ticks of 10 ms, so a phase shorter than :data:`MIN_SECONDS`
cannot be judged on its own: it is judged by the load over the worker's whole run instead
(:func:`judged`). Where ``/proc/stat`` is missing (not Linux), load is unknown (NaN).
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass

# a run whose phases saw other processes use more than this many cores on average, or
# more than this share of steal time, is flagged as measured under contention
CONTENDED_CORES = 0.25
CONTENDED_STEAL = 0.05
MIN_SECONDS = 0.5  # 50 ticks: shorter phases are judged by the whole run's load
_HZ = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True)
class Sample:
    wall: float
    busy: float  # seconds of CPU time the whole machine spent busy (all cores)
    steal: float
    own: float  # this process's CPU time (all its threads)


def _proc_stat() -> tuple[float, float] | None:
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
    except OSError:
        return None
    # cpu user nice system idle iowait irq softirq steal guest guest_nice
    v = [int(x) for x in fields[1:]]
    busy = v[0] + v[1] + v[2] + v[5] + v[6]
    steal = v[7] if len(v) > 7 else 0
    return busy / _HZ, steal / _HZ


def sample() -> Sample:
    stat = _proc_stat()
    t = os.times()
    busy, steal = stat if stat else (math.nan, math.nan)
    return Sample(time.monotonic(), busy, steal, t.user + t.system)


def between(a: Sample, b: Sample) -> dict:
    """Other processes' CPU use (cores, on average) and steal share between two samples."""
    wall = max(b.wall - a.wall, 1e-9)
    others = max(0.0, (b.busy - a.busy) - (b.own - a.own)) / wall
    steal = max(0.0, b.steal - a.steal) / (wall * (os.cpu_count() or 1))
    return {"other_cores": others, "steal_share": steal, "seconds": wall}


def judged(phase: dict | None, run: dict | None) -> dict:
    """The load a phase is judged by: its own if it lasted long enough to measure, else the run's."""
    if phase and phase.get("seconds", 0) >= MIN_SECONDS:
        return phase
    return run or phase or {}


def contended(load: dict) -> bool:
    return bool(load.get("other_cores", 0) > CONTENDED_CORES or load.get("steal_share", 0) > CONTENDED_STEAL)


def idle_check(seconds: float = 0.5) -> str | None:
    """A one-line warning when other processes are using the CPU now, else None."""
    a = sample()
    time.sleep(seconds)
    load = between(a, sample())
    if math.isnan(load["other_cores"]) or not contended(load):
        return None
    return (f"the machine is not idle: other processes used {load['other_cores']:.2f} cores on average over "
            f"{seconds:g} s (steal {load['steal_share']:.0%}); timings taken now are slowed and will be flagged as "
            "contended. Stop other work (see `top`) for numbers you can compare.")
