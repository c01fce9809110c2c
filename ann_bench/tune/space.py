"""What the tuner searches for one algorithm on one workload, from the adapter's declared ranges.

Every parameter an adapter declares a ``tune`` range for is searched over it (size-relative
bounds resolved at the workload's N), unless ``algorithms.yaml`` wrote it: several values
narrow the range to their span, one value fixes it. A parameter without a declared range
takes its grid's values as choices (one value: fixed). A query parameter that ``needs`` a
build parameter the file turns off (IVF-PQ's k_factor without refine) stays at its default.
The first query parameter declared
``monotone`` is not sampled: each built index finds its smallest value reaching the recall
target by bisection (:mod:`ann_bench.sweep.query_plan`), up to a bound that may name a build
parameter (``nprobe`` up to ``nlist``). A later monotone one (ScaNN's ``reorder_k``, IVF-PQ's
``k_factor``) is sampled like any other and, on a build where the first one's whole range
falls short of a target, raised up to the top of its range.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError
from ..sweep import registry
from ..sweep.config import Algorithm
from ..sweep.params import Param
from ..sweep.query_plan import Bisection, Raise
from ..sweep.relative import is_relative, parse as parse_relative, resolve


@dataclass(frozen=True)
class Dim:
    """One searched or fixed parameter: a range (``lo``..``hi``), a list of choices, or one value."""

    name: str
    type: type
    lo: float | None = None
    hi: float | None = None
    log: bool = False
    choices: tuple = ()
    start: float | None = None  # the adapter's recommended first value, within lo..hi
    raises_recall: bool = False  # larger values build an index reaching higher recall (the adapter says)

    @property
    def fixed(self) -> bool:
        return len(self.choices) == 1

    def suggest(self, trial, prefix: str):
        """This parameter's value for an Optuna trial."""
        name = f"{prefix}.{self.name}"
        if self.choices:
            return self.choices[0] if self.fixed else trial.suggest_categorical(name, list(self.choices))
        if self.type is int:
            return trial.suggest_int(name, int(self.lo), int(self.hi), log=self.log)
        return trial.suggest_float(name, float(self.lo), float(self.hi), log=self.log)

    def center(self):
        """The middle of the range (geometric on a log scale), or the middle choice."""
        if self.choices:
            return self.choices[len(self.choices) // 2]
        v = (self.lo * self.hi) ** 0.5 if self.log else (self.lo + self.hi) / 2
        return int(round(v)) if self.type is int else float(v)

    def first(self):
        """Where the first build sets it: the adapter's recommended start, else the middle."""
        return self.center() if self.start is None else self.start

    def richest(self):
        """Where the second build sets it: the top of the range if larger values raise recall,
        else where the first build does."""
        if not self.raises_recall:
            return self.first()
        if self.choices:
            return max(self.choices)
        return int(self.hi) if self.type is int else float(self.hi)

    def describe(self) -> str:
        if self.fixed:
            return f"{self.name}={self.choices[0]}"
        if self.choices:
            return f"{self.name} in {{{', '.join(map(str, self.choices))}}}"
        return f"{self.name} in [{self.lo:g}, {self.hi:g}]{' (log)' if self.log else ''}"


@dataclass(frozen=True)
class Space:
    algorithm: str
    adapter: str
    n: int
    build: tuple[Dim, ...]
    query: tuple[Dim, ...]  # sampled or fixed alongside each build
    monotone: str  # the query parameter found by bisection
    monotone_param: Param
    raised: tuple[str, ...] = ()  # sampled query parameters also monotone: raised when ``monotone`` falls short

    def bisection(self, build: dict, query: dict, targets, k: int, *, ratio: float = 1.15, guesses: dict | None = None,
                  bars: dict | None = None, qps: str = "qps_single", budget: int | None = None) -> Bisection:
        """The query plan for one built index: bisection on the monotone parameter toward ``targets``,
        starting from ``guesses`` ({target: value} found on earlier builds) where given, giving up
        a target once it cannot beat its bar ({target: speed in column ``qps`` met on earlier
        builds}), measuring at most ``budget`` configurations where given."""
        p = self.monotone_param
        lo, hi = (_bound(b, p, build, self.n, f"{self.adapter}.query.{self.monotone}.tune") for b in p.tune)
        params = registry.get(self.adapter).query_params
        raises = tuple(Raise(d.name, d.hi, d.type is int, d.log) for d in map(self.dim, self.raised)
                       if params[d.name].needs is None or build.get(params[d.name].needs))
        return Bisection(self.monotone, lo, hi, tuple(sorted(targets)), k, integer=p.type is int, log=p.log and lo > 0,
                         ratio=ratio, fixed=query, guesses=tuple(sorted((guesses or {}).items())), raises=raises,
                         budget=budget, bars=tuple(sorted((bars or {}).items())), qps=qps)

    def starts(self) -> list[dict]:
        """Optuna parameters of the builds a study measures first: the adapters' recommended
        values (where they declare one); then the richest build, every parameter that raises recall
        at the top of its range (for the highest targets; none where no parameter does); then
        the middle of the space. None when nothing is searched, no build twice."""
        free = [(part, d) for part, dims in (("build", self.build), ("query", self.query)) for d in dims if not d.fixed]
        points = [{f"{part}.{d.name}": pick(d) for part, d in free} for pick in (Dim.first, Dim.richest, Dim.center)]
        return [p for i, p in enumerate(points) if p and p not in points[:i]]

    def dim(self, name: str) -> Dim:
        return next(d for d in (*self.build, *self.query) if d.name == name)

    def describe(self) -> str:
        parts = [d.describe() for d in (*self.build, *self.query)]
        return "; ".join(parts + [f"{self.monotone} by bisection"] + [f"{r} raised when short" for r in self.raised])


def _bound(value, param: Param, build: dict, n: int, where: str):
    """A tune bound: a number, a build parameter's name, or a size-relative value at N."""
    if isinstance(value, str) and value in build:
        return build[value]
    if isinstance(value, str):
        if not is_relative(value, param):
            raise ConfigError(f"{where}: {value!r} is neither a number, a build parameter nor a size-relative value.")
        return resolve(parse_relative(value, where), n, param, where)
    return value


def _dim(name: str, p: Param, values: list, given: bool, n: int, where: str) -> Dim:
    distinct = sorted(set(values), key=repr)
    if p.tune and p.type in (int, float) and not (given and len(distinct) == 1):
        lo, hi = (min(distinct), max(distinct)) if given else (_bound(b, p, {}, n, where) for b in p.tune)
        start = None
        if p.start is not None:  # the smallest of the recommended values at N, within the range searched
            start = min(max(min(_bound(v, p, {}, n, f"{where}.start") for v in _many(p.start)), lo), hi)
        return Dim(name, p.type, lo, hi, p.log and lo > 0, start=start, raises_recall=p.raises_recall)
    return Dim(name, p.type, choices=tuple(distinct), raises_recall=p.raises_recall)


def _many(value) -> tuple:
    return value if isinstance(value, tuple) else (value,)


def space_for(alg: Algorithm, n: int, source: str = "algorithms.yaml") -> Space:
    """The tuning space of an ``algorithms.yaml`` entry at catalog size ``n``."""
    cls = registry.get(alg.adapter)
    monotone = [k for k, p in cls.query_params.items() if p.monotone and p.tune]
    if not monotone:
        raise ConfigError(f"{source}: algorithms.{alg.name}: {alg.adapter} declares no monotone query parameter to bisect "
                          "(exact search has nothing to tune); leave it out of the tuning run.")
    grids = alg.at_size(n, source)
    where = f"{source}: algorithms.{alg.name}"
    build = tuple(_dim(k, p, [b[k] for b in grids.build], f"build.{k}" in alg.given, n, f"{where}.build.{k}")
                  for k, p in cls.build_params.items())
    off = {d.name for d in build if d.fixed and not d.choices[0]}
    query = tuple(Dim(k, p.type, choices=(p.default,)) if p.needs in off
                  else _dim(k, p, [q[k] for q in grids.query], f"query.{k}" in alg.given, n, f"{where}.query.{k}")
                  for k, p in cls.query_params.items() if k != monotone[0])
    raised = tuple(d.name for d in query if d.name in monotone[1:] and not d.choices)  # a value the file fixes stays
    return Space(alg.name, alg.adapter, n, build, query, monotone[0], cls.query_params[monotone[0]], raised)
