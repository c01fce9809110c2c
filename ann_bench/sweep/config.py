"""``algorithms.yaml``: which algorithms, with which build and query grids, on which workloads.

```yaml
settings: {k: [10, 100], repeats: 3}   # optional; see SETTINGS
workloads: [ml-latest-small.dot.u2i.ip]    # optional default workloads
algorithms:
  hnswlib:
    build: {M: [8, 16, 32], ef_construction: [200]}
    query: {ef: [10, 20, 40, 80]}
  ivfpq-refine:                        # a label of your own ...
    adapter: faiss-ivfpq               # ... for a registered adapter
    build: {nlist: [256], m: [16], refine: [true]}
    query: {nprobe: [4, 16], k_factor: [2, 8]}
```

A numeric value may be written relative to the catalog size N (:mod:`.relative`); it is
resolved per workload by :func:`resolve`. Every key is checked against the adapter's declared parameters; a bad file gets one line
naming the key path, what was expected, and a "did you mean" for a misspelt name.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from ..errors import ConfigError
from ..paths import safe_name
from . import registry
from .adapters.reduction import possible
from .params import Param, check_params, suggest
from .relative import SizeRelative, is_relative, resolve_grid
from .relative import parse as parse_relative

DEPTHS = (10, 100)  # the top 10 a page shows; the 100 candidates a ranker takes
SETTINGS = {
    "k": Param(int, DEPTHS, min=1, max=1000,
               help="retrieval depths: each query configuration is timed and scored asking for each (a list, default [10, 100])"),
    "repeats": Param(int, 3, min=1, help="passes per query mode; the best is kept, all recorded"),
    "min_time_s": Param(float, 0.0, min=0, max=60,
                        help="more passes per query mode until they took this long in all (at most 1000): "
                             "passes of a few milliseconds are at the mercy of every timer interrupt; 0: exactly `repeats`"),
    "build_threads": Param(int, 1, min=0,
                           help="threads per index build (1: reproducible builds where the library allows; 0: all cores)"),
    "build_repeats": Param(int, 1, min=1, max=100,
                           help="builds per configuration, each with the next seed, to show the spread of recall and build time"),
    "build_timeout_s": Param(float, 1800.0, min=1, help="a build longer than this fails the run"),
    "query_timeout_s": Param(float, 600.0, min=1, help="one query pass longer than this fails the run"),
    "memory_limit_mb": Param(int, 16384, min=64, help="a run whose RSS exceeds this (or 90% of RAM, if lower) is stopped; one predicted to exceed it is skipped"),
    "recall_epsilon": Param(float, 1e-3, min=0,
                            help="a result within the k-th true distance + eps counts (ann-benchmarks' k-NN recall; recall_rel: + eps x |d_k|)"),
    "single_query_limit": Param(int, 10_000, min=1, help="queries timed one by one (a prefix of the queries)"),
    "filtered_k": Param(int, 10, min=0, max=100,
                        help="filtered search (each user's seen items excluded) for this many results, timed one query at a time; 0: off"),
}
_TOP = ("settings", "workloads", "algorithms", "tune", "stream")
_ENTRY = ("adapter", "build", "query", "ip_via")


@dataclass(frozen=True)
class Algorithm:
    name: str  # the entry's label in the file (results are filed under it)
    adapter: str  # the registered adapter it runs
    build: list[dict]  # values may be SizeRelative, resolved per workload (:meth:`at_size`)
    query: list[dict]
    ip_via: str | None = None  # on ip workloads: search through the reduction to this metric, even where native
    given: frozenset = frozenset()  # the parameter names the file wrote ("build.M", "query.ef"); the rest are defaults

    def at_size(self, n: int, source: str = "algorithms.yaml") -> "Resolved":
        """The grids at catalog size ``n``: size-relative values resolved and range-checked."""
        cls = registry.get(self.adapter)
        where = f"{source}: algorithms.{self.name}"
        build, build_written = resolve_grid(self.build, n, cls.build_params, f"{where}.build")
        query, query_written = resolve_grid(self.query, n, cls.query_params, f"{where}.query")
        return Resolved(build, build_written, query, query_written)


@dataclass(frozen=True)
class Resolved:
    """An algorithm's grids at one catalog size, and the size-relative expressions they came from."""

    build: list[dict]
    build_written: list[dict]  # per build: {name: expression} of its relative values
    query: list[dict]
    query_written: list[dict]


