"""The ``ann-bench`` command line, one module per pipeline stage.

Errors the user can fix print one line, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
import warnings

from ..errors import AnnBenchError
from . import analysis, data, embeddings, sweep, workloads


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ann-bench", description="Benchmark ANN indexes on two-tower recommender embeddings, from MovieLens to a report."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for stage in (data, embeddings, workloads, sweep, analysis):
        stage.register(sub)
    return parser


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"ann-bench: warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    warnings.showwarning = _one_line_warning
    try:
        args.func(args)
    except AnnBenchError as exc:
        print(f"ann-bench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ann-bench: interrupted; finished outputs are kept, partial ones were discarded.", file=sys.stderr)
        return 130
    return 0


