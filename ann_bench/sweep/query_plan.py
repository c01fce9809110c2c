"""Which query configurations a worker measures on the index it built.

A *grid* (the sweep's ``query:`` lists) is a fixed list. A *bisection* (the tuner's) names one
query parameter whose recall grows with its value, the range to search, the other query
parameters held fixed and recall targets at one depth k: the worker measures the values
:func:`ann_bench.sweep.bisect.smallest_reaching` asks for, steering on the recall@k the
result file will report (k-NN recall of the 1-thread batch answers), and records each one
exactly like a grid point. In a job and a run definition a grid is a list, a bisection a
``{"bisect": {...}}`` mapping.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Callable

from .bisect import Curve, max_steps, smallest_reaching


@dataclass(frozen=True)
class Bisection:
    param: str
    lo: float
    hi: float
    targets: tuple[float, ...]
    k: int
    integer: bool = True
    log: bool = True
    ratio: float = 1.15
    fixed: dict = field(default_factory=dict)
    guesses: tuple = ()  # (target, value) pairs: where a similar index reached each target

    def to_json(self) -> dict:
        return {"bisect": asdict(self) | {"targets": list(self.targets), "guesses": [list(g) for g in self.guesses]}}

    @classmethod
    def from_json(cls, spec: dict) -> "Bisection":
        b = dict(spec["bisect"])
        return cls(**(b | {"targets": tuple(b["targets"]), "guesses": tuple(tuple(g) for g in b.get("guesses", ()))}))

    def config(self, value) -> dict:
        return self.fixed | {self.param: int(value) if self.integer else float(value)}

    def max_configs(self) -> int:
        """About this many configurations, for progress and budgets: the upper end, then per target
        a bisection of the whole range and its lower end (shared points and guesses make it
        fewer; a guess far off can make it a few more)."""
        steps = max_steps(self.lo, self.hi, ratio=self.ratio, log=self.log, integer=self.integer)
        return 1 + len(self.targets) * (steps + 1)


def is_bisection(queries) -> bool:
    return isinstance(queries, dict) and "bisect" in queries


def count(queries) -> int:
    """How many configurations a plan measures (a bisection: at most)."""
    return Bisection.from_json(queries).max_configs() if is_bisection(queries) else len(queries)


def describe(queries) -> str:
    if not is_bisection(queries):
        return f"{len(queries)} configurations"
    b = Bisection.from_json(queries)
    return (f"bisection on {b.param} in [{b.lo:g}, {b.hi:g}] for recall@{b.k} "
            f"{', '.join(f'{t:g}' for t in b.targets)}" + (f" with {b.fixed}" if b.fixed else ""))


def run(queries, measure: Callable[[dict], float | None]) -> None:
    """Measure every configuration of the plan: ``measure(query_params)`` returns recall@k at
    the plan's depth (used by a bisection; a grid ignores it)."""
    if not is_bisection(queries):
        for q in queries:
            measure(q)
        return
    b = Bisection.from_json(queries)
    curve = Curve(lambda v: measure(b.config(v)), integer=b.integer)
    guesses = dict(b.guesses)
    for target in sorted(b.targets):
        smallest_reaching(curve, target, b.lo, b.hi, ratio=b.ratio, log=b.log, guess=guesses.get(target))