@dataclass
class SweepConfig:
    algorithms: list[Algorithm]
    settings: dict
    workloads: list[str] = field(default_factory=list)
    source: str = "algorithms.yaml"
    tune: dict = field(default_factory=dict)  # ``ann-bench tune``'s goals (checked there)
    stream: dict = field(default_factory=dict)  # ``ann-bench stream``'s replay and configurations (checked there)

    def narrowed(self, *, algorithms=None, build: dict | None = None) -> "SweepConfig":
        """Only some algorithms, or one build configuration, without editing the file."""
        algs = self.algorithms
        if algorithms:
            known = {a.name for a in algs}
            for name in algorithms:
                if name not in known:
                    raise ConfigError(f"--algorithms {name}: not in {self.source}.{suggest(name, known)} In the file: {', '.join(sorted(known))}.")
            algs = [a for a in algs if a.name in algorithms]
        if build is not None:
            out = []
            for a in algs:
                cls = registry.get(a.adapter)
                values = _checked(_coerce(build, cls.build_params), cls.build_params, f"--build ({a.name})")
                out.append(Algorithm(a.name, a.adapter, [values], a.query, a.ip_via,
                                     a.given | {f"build.{k}" for k in build}))
            algs = out
        return replace(self, algorithms=algs)

    def with_settings(self, **overrides) -> "SweepConfig":
        """The file's settings with some replaced from the command line (``k``, ``repeats``), checked alike."""
        given = {k: v for k, v in overrides.items() if v is not None}
        if not given:
            return self
        flags = "/".join(f"--{k.replace('_', '-')}" for k in given)
        return replace(self, settings=_settings(self.settings | given, f"command line: {flags}"))


def _coerce(values: dict, schema: dict[str, Param]) -> dict:
    """Command-line strings to the parameter types (``M=16`` -> 16)."""
    out = {}
    for k, v in values.items():
        p = schema.get(k)
        if p is not None and isinstance(v, str):
            try:
                v = yaml.safe_load(v)
            except yaml.YAMLError:
                pass
        out[k] = v
    return out


def parse_assignments(text: str) -> dict:
    """``"M=16,ef_construction=200"`` -> ``{"M": "16", "ef_construction": "200"}``."""
    out = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        if "=" not in part:
            raise ConfigError(f"--build '{text}': expected name=value pairs separated by commas.")
        k, v = part.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def typed_assignments(text: str, schema: dict[str, Param], where: str) -> dict:
    """``"M=16,ef_construction=200"`` typed and checked against an adapter's parameters: ``{"M": 16, ...}``
    with the defaults of the others."""
    return _checked(_coerce(parse_assignments(text), schema), schema, where)


def _grid(section, schema: dict[str, Param], where: str) -> list[dict]:
    if section is None:
        section = {}
    if not isinstance(section, dict):
        raise ConfigError(f"{where}: expected a mapping of parameter names to lists of values, got {type(section).__name__}.")
    axes = {}
    for name, values in section.items():
        if name not in schema:
            known = ", ".join(schema) or "none"
            raise ConfigError(f"{where}.{name}: unknown parameter.{suggest(str(name), schema)} Known: {known}.")
        values = values if isinstance(values, list) else [values]
        if not values:
            raise ConfigError(f"{where}.{name}: empty grid; give at least one value.")
        axes[name] = [_value(v, schema[name], f"{where}.{name}[{i}]") for i, v in enumerate(values)]
    combos = [dict(zip(axes, vals)) for vals in itertools.product(*axes.values())] if axes else [{}]
    return [_checked(c, schema, where) for c in combos]


def _value(v, param: Param, where: str):
    return parse_relative(v, where) if is_relative(v, param) else param.check(v, where)


def _checked(combo: dict, schema: dict[str, Param], where: str) -> dict:
    """:func:`check_params` (types, ranges, defaults) with size-relative values kept for later."""
    relative = {k: v if isinstance(v, SizeRelative) else parse_relative(v, f"{where}.{k}")
                for k, v in combo.items() if isinstance(v, SizeRelative) or (k in schema and is_relative(v, schema[k]))}
    full = check_params({k: v for k, v in combo.items() if k not in relative}, schema, where)
    return {k: relative.get(k, full.get(k)) for k in [*combo, *(k for k in full if k not in combo)]}


