"""Which query configurations a worker measures on the index it built.

A *grid* (the sweep's ``query:`` lists) is a fixed list. A *bisection* (the tuner's) names one
query parameter whose recall grows with its value, the range to search, the other query
parameters held fixed and recall targets at one depth k: the worker measures the values
:func:`ann_bench.sweep.bisect.smallest_reaching` asks for, steering on the recall@k the
result file will report (k-NN recall of the 1-thread batch answers), and records each one
exactly like a grid point. In a job and a run definition a grid is a list, a bisection a
``{"bisect": {...}}`` mapping.

Some indexes have a second knob that caps recall whatever the first one does: ScaNN re-scores
only ``reorder_k`` candidates however many leaves it searches, IVF-PQ with refine re-ranks
``k * k_factor``. When the bisected parameter's whole range falls short of a target, a
bisection's *raises* double such a parameter (one at a time, up to its top), each time trying
the bisected parameter where recall had stopped growing, and bisect again once that reaches
the target.

A bisection may carry a *budget*: at most that many configurations on this index (the tuner's
share of its query-configuration budget). Every target is then bracketed to the square of the
ratio first and narrowed to the ratio after, so that a budget spent midway leaves each target's
answer within the square of the ratio of its boundary. Once it is spent the worker stops where
it is; each target's answer is then the smallest value measured reaching it, a bracket's upper
end rather than its boundary.

A bisection may also carry *bars*: per target, the best speed (``qps``: the tuner's speed
column) reaching it on the builds measured before. Speed falls as the bisected parameter
grows, so once a value on this index misses a target while already slower than its bar, every
value that reaches it is slower still: the index cannot win that target, and its search stops
there, leaving the configurations to the builds that can. A plan with raises keeps searching
(a raised second knob with fewer probes may be faster than the point that missed).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Callable

from .bisect import Curve, gallop, max_steps, smallest_reaching


@dataclass(frozen=True)
class Raise:
    """A query parameter, also monotone in recall, doubled (``log``; else stepped by an eighth of
    ``hi``) up to ``hi`` when the bisected one cannot reach a target."""

    param: str
    hi: float
    integer: bool = True
    log: bool = True

    def up(self, value):
        return gallop(value, value, self.hi, True, self.log, self.integer, self.hi / 8)

    def steps(self, value) -> int:
        n = 0
        while value < self.hi:
            value, n = self.up(value), n + 1
        return n


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
    raises: tuple[Raise, ...] = ()  # raised in turn when the whole range of ``param`` falls short
    budget: int | None = None  # at most this many configurations measured (None: as many as it takes)
    bars: tuple = ()  # (target, speed) pairs: the fastest reaching each target on earlier builds
    qps: str = "qps_single"  # the speed the bars are in

    def to_json(self) -> dict:
        """The plan as a run definition holds it; without raises, a budget or bars it is what
        ann-bench wrote before they existed, so earlier tuned result files still match their
        definition and are kept."""
        out = asdict(self) | {"targets": list(self.targets), "guesses": [list(g) for g in self.guesses],
                              "raises": [asdict(r) for r in self.raises], "bars": [list(b) for b in self.bars]}
        for key in ("raises", "budget", "bars"):
            if not out[key]:
                del out[key]
        if not self.bars:
            del out["qps"]
        return {"bisect": out}

    @classmethod
    def from_json(cls, spec: dict) -> "Bisection":
        b = dict(spec["bisect"])
        return cls(**(b | {"targets": tuple(b["targets"]), "guesses": tuple(tuple(g) for g in b.get("guesses", ())),
                           "raises": tuple(Raise(**r) for r in b.get("raises", ())),
                           "bars": tuple(tuple(x) for x in b.get("bars", ()))}))

    def config(self, value, fixed: dict | None = None) -> dict:
        """The query parameters with ``param`` at ``value`` and the others at ``fixed`` (default: as given)."""
        return (self.fixed if fixed is None else fixed) | {self.param: int(value) if self.integer else float(value)}

    def max_configs(self) -> int:
        """About this many configurations, for progress and budgets: the upper end, then per target
        a bisection of the whole range and its lower end, and with raises one point per raise
        and one more bisection (shared points and guesses make it fewer; a guess far off can make
        it a few more)."""
        steps = max_steps(self.lo, self.hi, ratio=self.ratio, log=self.log, integer=self.integer)
        raised = sum(r.steps(self.fixed[r.param]) for r in self.raises)
        most = 1 + len(self.targets) * (steps + 1) + (raised + steps + 1 if raised else 0)
        return most if self.budget is None else min(most, self.budget)


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
            f"{', '.join(f'{t:g}' for t in b.targets)}" + (f" with {b.fixed}" if b.fixed else "")
            + "".join(f", raising {r.param} up to {r.hi:g} when short" for r in b.raises))


def run(queries, measure: Callable[[dict], float | None], speed: Callable[[dict], float | None] | None = None) -> None:
    """Measure every configuration of the plan: ``measure(query_params)`` returns recall@k at
    the plan's depth (used by a bisection; a grid ignores it); ``speed(query_params)``, the
    plan's speed of a configuration measured (compared with its bars; None: no bars)."""
    if not is_bisection(queries):
        for q in queries:
            measure(q)
        return
    b = Bisection.from_json(queries)
    curves: dict = {}  # the other query parameters' values -> the bisected parameter's curve at them
    spent = 0

    def budgeted(query: dict):
        nonlocal spent
        if b.budget is not None and spent >= b.budget:
            raise _Spent
        spent += 1
        return measure(query)

    bars = {} if b.raises or speed is None else dict(b.bars)
    now: dict = {}  # the target searched now and its bar

    def beaten(fixed: dict, value, recall: float) -> bool:
        """A value that misses the target searched now, already slower than its bar."""
        if now.get("bar") is None or recall >= now["target"]:
            return False
        s = speed(b.config(value, fixed))
        return s is not None and s < now["bar"]

    def curve(fixed: dict) -> Curve:
        key = json.dumps(fixed, sort_keys=True)
        if key not in curves:
            curves[key] = _Watched(lambda v: budgeted(b.config(v, fixed)), integer=b.integer,
                                   beaten=lambda v, r: beaten(fixed, v, r))
        return curves[key]

    def search(on: Curve, target: float, ratio: float, guess=None):
        now.update(target=target, bar=bars.get(target))
        for v in list(on.points):  # measured for another target already: beaten there?
            on(v)
        return smallest_reaching(on, target, b.lo, b.hi, ratio=ratio, log=b.log, guess=guess)

    # with a budget, every target is bracketed to ratio squared first and narrowed to ratio after:
    # a budget spent then leaves every answer within ratio squared of its boundary, rather than the
    # lower targets' within ratio and the highest one's wherever its first guess fell
    coarse = b.ratio**2 if b.budget is not None else b.ratio
    fixed, guesses, where = dict(b.fixed), dict(b.guesses), {}
    try:
        for target in sorted(b.targets):  # a raise made for one target holds for the higher ones
            try:
                found = search(curve(fixed), target, coarse, guesses.get(target))
            except _Beaten:
                continue  # this index cannot win the target: on to the next
            if not found.reached and b.raises:
                fixed = _raise(b, curve, fixed, target, curve(fixed).plateau(target), coarse)
            where[target] = fixed
        if coarse != b.ratio:
            for target, on in where.items():
                try:
                    search(curve(on), target, b.ratio)
                except _Beaten:
                    continue
    except _Spent:
        pass  # every configuration measured is recorded: the answers stand on them


