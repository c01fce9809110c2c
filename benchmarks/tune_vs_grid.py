"""The tuner against a full grid over the same space, in one run on one machine.

For each algorithm, the grid covers every searched build parameter of the tuner's space
(:mod:`ann_bench.tune.space`) at evenly spaced values (12 for one parameter, 4 each for two,
3 each for more), each sampled query parameter at 3 values, and the bisected query parameter
at every power of two in its range, like ann-benchmarks' grids. The tuner gets a third of the
grid's builds as trials and a third of its query configurations as its budget
(``Tuning.query_configs``); its points are timed as ``ann-bench tune`` times them (each mode
for at least a second, ``Tuning.min_time_s``), the grid's as a sweep's are by default (three
passes: timed for a second each, the grid would take about an hour longer at ml-latest-small
size). Printed per algorithm and Recall@K target: the grid's best QPS, the
tuner's, their ratio (target >= 0.95), and what each measured (builds, query configurations;
the tuner's target is <= 1/3 of the grid's).

The grid's and the tuner's QPS come from runs up to an hour apart, and the machine's speed
moves by a tenth and more between them, and between one second and the next (at 10-40 us per
query a pass over the queries takes milliseconds; see benchmarks/timing_noise.py). So the
verdict is measured again, paired: each target's two winning configurations are built once
more in this process (``--build-threads``) and timed in turns, one single-query pass over the
queries each (grid, tuned, tuned, grid, ...), until each has been timed for ``--paired-time``
seconds (default 2); both sides of a pair meet the same machine, and the median of the pairs'
time ratios is the verdict, printed with their middle half (``*``: recall below the target on
the rebuild, as a build on several threads can give). ``--rounds R`` adds the older verdict:
both winners built and measured by a sweep R times, in alternating order, each mode timed for
at least ``--min-time`` seconds, the ratio of the best QPS each side reached; its rounds scatter
(0.96x and 0.64x for one pair on ml-latest-small), as two configurations timed seconds apart
meet different machines. On a finished ``--out`` only the verdicts are measured again.
``--screen F`` has the tuner rank builds on a sample of F of the catalog first (``ann-bench
tune --screen``); what the sample's builds and query configurations cost is printed beside the
full ones, and the budget line counted both ways.

    .venv/bin/python benchmarks/tune_vs_grid.py [--workload NAME] [--algorithms ...] [--out DIR]
        [--per-dim N] [--build-threads T] [--single-query-limit Q] [--paired-time S] [--rounds R] [--ratio X]
        [--screen F] [--screen-builds B]
        (at 1M items: --per-dim 3 --build-threads 0; Annoy also --single-query-limit 200)

Run it with nothing else on the machine; the grid runs first, then the tuner.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from ann_bench import paths
from ann_bench.results.store import read_runs
from ann_bench.results.table import gather
from ann_bench.sweep import config
from ann_bench.sweep.executors.local import LocalExecutor
from ann_bench.sweep.runner import sweep
from ann_bench.threads import available_cores
from ann_bench.tune.answer import answer
from ann_bench.tune.screen import Screening, screen
from ann_bench.tune.space import Dim, space_for
from ann_bench.tune.study import Tuning, best_meeting, points, run_study
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


def winners(files, goals) -> dict:
    """Per Recall@K target: the fastest point of these result files that meets it (a row, with its file)."""
    frames = [points(Path(f), goals[0].k) for f in sorted(set(files))]
    df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return {g.recall: best_meeting(df, g, "qps_single") for g in goals}


def configuration(row) -> tuple[dict, dict]:
    """The full build and query parameters a measured point ran with, as its result file records them."""
    r = next(r for r in read_runs(Path(row["file"])) if r.get("requested_params") == row["requested_params"])
    return ({k.removeprefix("build."): v for k, v in r.items() if k.startswith("build.")},
            {k.removeprefix("query."): v for k, v in r.items() if k.startswith("query.")})


def side_by_side(cfg: config.SweepConfig, wpath: Path, won: dict, out: Path, rounds: int, min_time: float) -> pd.DataFrame:
    """Every winning configuration (``won``: {(algorithm, side, target): row}) built and measured
    again in one sweep per round, the order of builds and of the queries on each reversed every
    other round. One row per
    winner and round: its QPS and recall now."""
    entries = {}  # (algorithm, build) -> the queries to measure on it
    for (name, _, _), row in won.items():
        build, query = configuration(row)
        queries = entries.setdefault((name, json.dumps(build, sort_keys=True)), [])
        if query not in queries:
            queries.append(query)
    algs = {a.name: a for a in cfg.algorithms}
    entries = [replace(algs[name], build=[json.loads(build)], query=queries) for (name, build), queries in entries.items()]
    cfg = cfg.with_settings(min_time_s=min_time)
    rows = []
    for i in range(rounds):
        folder = out / f"round{i + 1}"
        order = [replace(e, query=e.query[::-1]) for e in entries[::-1]] if i % 2 else entries
        sweep(replace(cfg, algorithms=order), [wpath], folder, executor=LocalExecutor(threads=1))
        again = gather(folder)
        again = again[(again["search"] == "knn") & (again["k"] == 10) & (again["status"] == "ok")]
        for (name, side, t), row in won.items():
            hit = again[(again["algorithm"] == name) & (again["build_params"] == row["build_params"])
                        & (again["query_params"] == row["query_params"])]
            rows.append({"algorithm": name, "side": side, "target": t, "round": i + 1,
                         "qps": float(hit["qps_single"].max()), "recall": float(hit["recall@10"].max())})
    return pd.DataFrame(rows)


def verdict(again: pd.DataFrame) -> pd.DataFrame:
    """Per algorithm and target: the best QPS each side reached over the rounds, and their ratio."""
    rows = []
    for (name, t), g in again.groupby(["algorithm", "target"], sort=False):
        side = {s: g[g["side"] == s] for s in ("grid", "tuned")}
        if any(d.empty for d in side.values()):
            continue
        qps = {s: d["qps"].max() for s, d in side.items()}
        short = {s: "*" if (d["recall"] < t).any() else "" for s, d in side.items()}
        rows.append({"algorithm": name, "target": t, "grid qps": f"{qps['grid']:,.0f}{short['grid']}",
                     "tuned qps": f"{qps['tuned']:,.0f}{short['tuned']}", "tuned / grid": qps["tuned"] / qps["grid"],
                     "per round": " ".join(f"{a / b:.3f}" for a, b in zip(side["tuned"]["qps"], side["grid"]["qps"]))})
    return pd.DataFrame(rows)


def build_index(cls, w, build: dict, threads: int):
    """One index of adapter ``cls`` built on the workload's items (``threads``, 0: all cores),
    the libraries then set back to one thread for timing."""
    from ann_bench.threads import set_threads

    index = cls(w.metric, w.dimension, threads=threads or available_cores(), **build)
    index.fit(w.train)
    set_threads(1)  # a build on several threads may have raised the library's count
    return index


def timing_setup(index, query: dict, w, wpath: Path, single_limit: int | None) -> tuple[list, float]:
    """An index at ``query``: its queries split for single-query passes, and its recall@10."""
    from ann_bench.sweep.worker import steering_recall

    index.set_query_params(**query)
    pq = index.prepare_queries(w.test)
    recall = steering_recall({"workload": str(wpath), "metric": w.metric}, index.search_batch(pq, 10, 1), 10, None, w.test, w.distances)
    return index.split_queries(pq[:single_limit]), recall


def in_turns(sides: list[tuple], min_rounds: int, min_time: float) -> list[list[float]]:
    """Seconds of single-query passes, one list per side ((index, query, singles)): the sides
    take turns pass by pass, the order rotating every round (for two: a, b, b, a, ...), until
    there were ``min_rounds`` rounds and every side has been timed for ``min_time`` seconds. A
    stretch of slow or fast machine lasts seconds, a pass milliseconds: all sides meet the same."""
    from ann_bench.sweep.worker import single_pass

    passes = [[] for _ in sides]
    r = 0
    while r < min_rounds or min(map(sum, passes)) < min_time:
        for i in [*range(r % len(sides), len(sides)), *range(r % len(sides))]:
            index, query, singles = sides[i]
            index.set_query_params(**query)
            passes[i].append(float(single_pass(index.search_one, singles, 10).sum()))
        r += 1
    return passes


def paired(wpath: Path, won: dict, min_time: float, single_limit: int | None, build_threads: int) -> pd.DataFrame:
    """Per algorithm and target, both winners timed in this one process, pass for pass: each
    distinct winning build built once (on ``build_threads``, 0: all cores), then for every
    target the grid's and the tuner's configuration take turns (:func:`in_turns`), one
    single-query pass over the queries each, until each has been timed for ``min_time`` seconds
    (and at least 10 passes); the median of the pairs' time ratios is the verdict. One row per
    target: each side's QPS (queries over its median pass) and recall@10 of its answers."""
    from ann_bench.sweep import registry
    from ann_bench.sweep.worker import prepare_library
    from ann_bench.threads import set_threads

    set_threads(1)
    w = wformat.read(wpath)
    rows = []
    for name in dict.fromkeys(n for n, _, _ in won):
        targets = sorted({t for n, _, t in won if n == name})
        cls = registry.get(won[(name, "grid", targets[0])]["adapter"])
        prepare_library(cls, w.metric, w.dimension)
        built = {}  # build parameters (JSON) -> the index
        for t in targets:
            sides, recall = [], {}
            for side in ("grid", "tuned"):
                build, query = configuration(won[(name, side, t)])
                key = json.dumps(build, sort_keys=True)
                if key not in built:
                    built[key] = build_index(cls, w, build, build_threads)
                singles, recall[side] = timing_setup(built[key], query, w, wpath, single_limit)
                sides.append((built[key], query, singles))
            g, u = map(np.array, in_turns(sides, 10, min_time))
            n_q = len(sides[0][2])
            rows.append({"algorithm": name, "target": t, "grid qps": f"{n_q / np.median(g):,.0f}" + ("*" if recall["grid"] < t else ""),
                         "tuned qps": f"{n_q / np.median(u):,.0f}" + ("*" if recall["tuned"] < t else ""),
                         "tuned / grid": float(np.median(g / u)), "pairs": len(g),
                         "middle half": f"{np.percentile(g / u, 25):.3f}-{np.percentile(g / u, 75):.3f}",
                         "recall grid / tuned": f"{recall['grid']:.4f} / {recall['tuned']:.4f}"})
        built.clear()
    return pd.DataFrame(rows)


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
    ap.add_argument("--rounds", type=int, default=0, help="side-by-side re-measurements of the winners by a sweep (0: none)")
    ap.add_argument("--min-time", type=float, default=1.0, help="seconds each mode is timed for in the side-by-side rounds")
    ap.add_argument("--ratio", type=float, default=Tuning.ratio, help="the tuner's bisection stops at a bracket this narrow")
    ap.add_argument("--screen", type=float, metavar="F",
                    help="the tuner screens builds on a sample of F of the catalog first (ann-bench tune --screen)")
    ap.add_argument("--screen-builds", type=int, default=Screening.builds, help="builds on the sample")
    ap.add_argument("--paired-time", type=float, default=2.0,
                    help="the verdict: both winners of every target timed pass for pass in one process, each for this many seconds (0: none)")
    args = ap.parse_args()
    wpath = paths.find_workload(args.workload)
    n = len(wformat.read(wpath).train)
    # 0 named here: the executor below runs queries on one thread, and the sweep would read 0 as that one
    settings = {"k": [10], "filtered_k": 0, "repeats": 3, "build_threads": args.build_threads or available_cores()}
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
    g = [*goals([f"recall@10 >= {t}" for t in args.targets])]
    rows, won, tune_s = [], {}, 0.0
    executor = LocalExecutor(threads=1)
    try:
        for alg in cfg.algorithms:
            grid_rows = gdf[(gdf["algorithm"] == alg.name) & (gdf["duplicate_of"] == "") & (gdf["status"] == "ok")]
            tuning = Tuning(tuple(g), trials=max(1, builds[alg.name] // 3), seed=args.seed, ratio=args.ratio,
                            query_configs=max(1, len(grid_rows) // 3))
            start = time.perf_counter()
            screened = args.screen and screen(cfg, alg, wpath, args.out / "tune", tuning, executor,
                                              Screening(args.screen, args.screen_builds, args.seed), log=lambda line: None)
            _, files, _ = run_study(cfg, alg, wpath, args.out / "tune", tuning, executor, log=lambda line: None,
                                    first=[screened.first] if screened else ())
            tune_s += time.perf_counter() - start
            grid_best, tuned_best = winners(grid_rows["file"], g), winners(files, g)
            cost = {"grid build s": grid_rows.groupby("file")["build_s"].first().sum(),
                    "tuned build s": sum(points(Path(f), 10)["build_s"].iloc[0] for f in files)}
            if screened:
                cost |= {"screened items": screened.items, "screened builds": screened.builds,
                         "screened query configs": screened.query_configs, "screened build s": screened.build_s}
            for goal, r in zip(g, answer(args.workload, alg.name, files, g, "qps_single")):
                t = goal.recall
                if grid_best[t] is not None and tuned_best[t] is not None:
                    won |= {(alg.name, "grid", t): grid_best[t], (alg.name, "tuned", t): tuned_best[t]}
                grid_qps = float(grid_best[t]["qps_single"]) if grid_best[t] is not None else float("nan")
                rows.append({"algorithm": alg.name, "target": t, "grid qps": grid_qps, "tuned qps": r.get("qps_single", float("nan")),
                             "tuned / grid": r.get("qps_single", float("nan")) / grid_qps,
                             "grid builds": builds[alg.name], "tuned builds": r["builds"],
                             "grid query configs": len(grid_rows), "tuned query configs": r["query_configs"],
                             "tuned params": f"{r.get('build_params', '')}; {r.get('query_params', '')}" if r["answer"] == "met" else r["answer"],
                             **cost})
    finally:
        executor.close()
    df = pd.DataFrame(rows)
    with pd.option_context("display.width", 250, "display.max_colwidth", 90, "display.max_rows", 200):
        print(df.to_string(index=False, float_format=lambda v: f"{v:,.3g}"))
    ok = df["tuned / grid"] >= 0.95
    cheap = (df["tuned builds"] * 3 <= df["grid builds"]) & (df["tuned query configs"] * 3 <= df["grid query configs"])
    print(f"\n{args.workload} ({n:,} items): grid {grid_s:.0f} s, tuner {tune_s:.0f} s; tuned >= 0.95x grid in {ok.sum()} of "
          f"{len(df)}; within a third of the grid's builds and query configurations in {cheap.sum()} of {len(df)}"
          f"{' (full-catalog ones; screening counted too, below)' if args.screen else ''}; "
          f"median tuned / grid {df['tuned / grid'].median():.3f}")
    if args.screen:
        builds = df["tuned builds"] + df["screened builds"]
        configs = df["tuned query configs"] + df["screened query configs"]
        seconds = df["tuned build s"] + df["screened build s"]
        cheap = (builds * 3 <= df["grid builds"]) & (configs * 3 <= df["grid query configs"])
        print(f"counting the sample's builds and query configurations as full ones: within a third in {cheap.sum()} of {len(df)}; "
              f"build seconds within a third of the grid's in {(seconds * 3 <= df['grid build s']).sum()} of {len(df)}")
    if args.rounds and won:
        start = time.perf_counter()
        again = verdict(side_by_side(cfg, wpath, won, args.out / "side-by-side", args.rounds, args.min_time))
        print(f"\nSide by side: both winners built and measured again, {args.rounds} rounds, each mode timed >= {args.min_time:g} s "
              f"({time.perf_counter() - start:.0f} s; * recall below the target on a re-measurement)")
        with pd.option_context("display.width", 250, "display.max_rows", 200):
            print(again.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        ok = again["tuned / grid"] >= 0.95
        print(f"\ntuned >= 0.95x grid side by side in {ok.sum()} of {len(again)}; "
              f"median tuned / grid {again['tuned / grid'].median():.3f}")
    if args.paired_time and won:
        start = time.perf_counter()
        again = paired(wpath, won, args.paired_time, args.single_query_limit, args.build_threads)
        print(f"\nPaired: both winners of each target built once and timed pass for pass, >= {args.paired_time:g} s each "
              f"({time.perf_counter() - start:.0f} s; tuned / grid: median of the pairs' ratios; * recall below the target)")
        with pd.option_context("display.width", 250, "display.max_rows", 200):
            print(again.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        ok = again["tuned / grid"] >= 0.95
        print(f"\ntuned >= 0.95x grid paired in {ok.sum()} of {len(again)}; median tuned / grid {again['tuned / grid'].median():.3f}")


if __name__ == "__main__":
    main()
