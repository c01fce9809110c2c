"""What ``ann-bench algorithms`` shows: every adapter, its library and version here, the metrics
it serves (natively, normalised, or inner product through the reduction), and each build and
query parameter with its type, range, default, help and tuning range."""

from __future__ import annotations

import importlib.metadata
import inspect
import sys

from . import registry
from .adapters.base import ADD_ONLY, IN_PLACE, NATIVE, NORMALIZE_IP, REBUILD
from .adapters.reduction import possible
from .params import Param

_HANDLING = {NATIVE: "native", NORMALIZE_IP: "normalised, then inner product"}


def summary(cls) -> str:
    """The adapter's one-line description: its class docstring, else its module's."""
    doc = cls.__dict__.get("__doc__") or sys.modules[cls.__module__].__doc__ or ""
    paragraph = " ".join(inspect.cleandoc(doc).split("\n\n")[0].split())
    return paragraph.split(". ")[0].rstrip(".")


def library(cls) -> str:
    """``faiss-cpu 1.15.1``, or why it cannot run here."""
    why = registry.unavailable(cls.name)
    if why:
        return why
    try:
        return f"{cls.distribution} {importlib.metadata.version(cls.distribution)}"
    except importlib.metadata.PackageNotFoundError:  # importable, but not installed by pip
        return f"{cls.distribution} (version unknown)"


def metrics(cls) -> str:
    served = [f"{m} ({_HANDLING.get(h, h)})" for m, h in cls.metrics.items()]
    if "ip" not in cls.metrics and possible(cls):
        served.append(f"ip (via reduction to {' or '.join(possible(cls))})")
    return ", ".join(served)


def _range(p: Param) -> str:
    if p.choices is not None:
        return "one of " + ", ".join(map(str, p.choices))
    if p.type is bool:
        return "true/false"
    if p.min is not None and p.max is not None:
        return f"{p.min:g}..{p.max:g}"
    if p.min is not None:
        return f">= {p.min:g}"
    if p.max is not None:
        return f"<= {p.max:g}"
    return "any"


def _tuning(p: Param, bisected: str | None) -> str:
    """How ``ann-bench tune`` treats the parameter; ``bisected``: the adapter's bisected one, when
    ``p`` is a later monotone parameter."""
    if p.monotone and not bisected:
        return f"bisected in {p.tune[0]}..{p.tune[1]}" if p.tune else "monotone"
    if p.tune:
        start = p.start if isinstance(p.start, tuple) else (p.start,)
        return (f"tuned in {p.tune[0]}..{p.tune[1]}" + (" (log)" if p.log else "")
                + (f", first at {start[0]}" if len(start) == 1 and start[0] is not None else "")
                + (f", first at the least of {', '.join(map(str, start))}" if len(start) > 1 else "")
                + (f", raised when {bisected} falls short" if p.monotone else ""))
    return ""


def params_table(cls) -> list[str]:
    """Build and query parameters, one aligned row each."""
    first = next((name for name, p in cls.query_params.items() if p.monotone), None)
    rows = [(kind, name, p.type.__name__, str(p.default), _range(p), _tuning(p, first if name != first else None),
             p.help + (f" (only with {p.needs})" if p.needs else ""))
            for kind, params in (("build", cls.build_params), ("query", cls.query_params)) for name, p in params.items()]
    if not rows:
        return ["  parameters: none"]
    head = ("", "parameter", "type", "default", "range", "ann-bench tune", "help")
    widths = [max(len(r[i]) for r in (head, *rows)) for i in range(6)]
    fmt = "  " + "  ".join(f"{{:<{w}}}" for w in widths) + "  {}"
    return [fmt.format(*r).rstrip() for r in (head, *rows)]


UPDATES = {IN_PLACE: "added and removed in place", ADD_ONLY: "added in place; removed items filtered out of answers",
           REBUILD: "rebuilt (no adding or removing in place)"}


def describe(name: str) -> str:
    """Everything about one adapter, in a few lines."""
    cls = registry.get(name)
    lines = [name, f"  about: {summary(cls)}", f"  library: {library(cls)}", f"  metrics: {metrics(cls)}"]
    flags = [f for f, on in (("exact search", cls.exact), ("deterministic one-thread builds", cls.deterministic),
                             ("threaded batch search", cls.threaded_batch), ("filters while searching", cls.native_filter)) if on]
    if flags:
        lines.append(f"  promises: {', '.join(flags)}")
    lines.append(f"  catalog changes: {UPDATES[cls.updates]}")
    return "\n".join(lines + params_table(cls))


def listing() -> str:
    """One line per adapter: name, library and version (or why not here), metrics."""
    rows = [(n, library(registry.get(n)), metrics(registry.get(n))) for n in registry.names()]
    w0, w1 = (max(len(r[i]) for r in rows) for i in range(2))
    return "\n".join(f"{n:<{w0}}  {lib:<{w1}}  {m}" for n, lib, m in rows)
