"""What a team asks for: ``recall@10 >= 0.95``, optionally ``p99_ms <= 5``, ``index_mb <= 2048``,
``build_s <= 600``; parsed with clear errors, and checked against a measured point."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import ConfigError

# the name a user writes -> the result table's column
LIMITS = {"p99_ms": "latency_p99_ms", "index_mb": "index_mb", "build_s": "build_s"}
_RECALL = re.compile(r"^\s*recall@(\d+)\s*>=\s*([0-9.]+)\s*$")
_LIMIT = re.compile(r"^\s*([a-z0-9_]+)\s*<=\s*([0-9.eE+]+)\s*$")
FORMS = "recall@K >= R (0 < R <= 1), " + ", ".join(f"{name} <= X" for name in LIMITS)


@dataclass(frozen=True)
class Goal:
    k: int
    recall: float
    limits: tuple[tuple[str, float], ...] = ()  # (column, upper bound)

    @property
    def recall_column(self) -> str:
        return f"recall@{self.k}"

    def violations(self, point: dict) -> dict[str, float]:
        """How far a measured point is over each limit (only the limits it breaks; a missing
        measurement breaks its limit)."""
        out = {}
        for column, bound in self.limits:
            v = point.get(column)
            if v is None or v != v or v > bound:
                out[column] = float("inf") if v is None or v != v else float(v) - bound
        return out

    def met(self, point: dict) -> bool:
        r = point.get(self.recall_column)
        return r is not None and r == r and r >= self.recall and not self.violations(point)

    def __str__(self) -> str:
        names = {v: k for k, v in LIMITS.items()}
        return " and ".join([f"recall@{self.k} >= {self.recall:g}"] + [f"{names[c]} <= {b:g}" for c, b in self.limits])


def parse_recall(text: str) -> tuple[int, float]:
    m = _RECALL.match(str(text))
    if not m:
        raise ConfigError(f"target {text!r}: expected recall@K >= R, e.g. 'recall@10 >= 0.95'.")
    k, r = int(m.group(1)), float(m.group(2))
    if k < 1 or not 0 < r <= 1:
        raise ConfigError(f"target {text!r}: K must be at least 1 and R in (0, 1].")
    return k, r


def parse_limit(text: str) -> tuple[str, float]:
    m = _LIMIT.match(str(text))
    if not m or m.group(1) not in LIMITS:
        raise ConfigError(f"constraint {text!r}: expected one of {FORMS}.")
    try:
        bound = float(m.group(2))
    except ValueError:
        raise ConfigError(f"constraint {text!r}: {m.group(2)!r} is not a number.") from None
    if bound <= 0:
        raise ConfigError(f"constraint {text!r}: the bound must be positive.")
    return LIMITS[m.group(1)], bound


def goals(recalls: list[str], limits: list[str] = ()) -> list[Goal]:
    """One goal per recall target, each with every limit."""
    if not recalls:
        raise ConfigError(f"no recall target given: expected at least one of the form {FORMS.split(',')[0]}.")
    parsed = tuple(parse_limit(t) for t in limits)
    out = [Goal(k, r, parsed) for k, r in (parse_recall(t) for t in recalls)]
    if len({g.k for g in out}) > 1:
        raise ConfigError(f"targets {', '.join(recalls)}: give them at one depth (recall@K with one K); tune once per depth.")
    return out


_FILE_KEYS = ("targets", "limits", "trials")


def from_file(raw: dict, source: str) -> tuple[list[str], list[str], int | None]:
    """The ``tune:`` section of ``algorithms.yaml``: targets, limits (lists of strings), trials."""
    for key in raw:
        if key not in _FILE_KEYS:
            raise ConfigError(f"{source}: tune.{key}: unknown key; expected {', '.join(_FILE_KEYS)}.")
    out = []
    for key in ("targets", "limits"):
        value = raw.get(key) or []
        value = [value] if isinstance(value, str) else value
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{source}: tune.{key}: expected a list of strings such as 'recall@10 >= 0.95'.")
        out.append(value)
    trials = raw.get("trials")
    if trials is not None and (isinstance(trials, bool) or not isinstance(trials, int) or trials < 1):
        raise ConfigError(f"{source}: tune.trials: expected a positive integer, got {trials!r}.")
    return out[0], out[1], trials
