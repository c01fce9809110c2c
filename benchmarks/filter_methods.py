"""Filtered search: a library's native filter vs over-fetching, side by side in one run.

    .venv/bin/python benchmarks/filter_methods.py [--workload ml-latest-small.dot.u2i.ip] [--rounds 5]

For each index (faiss HNSW, faiss IVF, hnswlib; one build each, 1 thread) and a few query
settings, every user's top 10 with their already-seen items excluded is found two ways on
the same built index, interleaved round by round: the library's native filter (faiss
IDSelector, hnswlib filter callback: what the sweep measures for them) and over-fetching
(ask for 10 + seen, drop the seen: what the sweep does for libraries without a filter).
Printed: filtered Recall@10 of each (against the workload's exact filtered top 10) and
the QPS ratio native / over-fetch from the best round of each. Compare ratios from one run,
not absolute QPS across runs: shared machines are noisy.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

K = 10
CASES = [
    ("faiss-hnsw", {"M": 16, "ef_construction": 100}, "ef_search", [16, 64, 256]),
    ("faiss-ivf", {"nlist": 128}, "nprobe", [2, 8, 32]),
    ("hnswlib", {"M": 16, "ef_construction": 100}, "ef", [16, 64, 256]),
]


def timed_pass(search, singles, exclude):
    found, start = [], time.perf_counter()
    for v, ex in zip(singles, exclude):
        found.append(search(v, K, ex))
    return time.perf_counter() - start, found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workload", default="ml-latest-small.dot.u2i.ip")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()

    from ann_bench.threads import set_threads

    set_threads(1)
    from ann_bench import paths
    from ann_bench.sweep import registry
    from ann_bench.sweep.adapters.base import Adapter, pad
    from ann_bench.sweep.record import filtered_recall
    from ann_bench.workloads import read

    w = read(paths.find_workload(args.workload))
    if w.filtered_neighbors is None:
        raise SystemExit(f"{args.workload} has no filtered ground truth: rebuild it with `ann-bench workloads build`.")
    exclude = [np.sort(w.seen[i]).astype(np.int64) for i in range(len(w.test))]
    seen = np.array([len(e) for e in exclude])
    print(f"workload {w.name}: {len(w.train)} x {w.dimension}, {len(w.test)} queries, top {K} unseen; "
          f"seen per user median {np.median(seen):.0f}, max {seen.max()}; 1 thread, best of {args.rounds} rounds")

    def recall(found):
        return filtered_recall(w, pad(found, K))[1]

    print(f"{'index':<12} {'query':<14} {'recall native':>13} {'recall overfetch':>16} {'QPS native':>11} {'QPS overfetch':>13} {'native/overfetch':>16}")
    for name, build, qkey, values in CASES:
        index = registry.get(name)(w.metric, w.dimension, threads=1, **build)
        index.fit(w.train)
        singles = index.split_queries(index.prepare_queries(w.test))
        methods = {"native": index.search_one_filtered,
                   "overfetch": lambda v, k, ex, index=index: Adapter.search_one_filtered(index, v, k, ex)}
        for value in values:
            index.set_query_params(**{qkey: value})
            secs = {m: [] for m in methods}
            found = {}
            for _ in range(args.rounds):
                for m, fn in methods.items():
                    s, found[m] = timed_pass(fn, singles, exclude)
                    secs[m].append(s)
            qps = {m: len(singles) / min(secs[m]) for m in methods}
            print(f"{name:<12} {qkey + '=' + str(value):<14} {recall(found['native']):>13.3f} {recall(found['overfetch']):>16.3f} "
                  f"{qps['native']:>11.0f} {qps['overfetch']:>13.0f} {qps['native'] / qps['overfetch']:>16.2f}")


if __name__ == "__main__":
    main()
