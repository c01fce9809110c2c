"""Named, typed, range-checked parameters for index adapters (no positional lists)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError


@dataclass(frozen=True)
class Param:
    type: type
    default: Any = None
    min: float | None = None
    max: float | None = None
    choices: tuple | None = None
    help: str = ""
    # for ``ann-bench tune``: the range it searches, (lo, hi), each a number, a size-relative
    # value ('4*sqrt(N)') or, for a query parameter, a build parameter's name ('nlist');
    # ``log``: searched on a log scale; ``monotone``: a query parameter whose recall grows with
    # its value: the first one an adapter declares is found by bisection on each built index
    # instead of sampled; a later one is sampled, and raised when the first one falls short
    tune: tuple | None = None
    log: bool = False
    monotone: bool = False
    # the name of a build parameter without which (false or 0) this one has no effect (IVF-PQ's
    # k_factor needs refine): left out of the recorded parameters and of the tuning space then
    needs: str | None = None
    # for a tuned build parameter: where ann-bench tune's first build sets it, when the library
    # recommends a value: a number or size-relative value, or a tuple of them (the smallest at N
    # counts); kept within the range searched; default: the middle of ``tune``
    start: Any = None
    # for a tuned build parameter: larger values build an index that reaches higher recall at a
    # given query setting (a graph's degree, its candidate list), for more build time and memory;
    # ann-bench tune's second build sets each such parameter to the top of its range, the build
    # the highest recall target is likeliest to want ("higher M work better for ... high
    # recall": hnswlib's ALGO_PARAMS.md)
    raises_recall: bool = False

    def check(self, value: Any, where: str) -> Any:
        """The value converted to this parameter's type, or a ConfigError naming ``where``."""
        if self.type is bool:
            if not isinstance(value, bool):
                raise ConfigError(f"{where}: expected true or false, got {value!r}.")
            return value
        if self.type is int and (isinstance(value, bool) or not isinstance(value, int)):
            raise ConfigError(f"{where}: expected an integer, got {value!r}.")
        if self.type is float and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise ConfigError(f"{where}: expected a number, got {value!r}.")
        if self.type is str and not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}.")
        value = self.type(value)
        if self.choices is not None and value not in self.choices:
            raise ConfigError(f"{where}: {value!r} is not one of {', '.join(map(str, self.choices))}.")
        if self.min is not None and value < self.min:
            raise ConfigError(f"{where}: {value!r} is below the minimum {self.min}.")
        if self.max is not None and value > self.max:
            raise ConfigError(f"{where}: {value!r} is above the maximum {self.max}.")
        return value


def suggest(name: str, known) -> str:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.5)
    return f" Did you mean '{close[0]}'?" if close else ""


def check_params(values: dict, schema: dict[str, Param], where: str) -> dict:
    """Validate a {name: value} dict against a schema; fill defaults for missing names."""
    out = {}
    for name, value in values.items():
        if name not in schema:
            known = ", ".join(schema) or "none"
            raise ConfigError(f"{where}.{name}: unknown parameter.{suggest(name, schema)} Known: {known}.")
        out[name] = schema[name].check(value, f"{where}.{name}")
    for name, p in schema.items():
        if name not in out:
            if p.default is None:
                raise ConfigError(f"{where}.{name}: required parameter is missing.")
            out[name] = p.default
    return out
