"""What a run will cost, before it starts: build and run times predicted from earlier sizes.

The sweep's own result files are the history. A run's build time at catalog size N is
predicted from the same algorithm and build configuration (size-relative values compared as
written, so ``nlist: sqrt(N)`` at 100k informs ``nlist: sqrt(N)`` at 1M) on the same
workload family at other sizes (``ml-latest-small.dot.u2i.ip`` and its ``.synthetic1M``), by a
power law fitted in log-log (``t ~ N^b``) over every size measured; one size alone is scaled
linearly (b = 1). A build that timed out at a size is at least that long there. The peak
memory (RSS of the worker) is predicted the same way for its part that grows with the catalog
(peak minus the interpreter and library before the workload is read), plus that fixed part; a
run stopped at the memory limit needed at least that much.

The sweep skips a run whose predicted build exceeds ``build_timeout_s`` or whose predicted
peak memory exceeds ``memory_limit_mb`` (recorded as skipped, with the prediction as the
reason) and, under a time budget, starts no run that is predicted to end past it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from .. import powerlaw
from ..h5util import get_json
from ..workloads.names import family

_OVER_MEMORY = re.compile(r"memory limit exceeded \(([0-9.]+) MB")  # the runner's reason
MIN_EXPONENT, MAX_EXPONENT = 0.5, 3.0  # a fit outside these is clipped: two noisy sizes can give anything


def build_key(build: dict, written: dict | None) -> str:
    """A build configuration as written: size-relative values by their expression."""
    shown = build | (written or {})
    return ",".join(f"{k}={shown[k]}" for k in sorted(shown))


@dataclass(frozen=True)
class Point:
    n: int
    build_s: float  # NaN: unknown (the run was stopped before the build ended)
    run_s: float
    timed_out: bool  # the build hit the timeout: build_s is a lower bound
    rss_mb: float = math.nan  # peak RSS of the worker
    over_memory: bool = False  # the run was stopped at the memory limit: rss_mb is a lower bound
    fixed_mb: float = math.nan  # of rss_mb, what does not grow with N (interpreter, library)


@dataclass(frozen=True)
class Prediction:
    build_s: float  # NaN where no earlier build time is known
    run_s: float
    basis: str  # how it was made, for the reason a run is skipped
    rss_mb: float = math.nan
    rss_basis: str = ""

    def __str__(self) -> str:
        times = f"build ~{duration(self.build_s)}, run ~{duration(self.run_s)} ({self.basis})" if math.isfinite(self.run_s) else ""
        memory = f"peak memory ~{self.rss_mb:,.0f} MB ({self.rss_basis})" if math.isfinite(self.rss_mb) else ""
        return "; ".join(x for x in (times, memory) if x)


def duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "unknown"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class History:
    """Build and run times of finished runs, by (workload family, algorithm, build as written)."""

    def __init__(self):
        self.points: dict[tuple[str, str, str], list[Point]] = {}

    @classmethod
    def load(cls, results_dir: Path) -> "History":
        h = cls()
        for path in sorted(Path(results_dir).glob("*/*/*.hdf5")) if Path(results_dir).is_dir() else []:
            h.add_file(path)
        return h

    def add_file(self, path: Path) -> None:
        """The times of one result file (nothing for an unreadable, older or skipped one)."""
        try:
            with h5py.File(path, "r") as f:
                status, n = str(f.attrs["status"]), int(f.attrs.get("n_base", 0))
                reason = str(f.attrs.get("reason", ""))
                stats = get_json(f, "build_stats", {})
                build = get_json(f, "build", {})
                written = get_json(f, "size_relative", {}).get("build")
                key = (family(str(f.attrs["workload"])), str(f.attrs["algorithm"]), build_key(build, written))
                run_s = float(f.attrs.get("run_s", math.nan))
                timeout = float(get_json(f, "settings", {}).get("build_timeout_s", math.nan))
        except (OSError, KeyError, ValueError):
            return
        if not n:
            return
        rss, fixed = (float(stats[k]) if stats.get(k) is not None else math.nan for k in ("peak_rss_mb", "rss_library_mb"))
        over = _OVER_MEMORY.match(reason) if status == "failed" else None
        if status == "ok" and stats.get("build_s") is not None:
            self.add(key, Point(n, float(stats["build_s"]), run_s, False, rss, False, fixed))
        elif status == "failed" and reason.startswith("timeout: build"):
            self.add(key, Point(n, timeout, math.nan, True))
        elif over:
            self.add(key, Point(n, math.nan, math.nan, False, float(over.group(1)), True))

    def add(self, key: tuple[str, str, str], point: Point) -> None:
        self.points.setdefault(key, []).append(point)

    def predict(self, workload: str, algorithm: str, build: dict, written: dict | None, n: int) -> Prediction | None:
        pts = self.points.get((family(workload), algorithm, build_key(build, written)), [])
        if not pts:
            return None
        build_s, run_s, basis = math.nan, math.nan, "no build time known"
        builds = [(p.n, p.build_s) for p in pts if math.isfinite(p.build_s)]
        if builds:
            build_s, _, basis = _fit(n, builds)
        if any(p.timed_out and p.n <= n for p in pts):
            build_s = max(build_s, max(p.build_s for p in pts if p.timed_out and p.n <= n))
            basis = f"timed out at N={max(p.n for p in pts if p.timed_out):,}"
        runs = [(p.n, p.run_s) for p in pts if not p.timed_out and math.isfinite(p.run_s)]
        run_s = _fit(n, runs)[0] if runs else build_s
        rss_mb, rss_basis = math.nan, ""
        memory = [p for p in pts if not p.over_memory and math.isfinite(p.rss_mb) and math.isfinite(p.fixed_mb)]
        if memory:  # the part that grows with N follows the power law; the library's own memory stays
            grows, _, rss_basis = _fit(n, [(p.n, p.rss_mb - p.fixed_mb) for p in memory])
            rss_mb = grows + float(np.median([p.fixed_mb for p in memory]))
        over = [p for p in pts if p.over_memory and p.n <= n]
        if over:
            rss_mb = float(np.fmax(rss_mb, max(p.rss_mb for p in over)))
            rss_basis = f"stopped at the memory limit at N={max(p.n for p in over):,}"
        return Prediction(build_s, float(np.fmax(run_s, build_s)), basis, rss_mb, rss_basis)


def _fit(n: int, points: list[tuple[int, float]]) -> tuple[float, float, str]:
    """(prediction at n, exponent, basis) of ``t ~ N^b`` through ``points``."""
    by_n: dict[int, list[float]] = {}
    for size, t in points:
        by_n.setdefault(size, []).append(max(t, 1e-3))
    sizes = sorted(by_n)
    times = [float(np.median(by_n[s])) for s in sizes]
    if n in by_n:
        return times[sizes.index(n)], math.nan, f"measured at N={n:,}"
    if len(sizes) == 1:
        b, basis = 1.0, f"from N={sizes[0]:,}, assumed linear in N"
        log_a = math.log(times[0]) - b * math.log(sizes[0])
    else:
        b = float(np.clip(powerlaw.fit(sizes, times)[0], MIN_EXPONENT, MAX_EXPONENT))
        log_a = float(np.mean(np.log(times) - b * np.log(sizes)))
        basis = f"t ~ N^{b:.2f} from {len(sizes)} sizes"
    return math.exp(log_a + b * math.log(n)), b, basis
