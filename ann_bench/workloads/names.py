"""Workload names: ``<variant>.<model>.<kind>.<metric>`` and, for a grown catalog, ``.synthetic<N>``.

Workloads that differ only in that size suffix form a *family*: the same model, kind and
metric at several catalog sizes, which the budget and the scaling analysis compare.
"""

from __future__ import annotations

import re

_SIZE = re.compile(r"\.synthetic([0-9]+)([kM]?)$")


def human(n: int) -> str:
    """1000000 -> '1M', 100000 -> '100k', 123 -> '123'."""
    for unit, size in (("M", 1_000_000), ("k", 1_000)):
        if n >= size and n % size == 0:
            return f"{n // size}{unit}"
    return str(n)


def workload_name(variant: str, model: str, kind: str, metric: str, scale: int | None) -> str:
    return f"{variant}.{model}.{kind}.{metric}" + (f".synthetic{human(scale)}" if scale else "")


def family(name: str) -> str:
    """The workload name without its size suffix."""
    return _SIZE.sub("", name)
