"""The adapter registry: libraries register under a name, configs and the runner look them up.

Adapters register with the :func:`register` decorator when their module is imported.
Modules named in ``ANN_BENCH_PLUGINS`` (comma-separated) are imported too, so a user's own
adapter plugs in without changing this package (and reaches the isolated worker processes,
which inherit the environment).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import os
import platform

from ..errors import ConfigError
from .params import suggest

_REGISTRY: dict[str, type] = {}
_imported: set[str] = set()


def register(cls):
    """Class decorator: make an :class:`~ann_bench.sweep.adapters.base.Adapter` findable by name."""
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise ValueError(f"adapter name '{cls.name}' is registered twice")
    _REGISTRY[cls.name] = cls
    return cls


def _load() -> None:
    """Import the built-in adapters and any plugin modules not imported yet."""
    wanted = ["ann_bench.sweep.adapters", *filter(None, (m.strip() for m in os.environ.get("ANN_BENCH_PLUGINS", "").split(",")))]
    for mod in wanted:
        if mod in _imported:
            continue
        try:
            importlib.import_module(mod)
        except ImportError as exc:
            raise ConfigError(f"ANN_BENCH_PLUGINS names '{mod}', which cannot be imported ({exc}).") from None
        except Exception as exc:  # a plugin's own bug: name it, do not show its traceback as ours
            raise ConfigError(f"ANN_BENCH_PLUGINS module '{mod}' failed while importing: "
                              f"{type(exc).__name__}: {exc}. Fix the plugin or remove it from ANN_BENCH_PLUGINS.") from None
        _imported.add(mod)


def get(name: str) -> type:
    """The adapter registered as ``name``; ``<adapter>:ip-via-<l2|cosine>`` is that adapter serving
    inner product through the augmentation (:mod:`~ann_bench.sweep.adapters.reduction`)."""
    from .adapters.reduction import reduced, split_name

    _load()
    base, via = split_name(name)
    try:
        cls = _REGISTRY[base]
    except KeyError:
        raise ConfigError(f"unknown algorithm '{name}'.{suggest(name, _REGISTRY)} Known: {', '.join(sorted(_REGISTRY))}.") from None
    if not via:
        return cls
    try:
        return reduced(cls, via)
    except ValueError as exc:
        raise ConfigError(f"{exc}.") from None


def for_metric(adapter: str, metric: str, ip_via: str | None = None) -> str | None:
    """The adapter name that serves ``metric`` workloads: ``adapter`` itself where it supports
    the metric, its reduction on ``ip`` where it has no inner-product search (via l2, else
    cosine), None where nothing serves it. With ``ip_via`` (an entry that exists to compare
    the reduction with native search): the reduction on ``ip``, nothing on other metrics."""
    from .adapters.reduction import possible, reduced_name

    cls = get(adapter)
    if ip_via:
        return reduced_name(adapter, ip_via) if metric == "ip" else None
    if metric in cls.metrics:
        return adapter
    vias = possible(cls) if metric == "ip" else []
    return reduced_name(adapter, vias[0]) if vias else None


def names() -> list[str]:
    _load()
    return sorted(_REGISTRY)


def installed(name: str) -> bool:
    """Whether the adapter's library can be imported here."""
    return importlib.util.find_spec(get(name).module) is not None


def left_out(algorithms, what: str) -> set[str]:
    """Names of the ``algorithms`` (config entries) whose library cannot run here, each warned
    about in one line saying why; ``what`` names the run that leaves them out."""
    import warnings

    out = set()
    for alg in algorithms:
        if why := unavailable(alg.adapter):
            warnings.warn(f"{alg.name} is left out of {what}: {why}.", stacklevel=3)
            out.add(alg.name)
    return out


def unavailable(name: str) -> str | None:
    """Why the adapter cannot run here (its library is not installed, and whether ann-bench's
    own requirements leave it out on this Python), or None when it can."""
    if installed(name):
        return None
    from packaging.requirements import Requirement

    dist = get(name).distribution
    try:
        wanted = [Requirement(r) for r in importlib.metadata.requires("ann-bench") or []]
    except importlib.metadata.PackageNotFoundError:  # run from a source tree without installing
        wanted = []
    pin = next((r for r in wanted if r.name == dist), None)
    if pin is not None and pin.marker is not None and not pin.marker.evaluate():
        return (f"{dist} is not installed: ann-bench leaves it out on Python {platform.python_version()} "
                f"(it needs {pin.marker}, where the library publishes wheels)")
    return f"{dist} is not installed here (pip install '{dist}{pin.specifier if pin else ''}')"