def _settings(raw, where: str) -> dict:
    """Validated settings; ``k`` is a list of depths (a single number is a list of one)."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping of setting names to values, got {type(raw).__name__}.")
    raw = dict(raw)
    depths = raw.pop("k", list(DEPTHS))
    depths = depths if isinstance(depths, list) else [depths]
    if not depths:
        raise ConfigError(f"{where}.k: give at least one retrieval depth, e.g. [10, 100].")
    checked = sorted({SETTINGS["k"].check(v, f"{where}.k[{i}]") for i, v in enumerate(depths)})
    return check_params(raw, {n: p for n, p in SETTINGS.items() if n != "k"}, where) | {"k": checked}


def entries(raw: dict, where: str) -> list[Algorithm]:
    """The algorithm entries of a mapping ``{label: {adapter, build, query, ip_via}}``, each
    checked against its adapter (``where`` names the mapping in messages)."""
    algorithms, folders = [], {}
    for name, spec in raw.items():
        here = f"{where}.{name}"
        folder = safe_name(name, f"{here}: the label").lower()  # results are filed under it
        if folder in folders:
            raise ConfigError(f"{here}: the label names the same result folder as '{folders[folder]}'; rename one.")
        folders[folder] = name
        spec = spec or {}
        if not isinstance(spec, dict):
            raise ConfigError(f"{here}: expected a mapping with build and query grids.")
        for key in spec:
            if key not in _ENTRY:
                raise ConfigError(f"{here}.{key}: unknown key.{suggest(str(key), _ENTRY)} Expected: {', '.join(_ENTRY)}.")
        adapter = str(spec.get("adapter", name))
        if adapter not in registry.names():
            what = f"{here}.adapter: unknown adapter '{adapter}'" if "adapter" in spec else f"{here}: unknown algorithm"
            raise ConfigError(f"{what}.{suggest(adapter, registry.names())} Known: {', '.join(registry.names())}.")
        cls = registry.get(adapter)
        ip_via = spec.get("ip_via")
        can = possible(cls)
        if ip_via is not None and ip_via not in can:
            raise ConfigError(f"{here}.ip_via: {ip_via!r}: inner product can be reduced to "
                              f"{' or '.join(can) if can else 'nothing'} for {adapter} (its metrics: {', '.join(cls.metrics)}).")
        build = _grid(spec.get("build"), cls.build_params, f"{here}.build")
        query = _grid(spec.get("query"), cls.query_params, f"{here}.query")  # both checked: mappings of known names
        given = frozenset(f"{part}.{k}" for part in ("build", "query") for k in (spec.get(part) or {}))
        algorithms.append(Algorithm(str(name), adapter, build, query, ip_via, given))
    return algorithms


def parse(data, source: str = "algorithms.yaml") -> SweepConfig:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping with {', '.join(_TOP)}.")
    for key in data:
        if key not in _TOP:
            raise ConfigError(f"{source}: {key}: unknown top-level key.{suggest(str(key), _TOP)} Expected: {', '.join(_TOP)}.")
    settings = _settings(data.get("settings") or {}, f"{source}: settings")
    algs_raw = data.get("algorithms")
    if not isinstance(algs_raw, dict) or not algs_raw:
        raise ConfigError(f"{source}: algorithms: expected a non-empty mapping of algorithm names to build/query grids.")
    algorithms = entries(algs_raw, f"{source}: algorithms")
    workloads = data.get("workloads") or []
    if not isinstance(workloads, list) or not all(isinstance(w, str) for w in workloads):
        raise ConfigError(f"{source}: workloads: expected a list of workload names.")
    tune = data.get("tune") or {}
    if not isinstance(tune, dict):
        raise ConfigError(f"{source}: tune: expected a mapping with targets, limits and trials (see ann-bench tune --help).")
    stream = data.get("stream") or {}
    if not isinstance(stream, dict):
        raise ConfigError(f"{source}: stream: expected a mapping with the replay's settings and algorithms (see ann-bench stream --help).")
    return SweepConfig(algorithms, settings, workloads, source, tune, stream)


class _DuplicateKey(Exception):
    pass


class _StrictLoader(yaml.SafeLoader):
    """YAML that refuses a key given twice in one mapping (plain YAML keeps the last one silently)."""


def _unique_mapping(loader, node, deep=False):
    first: dict = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if key in first:
            raise _DuplicateKey(f"key '{key}' appears twice in one mapping (lines {first[key]} and {line}); "
                                "the first would be ignored: merge them or rename one")
        first[key] = line
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def load(path: Path) -> SweepConfig:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path} does not exist; pass --config PATH or create it (see the README).")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8.") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror}).") from None
    try:
        data = yaml.load(text, Loader=_StrictLoader)
    except _DuplicateKey as exc:
        raise ConfigError(f"{path}: {exc}.") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        what = " ".join(str(getattr(exc, "problem", None) or exc).split())  # one line, whatever the parser said
        raise ConfigError(f"{path}: not valid YAML{where}: {what}.") from None
    return parse(data, str(path))
