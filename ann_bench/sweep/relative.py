"""Grid values written relative to the catalog size N, so one ``algorithms.yaml`` serves 10k to 10M items.

A value may be a string ``[C*]F[/D]`` with ``F`` one of ``N``, ``sqrt(N)`` or ``log2(N)`` and
``C``, ``D`` positive numbers: ``sqrt(N)``, ``4*sqrt(N)``, ``N/1000``, ``0.05*N``,
``2*log2(N)``. The file is checked when it is read (the notation); each workload then resolves
the values at its own N (rounded for integer parameters) and checks them against the
parameter's range, and the run records both the effective value and the expression.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from ..errors import ConfigError
from .params import Param

_FUNCS = {"N": float, "sqrt(N)": math.sqrt, "log2(N)": math.log2}
_NUM = r"(\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_PATTERN = re.compile(rf"^\s*(?:(?P<c>{_NUM})\s*\*\s*)?(?P<f>sqrt\(\s*N\s*\)|log2\(\s*N\s*\)|N)\s*(?:/\s*(?P<d>{_NUM})\s*)?$")
NOTATION = "C*F/D, F one of N, sqrt(N), log2(N): e.g. 4*sqrt(N), N/1000, 0.05*N"


@dataclass(frozen=True)
class SizeRelative:
    text: str
    coefficient: float
    function: str
    divisor: float

    def value(self, n: int) -> float:
        return self.coefficient * _FUNCS[self.function](n) / self.divisor

    def __str__(self) -> str:
        return self.text


def parse(text: str, where: str) -> SizeRelative:
    m = _PATTERN.match(text)
    if m is None:
        raise ConfigError(f"{where}: {text!r} is neither a number nor a size-relative value ({NOTATION}).")
    c, d = float(m.group("c") or 1), float(m.group("d") or 1)
    if c <= 0 or d <= 0:
        raise ConfigError(f"{where}: {text!r}: the factor and divisor must be positive.")
    return SizeRelative(re.sub(r"\s", "", text), c, re.sub(r"\s", "", m.group("f")), d)


def is_relative(value, param: Param) -> bool:
    """A value left to resolve per workload: words for a numeric parameter (a quoted number
    such as '16' is not one: it gets the parameter's own type error)."""
    return isinstance(value, str) and param.type in (int, float) and re.search(r"[A-Za-z]", value) is not None


def resolve(value: SizeRelative, n: int, param: Param, where: str):
    """The expression's value at catalog size ``n``, of the parameter's type and in its range."""
    v = value.value(n)
    if param.type is int:
        v = max(1, round(v))
    try:
        return param.check(v, where)
    except ConfigError as exc:
        raise ConfigError(f"{str(exc).rstrip('.')} ({value} at N={n:,}).") from None


def resolve_grid(grid: list[dict], n: int, schema: dict[str, Param], where: str) -> tuple[list[dict], list[dict]]:
    """Each combination of ``grid`` at catalog size ``n``, with the combinations that become equal
    merged (``sqrt(N)`` and ``N/100`` meet at N = 10,000); and, for each, the expressions it came
    from ({name: text}, empty for a combination written in plain numbers)."""
    out, written, seen = [], [], set()
    for combo in grid:
        values = {k: resolve(v, n, schema[k], f"{where}.{k}") if isinstance(v, SizeRelative) else v for k, v in combo.items()}
        key = tuple(sorted((k, repr(v)) for k, v in values.items()))
        if key in seen:
            continue
        seen.add(key)
        out.append(values)
        written.append({k: str(v) for k, v in combo.items() if isinstance(v, SizeRelative)})
    return out, written
