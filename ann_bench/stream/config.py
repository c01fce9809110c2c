"""The ``stream:`` section of algorithms.yaml: how the catalog is replayed, and one configuration
per algorithm to replay it on.

    stream:
      batches: 60
      algorithms:
        hnswlib: {build: {M: 16, ef_construction: 100}, query: {ef: 40}}

Each algorithm entry has the keys of a sweep entry (``adapter``, ``build``, ``query``,
``ip_via``) but one value per parameter: a replay follows one deployed index.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError
from ..sweep.config import Algorithm, SweepConfig, entries
from ..sweep.params import Param, check_params, suggest

SETTINGS = {
    "batches": Param(int, 60, min=1, max=10_000,
                     help="the span from the start to the last rating cut into this many equal windows, one batch each"),
    "start_share": Param(float, 0.5, min=0.01, max=0.99,
                         help="the replay starts when this share of the rated items had arrived; the index is built on the items live then"),
    "retire_after_days": Param(float, 365.0, min=1, help="an item is retired this long after its last rating"),
    "queries": Param(int, 200, min=1, help="queries timed one by one after every batch (a prefix of the workload's queries)"),
    "k": Param(int, 10, min=1, max=1000, help="answers per query; recall@k against exact search over the live catalog"),
    "fresh_every": Param(int, 20, min=1,
                         help="every this many batches (and after the last) a fresh index is built on the live items "
                              "with the same parameters: recall relative to it, and the cost of a rebuild"),
    "rebuild_every": Param(int, 10, min=1,
                           help="libraries that cannot update are rebuilt on the live items every this many batches; "
                                "meanwhile new items wait and retired ones are filtered out of answers"),
    "new_within": Param(int, 4, min=1, help="an item counts as brand-new in the answers for this many batches after it arrived"),
    "build_threads": Param(int, 0, min=0, help="threads for builds and inserts (0: all cores); queries run on one"),
}
_KEYS = (*SETTINGS, "algorithms")


@dataclass(frozen=True)
class StreamConfig:
    settings: dict
    algorithms: list[Algorithm]  # each with one build and one query configuration
    source: str

    def narrowed(self, names: list[str] | None) -> "StreamConfig":
        if not names:
            return self
        known = [a.name for a in self.algorithms]
        for name in names:
            if name not in known:
                raise ConfigError(f"--algorithms {name}: not in {self.source}: stream.algorithms.{suggest(name, known)} "
                                  f"There: {', '.join(known)}.")
        return StreamConfig(self.settings, [a for a in self.algorithms if a.name in names], self.source)

    def with_settings(self, **overrides) -> "StreamConfig":
        given = {k: v for k, v in overrides.items() if v is not None}
        if not given:
            return self
        flags = "/".join(f"--{k.replace('_', '-')}" for k in given)
        return StreamConfig(check_params(self.settings | given, SETTINGS, f"command line: {flags}"), self.algorithms, self.source)


def from_sweep_config(cfg: SweepConfig) -> StreamConfig:
    """The checked ``stream:`` section of an algorithms file."""
    raw, where = dict(cfg.stream), f"{cfg.source}: stream"
    for key in raw:
        if key not in _KEYS:
            raise ConfigError(f"{where}.{key}: unknown key.{suggest(str(key), _KEYS)} Expected: {', '.join(_KEYS)}.")
    algs_raw = raw.pop("algorithms", None)
    if not isinstance(algs_raw, dict) or not algs_raw:
        raise ConfigError(f"{where}.algorithms: expected a mapping of algorithm names to one build and one query "
                          "configuration each, e.g. hnswlib: {build: {M: 16}, query: {ef: 40}}.")
    algorithms = entries(algs_raw, f"{where}.algorithms")
    for a in algorithms:
        for part, grid in (("build", a.build), ("query", a.query)):
            if len(grid) != 1:
                raise ConfigError(f"{where}.algorithms.{a.name}.{part}: a replay follows one index: give one value per "
                                  f"parameter, not a grid ({len(grid)} combinations).")
    return StreamConfig(check_params(raw, SETTINGS, where), algorithms, cfg.source)
