"""Builds of one algorithm timed side by side in one process: is a speed gap between grid points
the builds' own, or the machine's at the time each was measured?

In faiss HNSW's 1M grid, builds of the same M answered at very different speeds at the same
``ef_search`` (M=64: 4,525 QPS with ef_construction 32, 10,856 with 128, at ef_search 32), each
build's points measured within a minute of each other; hnswlib's builds of one M did not differ
so. This script builds each given configuration (a configuration given twice is built twice),
then times single-query passes over the workload's queries on one thread, the builds taking
turns pass by pass (rotating the order every round), so that all meet the same machine. Printed
per build: QPS over its median pass, the middle half of its passes' QPS, recall@10, build time.

    .venv/bin/python benchmarks/builds_side_by_side.py --algorithm faiss-hnsw \\
        --builds M=64,ef_construction=32 M=64,ef_construction=32 M=64,ef_construction=128 \\
        --query ef_search=32 [--workload NAME] [--build-threads 0] [--rounds 15]

Run it with nothing else on the machine.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from tune_vs_grid import build_index, in_turns, timing_setup  # this folder's script: the paired verdict's steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workload", default="ml-latest-small.dot.u2i.ip.synthetic1M")
    ap.add_argument("--algorithm", default="faiss-hnsw", help="an adapter name")
    ap.add_argument("--builds", nargs="+", required=True, help="build parameters, k=v,k=v; repeat one to build it again")
    ap.add_argument("--query", default="", help="query parameters, k=v,k=v")
    ap.add_argument("--build-threads", type=int, default=0, help="0: all cores")
    ap.add_argument("--rounds", type=int, default=15)
    args = ap.parse_args()

    from ann_bench import paths
    from ann_bench.sweep import registry
    from ann_bench.sweep.config import typed_assignments
    from ann_bench.sweep.worker import prepare_library
    from ann_bench.workloads import format as wformat

    wpath = paths.find_workload(args.workload)
    w = wformat.read(wpath)
    cls = registry.get(args.algorithm)
    prepare_library(cls, w.metric, w.dimension)
    query = typed_assignments(args.query, cls.query_params, "--query")
    built = []
    for text in args.builds:
        start = time.perf_counter()
        index = build_index(cls, w, typed_assignments(text, cls.build_params, "--builds"), args.build_threads)
        build_s = time.perf_counter() - start
        singles, recall = timing_setup(index, query, w, wpath, None)
        built.append({"build": text, "side": (index, query, singles), "recall": recall, "build_s": build_s})
        print(f"built {args.algorithm} {text} in {build_s:.0f} s", flush=True)
    passes = in_turns([b["side"] for b in built], args.rounds, 0.0)
    print(f"\n{w.name}: {args.algorithm} {args.query}, {len(w.test)} queries one at a time, {args.rounds} rounds in turns")
    print(f"{'build':<32} {'QPS':>8} {'middle half':>15} {'recall@10':>9} {'build s':>8}")
    for b, seconds in zip(built, passes):
        qps = len(w.test) / np.array(seconds)
        print(f"{b['build']:<32} {len(w.test) / np.median(seconds):>8,.0f} "
              f"{np.percentile(qps, 25):>7,.0f}-{np.percentile(qps, 75):<7,.0f} {b['recall']:>9.4f} {b['build_s']:>8.0f}")


if __name__ == "__main__":
    main()
