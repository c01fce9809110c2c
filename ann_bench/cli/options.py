"""Checked command-line values: a bad number is argparse's one-line usage error (exit status
2), never a traceback from deep inside a library that was handed it."""

from __future__ import annotations

import argparse
import math
from pathlib import Path


def at_least(low: int):
    """An argparse ``type``: an integer no smaller than ``low``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
        return value

    parse.__name__ = f"integer >= {low}"
    return parse


def _finite(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def fraction(text: str) -> float:
    """An argparse ``type``: a number strictly between 0 and 1."""
    value = _finite(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {value}")
    return value


def positive(text: str) -> float:
    """An argparse ``type``: a finite number above 0 (a learning rate, a temperature)."""
    value = _finite(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {value}")
    return value


def non_negative(text: str) -> float:
    """An argparse ``type``: a finite number of at least 0 (a penalty weight)."""
    value = _finite(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be at least 0, got {value}")
    return value


def between(low: float, high: float):
    """An argparse ``type``: a finite number from ``low`` to ``high``, both included."""

    def parse(text: str) -> float:
        value = _finite(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be from {low} to {high}, got {value}")
        return value

    parse.__name__ = f"number in [{low}, {high}]"
    return parse


def add_results_option(parser: argparse.ArgumentParser) -> None:
    """``--results DIR``: the folder of one sweep's result files (default ``results/``)."""
    parser.add_argument("--results", type=Path, metavar="DIR",
                        help="results folder (default: results/; `make bench-scale` uses results/scale)")


def results_dir(args) -> Path:
    from .. import paths

    return args.results or paths.results_dir()
