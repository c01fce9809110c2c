"""Harness overhead, measured side by side in one run (shared machines are noisy: compare
ratios from the same run, not absolute numbers across runs).

    .venv/bin/python benchmarks/harness_overhead.py [--workload ml-latest-small.dot.u2i.ip] [--rounds 7]

1. Batch QPS through the adapter vs a bare call into the library, for faiss HNSW and
   hnswlib (1 thread), interleaved round by round; the best round of each is compared.
   A ratio near 1.00 means the harness adds nothing measurable.
2. Single-query mode: the per-call cost of the harness's timed loop with a no-op search
   (the timer pair and loop), and harness vs bare per-query time for both libraries,
   in microseconds.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def best(fn, rounds):
    out = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return min(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workload", default="ml-latest-small.dot.u2i.ip")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--k", type=int, default=10)
    args = ap.parse_args()

    from ann_bench.threads import set_threads

    set_threads(1)
    import faiss

    from ann_bench import paths
    from ann_bench.sweep import registry
    from ann_bench.sweep.worker import single_pass
    from ann_bench.workloads import read

    w = read(paths.find_workload(args.workload))
    x, q, k = w.train, np.ascontiguousarray(w.test, dtype=np.float32), args.k
    print(f"workload {w.name}: {len(x)} x {x.shape[1]}, {len(q)} queries, k={k}, 1 thread, best of {args.rounds} rounds")

    faiss_adapter = registry.get("faiss-hnsw")(w.metric, x.shape[1], threads=1, M=16, ef_construction=100)
    faiss_adapter.fit(x)
    faiss_adapter.set_query_params(ef_search=64)
    hnsw_adapter = registry.get("hnswlib")(w.metric, x.shape[1], threads=1, M=16, ef_construction=100)
    hnsw_adapter.fit(x)
    hnsw_adapter.set_query_params(ef=64)
    fidx, hidx = faiss_adapter.index, hnsw_adapter.index  # the same built indexes, called bare
    pq_f, pq_h = faiss_adapter.prepare_queries(q), hnsw_adapter.prepare_queries(q)

    cases = {
        "faiss-hnsw": (lambda: faiss_adapter.search_batch(pq_f, k, 1), lambda: (faiss.omp_set_num_threads(1), fidx.search(pq_f, k))),
        "hnswlib": (lambda: hnsw_adapter.search_batch(pq_h, k, 1), lambda: hidx.knn_query(pq_h, k=k, num_threads=1)),
    }
    print("\nbatch mode (all queries in one call)")
    print(f"{'library':12} {'harness QPS':>12} {'bare QPS':>10} {'ratio':>6}")
    for name, (harness, bare) in cases.items():
        th, tb = [], []
        for _ in range(args.rounds):  # interleaved, so drift hits both alike
            th.append(best(harness, 1))
            tb.append(best(bare, 1))
        qh, qb = len(q) / min(th), len(q) / min(tb)
        print(f"{name:12} {qh:12.0f} {qb:10.0f} {qh / qb:6.3f}")

    print("\nsingle-query mode (one call per query)")
    noop_singles = [None] * len(q)
    noop = min(single_pass(lambda v, kk: None, noop_singles, k).sum() for _ in range(args.rounds)) / len(q)
    print(f"timed-loop cost per call with a no-op search: {noop * 1e6:.2f} us")

    def bare_loop(call, singles):
        lat = np.empty(len(singles))
        clock = time.perf_counter
        for i, v in enumerate(singles):
            t0 = clock()
            call(v)
            lat[i] = clock() - t0
        return lat

    f_singles, h_singles = faiss_adapter.split_queries(pq_f), hnsw_adapter.split_queries(pq_h)
    singles = {
        "faiss-hnsw": (lambda: single_pass(faiss_adapter.search_one, f_singles, k), lambda: bare_loop(lambda v: fidx.search(v, k), f_singles)),
        "hnswlib": (lambda: single_pass(hnsw_adapter.search_one, h_singles, k), lambda: bare_loop(lambda v: hidx.knn_query(v, k=k, num_threads=1), h_singles)),
    }
    print(f"{'library':12} {'harness us/query':>17} {'bare us/query':>14} {'overhead us':>12}")
    for name, (harness, bare) in singles.items():
        th, tb = [], []
        for _ in range(args.rounds):
            th.append(harness().sum())
            tb.append(bare().sum())
        h, b = min(th) / len(q) * 1e6, min(tb) / len(q) * 1e6
        print(f"{name:12} {h:17.2f} {b:14.2f} {h - b:12.2f}")


if __name__ == "__main__":
    main()
