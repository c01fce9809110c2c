"""Annoy: recall@10 at fixed search_k by number of trees and seed, on one workload.

Annoy's author advises "for a fixed search_k: more trees is always better"
(spotify/annoy#292). Whether that holds on a workload decides where a tuner with one build
should put it; this prints, for each (n_trees, seed), the build's seconds and, at each
search_k, recall@10 (as a result file would score it) and queries per second of one thread
asking one query at a time, so a seed's luck and a workload's trend can be told apart.

    .venv/bin/python benchmarks/annoy_trees.py [--workload NAME] [--trees 4 8 16 32]
        [--seeds 42 1 2] [--search-k 32768 65536 131072 262144] [--queries 200] [--build-threads 2]

Run it with nothing else on the machine.
"""

from __future__ import annotations

import argparse
import time

import pandas as pd

from ann_bench import paths
from ann_bench.sweep import registry
from ann_bench.sweep.worker import steering_recall
from ann_bench.threads import set_threads
from ann_bench.workloads import format as wformat


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workload", default="ml-latest-small.dot.u2i.ip.synthetic1M")
    ap.add_argument("--trees", nargs="+", type=int, default=[4, 8, 16, 32])
    ap.add_argument("--seeds", nargs="+", type=int, default=[42, 1, 2])
    ap.add_argument("--search-k", nargs="+", type=int, default=[32768, 65536, 131072, 262144])
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--build-threads", type=int, default=2)
    args = ap.parse_args()
    wpath = paths.find_workload(args.workload)
    w = wformat.read(wpath)
    job = {"workload": str(wpath), "metric": w.metric}
    queries = w.test[: args.queries]
    cls = registry.get("annoy")
    rows = []
    for n_trees in args.trees:
        for seed in args.seeds:
            start = time.perf_counter()
            index = cls(w.metric, w.dimension, threads=args.build_threads, n_trees=n_trees, seed=seed)
            index.fit(w.train)
            row = {"n_trees": n_trees, "seed": seed, "build s": time.perf_counter() - start}
            set_threads(1)
            for search_k in args.search_k:
                index.set_query_params(search_k=search_k)
                prepared = index.prepare_queries(queries)
                start = time.perf_counter()
                ids = index.search_batch(prepared, 10, 1)  # Annoy's batch is a loop of single queries
                qps = len(queries) / (time.perf_counter() - start)
                recall = steering_recall(job, ids, 10, None, queries, w.distances)
                row[f"search_k={search_k}"] = f"{recall:.3f} @ {qps:,.0f}/s"
            rows.append(row)
            print("  ".join(f"{k} {v:.1f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()), flush=True)
    df = pd.DataFrame(rows)
    print(f"\n{w.name}: recall@10 @ single-query QPS over {len(queries)} queries, by n_trees and seed")
    with pd.option_context("display.width", 200):
        print(df.to_string(index=False, float_format=lambda v: f"{v:.1f}"))


if __name__ == "__main__":
    main()
