"""The tuner against a full grid over the same space, in one run on one machine.

For each algorithm, the grid covers every searched build parameter of the tuner's space
(:mod:`ann_bench.tune.space`) at evenly spaced values (12 for one parameter, 4 each for two,
3 each for more), each sampled query parameter at 3 values, and the bisected query parameter
at every power of two in its range, like ann-benchmarks' grids. The tuner gets a third of the
grid's builds as trials. Printed per algorithm and Recall@K target: the grid's best QPS, the
tuner's, their ratio (target >= 0.95), and what each measured (builds, query configurations;
the tuner's target is <= 1/3 of the grid's).

    .venv/bin/python benchmarks/tune_vs_grid.py [--workload NAME] [--algorithms ...] [--out DIR]
        [--per-dim N] [--build-threads T] [--single-query-limit Q]
        (at 1M items: --per-dim 3 --build-threads 0; Annoy also --single-query-limit 200)

Run it with nothing else on the machine; the grid runs first, then the tuner.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ann_bench import paths
from ann_bench.analysis.tables import best_at_targets
from ann_bench.results.table import gather
from ann_bench.sweep import config
from ann_bench.sweep.executors.local import LocalExecutor
from ann_bench.sweep.runner import sweep
from ann_bench.tune.answer import answer
from ann_bench.tune.space import Dim, space_for
from ann_bench.tune.study import Tuning, run_study
from ann_bench.tune.targets import goals
from ann_bench.workloads import format as wformat

ALGORITHMS = ("hnswlib", "faiss-hnsw", "faiss-ivf", "faiss-ivfpq-refine", "scann", "annoy")
ENTRIES = {"faiss-ivfpq-refine": {"adapter": "faiss-ivfpq", "build": {"m": [16], "refine": [True]}}}


def spaced(d: Dim, n: int) -> list:
    if d.choices:
        return list(d.choices)
    v = np.geomspace(d.lo, d.hi, n) if d.log else np.linspace(d.lo, d.hi, n)
    return sorted({int(round(x)) for x in v}) if d.type is int else [float(x) for x in v]


def powers_of_two(lo, hi, integer: bool) -> list:
    if lo <= 0 or not integer:
        return [float(x) for x in np.linspace(lo, hi, 8)]
    return sorted({int(lo)} | {2**i for i in range(math.ceil(math.log2(max(lo, 1))), int(math.log2(hi)) + 1)} | {int(hi)})


def grid_entry(name: str, n: int, per_dim: int | None = None) -> tuple[dict, int]:
    """The algorithms.yaml entry of the full grid over the tuner's space, and its number of builds
    (``per_dim`` values per searched build parameter; default 12 for one, 4 each for two, 3 for more)."""
    base = ENTRIES.get(name, {})
    space = space_for(config.parse({"algorithms": {name: base}}).algorithms[0], n)
    free = [d for d in space.build if not d.fixed]
    per = per_dim or (12 if len(free) == 1 else 4 if len(free) == 2 else 3)
    build = {d.name: spaced(d, per if not d.fixed else 1) for d in space.build}
    query = {d.name: spaced(d, 3) for d in space.query}
    lo, hi_spec = space.monotone_param.tune
    # the bisected parameter's top may name a build parameter (nprobe up to nlist): the grid's largest
    top = max(build[hi_spec]) if isinstance(hi_spec, str) and hi_spec in build else space.bisection(
        {k: v[0] for k, v in build.items()}, {}, (0.9,), 10).hi
    query[space.monotone] = powers_of_two(lo if isinstance(lo, (int, float)) else 1, top, space.monotone_param.type is int)
    return base | {"build": build, "query": query}, math.prod(len(v) for v in build.values())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workload", default="ml-latest-small.dot.u2i.ip")
    ap.add_argument("--algorithms", nargs="+", default=list(ALGORITHMS))
    ap.add_argument("--targets", nargs="+", type=float, default=[0.9, 0.95, 0.99])
    ap.add_argument("--out", type=Path, default=Path("/tmp/ann-bench-tune-vs-grid"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--per-dim", type=int, help="grid values per searched build parameter (a smaller grid for 1M items)")
    ap.add_argument("--build-threads", type=int, default=1, help="threads per build, 0 = all cores (default 1)")
    ap.add_argument("--single-query-limit", type=int,
                    help="queries timed one by one (default: all); fewer keeps slow configurations at 1M short")
    args = ap.parse_args()
    wpath = paths.find_workload(args.workload)
    n = len(wformat.read(wpath).train)
    settings = {"k": [10], "filtered_k": 0, "repeats": 3, "build_threads": args.build_threads}
    if args.single_query_limit:
        settings["single_query_limit"] = args.single_query_limit
    entries, builds = {}, {}
    for name in args.algorithms:
        entries[name], builds[name] = grid_entry(name, n, args.per_dim)
    cfg = config.parse({"settings": settings, "algorithms": entries})
    executor = LocalExecutor(threads=1)
    start = time.perf_counter()
    sweep(cfg, [wpath], args.out / "grid", executor=executor)
    grid_s = time.perf_counter() - start
    gdf = gather(args.out / "grid")
    best = best_at_targets(gdf, targets=tuple(args.targets))
    g = [*goals([f"recall@10 >= {t}" for t in args.targets])]
    rows, tune_s = [], 0.0
    executor = LocalExecutor(threads=1)
    try:
        for alg in cfg.algorithms:
            trials = max(1, builds[alg.name] // 3)
            start = time.perf_counter()
            _, files, _ = run_study(cfg, alg, wpath, args.out / "tune", Tuning(tuple(g), trials=trials, seed=args.seed), executor,
                                 log=lambda line: None)
            tune_s += time.perf_counter() - start
            grid_rows = gdf[(gdf["algorithm"] == alg.name) & (gdf["duplicate_of"] == "") & (gdf["status"] == "ok")]
            for r in answer(args.workload, alg.name, files, g, "qps_single"):
                t = float(r["goal"].split(">= ")[1])
                gb = best[(best["algorithm"] == alg.name) & (best["target"] == t)]
                grid_qps = float(gb["qps_single"].iloc[0]) if len(gb) else float("nan")
                rows.append({"algorithm": alg.name, "target": t, "grid qps": grid_qps, "tuned qps": r.get("qps_single", float("nan")),
                             "tuned / grid": r.get("qps_single", float("nan")) / grid_qps,
                             "grid builds": builds[alg.name], "tuned builds": r["builds"],
                             "grid query configs": len(grid_rows), "tuned query configs": r["query_configs"],
                             "tuned params": f"{r.get('build_params', '')}; {r.get('query_params', '')}" if r["answer"] == "met" else r["answer"]})
    finally:
        executor.close()
    df = pd.DataFrame(rows)
    with pd.option_context("display.width", 250, "display.max_colwidth", 90, "display.max_rows", 200):
        print(df.to_string(index=False, float_format=lambda v: f"{v:,.3g}"))
    ok = df["tuned / grid"] >= 0.95
    cheap = (df["tuned builds"] * 3 <= df["grid builds"]) & (df["tuned query configs"] * 3 <= df["grid query configs"])
    print(f"\n{args.workload} ({n:,} items): grid {grid_s:.0f} s, tuner {tune_s:.0f} s; tuned >= 0.95x grid in {ok.sum()} of "
          f"{len(df)}; within a third of the grid's builds and query configurations in {cheap.sum()} of {len(df)}; "
          f"median tuned / grid {df['tuned / grid'].median():.3f}")


if __name__ == "__main__":
    main()