@dataclass
class _Watched(Curve):
    """A curve that stops a search (:class:`_Beaten`) at a value its ``beaten(value, recall)`` names."""

    beaten: Callable[[float, float], bool] = lambda v, r: False

    def __call__(self, value):
        recall = super().__call__(value)
        if self.beaten(value, recall):
            raise _Beaten
        return recall


class _Spent(Exception):
    """The plan's budget of configurations is spent."""


class _Beaten(Exception):
    """The index cannot reach the target searched faster than its bar."""


def _raise(b: Bisection, curve: Callable[[dict], Curve], fixed: dict, target: float, at, ratio: float) -> dict:
    """Raise ``b.raises`` in turn from ``fixed``, trying the bisected parameter at ``at`` (where
    recall stopped growing) each time, until that reaches ``target``; then bisect below it. With
    every raise at its top and the target still missed, the bisected parameter's whole range is
    searched once more (its top measured: the answer "unreachable" stands on it). The raised values."""
    for r in b.raises:
        while fixed[r.param] < r.hi and curve(fixed)(at) < target:  # the first check: measured already
            fixed = fixed | {r.param: r.up(fixed[r.param])}
    smallest_reaching(curve(fixed), target, b.lo, b.hi, ratio=ratio, log=b.log, guess=at)
    return fixed
