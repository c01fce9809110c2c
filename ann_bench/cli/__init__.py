"""The ``ann-bench`` command line, one module per pipeline stage.

Errors the user can fix print one line, never a traceback. SIGTERM and SIGHUP end a command
as Ctrl-C does (a sweep kills its worker and removes its temporaries; finished outputs are
kept, so a rerun resumes). Exit status: 0 done, 1 done but some runs failed, 2 a user error,
128 + the signal number when interrupted.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import warnings

from ..errors import NO_ROOM, NOT_ALLOWED, AnnBenchError, write_error
from . import analysis, data, embeddings, stream, sweep, tune, workloads


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ann-bench", description="Benchmark ANN indexes on two-tower recommender embeddings, from MovieLens to a report."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for stage in (data, embeddings, workloads, sweep, tune, stream, analysis):
        stage.register(sub)
    return parser


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"ann-bench: warning: {message}", file=sys.stderr)


class Interrupted(KeyboardInterrupt):
    """SIGTERM or SIGHUP, handled like Ctrl-C."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _interrupt(signum, frame):
    raise Interrupted(signum)


def _error(exc: AnnBenchError) -> int:
    print(f"ann-bench: error: {' '.join(str(exc).split())}", file=sys.stderr)  # always one line
    return 2


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    warnings.showwarning = _one_line_warning
    previous = {}
    if threading.current_thread() is threading.main_thread():  # handlers can only be set there
        previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        from .. import paths
        from ..h5util import remove_stale_temporaries

        for folder in (paths.prepared_dir(), paths.models_dir(), paths.workloads_dir()):
            remove_stale_temporaries(folder)  # half-written files of killed writers (never a live one's)
        return int(args.func(args) or 0)
    except AnnBenchError as exc:
        return _error(exc)
    except OSError as exc:  # any other write (a plot, a table) on a full, read-only or forbidden disk
        if exc.errno not in NO_ROOM | NOT_ALLOWED:
            raise
        return _error(write_error(exc.filename or "a file", exc))
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signum", signal.SIGINT)
        print(f"ann-bench: interrupted ({signal.Signals(signum).name}); finished outputs are kept, partial ones "
              "were discarded.", file=sys.stderr)
        return 128 + signum
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


