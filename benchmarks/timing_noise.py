"""How much a configuration's measured QPS moves between reruns, with and without a minimum time per mode.

The same few fast configurations (10-100 microseconds per query on ml-latest-small, where one
pass over the queries takes milliseconds) are swept ``--rounds`` times under each
``settings.min_time_s`` in ``--min-times``, the protocols alternating within every round (each
sweep a fresh worker and a fresh build, as a rerun of the benchmark would be). Printed per
protocol and query mode: the median over configurations of the rerun spread (coefficient of
variation of QPS over the rounds, and (max - min) / median), its ratio to the first protocol's,
and the seconds each protocol's sweeps took.

    .venv/bin/python benchmarks/timing_noise.py [--workload NAME] [--rounds 5] [--min-times 0 0.25 1]

Run it with nothing else on the machine.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

from ann_bench import paths
from ann_bench.results.table import gather
from ann_bench.sweep import config
from ann_bench.sweep.executors.local import LocalExecutor
from ann_bench.sweep.runner import sweep

ALGORITHMS = {
    "hnswlib": {"build": {"M": [16], "ef_construction": [100]}, "query": {"ef": [10, 80]}},
    "faiss-hnsw": {"build": {"M": [16], "ef_construction": [100]}, "query": {"ef_search": [10, 80]}},
    "faiss-ivf": {"build": {"nlist": [64]}, "query": {"nprobe": [2, 16]}},
    "annoy": {"build": {"n_trees": [20]}, "query": {"search_k": [200, 2000]}},
}
MODES = {"qps_single": "single query", "qps_batch_1t": "batch, 1 thread"}


def spread(df: pd.DataFrame) -> pd.DataFrame:
    """Per protocol, configuration and mode: the coefficient of variation of QPS over the rounds and (max - min) / median."""
    keys = ["min_time_s", "algorithm", "build_params", "requested_params"]
    rows = []
    for key, g in df.groupby(keys):
        for mode in MODES:
            q = g[mode]
            rows.append(dict(zip(keys, key)) | {"mode": mode, "qps": q.median(), "cv": q.std() / q.mean(),
                                                 "range": (q.max() - q.min()) / q.median(), "rounds": len(q)})
    return pd.DataFrame(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workload", default="ml-latest-small.dot.u2i.ip")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--min-times", nargs="+", type=float, default=[0.0, 0.25, 1.0])
    ap.add_argument("--out", type=Path, default=Path("/tmp/ann-bench-timing-noise"))
    args = ap.parse_args()
    wpath = paths.find_workload(args.workload)
    seconds = {m: 0.0 for m in args.min_times}
    frames = []
    for r in range(args.rounds):
        order = args.min_times if r % 2 == 0 else args.min_times[::-1]
        for m in order:
            cfg = config.parse({"settings": {"k": [10], "filtered_k": 0, "repeats": 3, "min_time_s": m},
                                "algorithms": ALGORITHMS})
            folder = args.out / f"min{m:g}" / f"round{r + 1}"
            start = time.perf_counter()
            sweep(cfg, [wpath], folder, executor=LocalExecutor(threads=1), progress=False)
            seconds[m] += time.perf_counter() - start
            df = gather(folder)
            df = df[(df["status"] == "ok") & (df["search"] == "knn") & (df["k"] == 10) & (df["duplicate_of"] == "")]
            frames.append(df.assign(min_time_s=m, round=r + 1))
    per = spread(pd.concat(frames, ignore_index=True))
    with pd.option_context("display.width", 200, "display.max_rows", 200):
        print(per.to_string(index=False, float_format=lambda v: f"{v:,.3g}"))
    base = args.min_times[0]
    print(f"\n{args.workload}, {args.rounds} rounds, {per.groupby('min_time_s')['algorithm'].size().iloc[0] // len(MODES)} "
          f"configurations; median over configurations, and its ratio to min_time_s={base:g}:")
    for mode, label in MODES.items():
        med = per[per["mode"] == mode].groupby("min_time_s")[["cv", "range"]].median()
        for m in args.min_times:
            print(f"  {label:16s} min_time_s={m:<5g} CV {med.loc[m, 'cv']:.3f} ({med.loc[m, 'cv'] / med.loc[base, 'cv']:.2f}x), "
                  f"range {med.loc[m, 'range']:.3f} ({med.loc[m, 'range'] / med.loc[base, 'range']:.2f}x)")
    print("  sweep seconds per round: " + ", ".join(f"min_time_s={m:g}: {s / args.rounds:.1f}" for m, s in seconds.items()))


if __name__ == "__main__":
    main()
