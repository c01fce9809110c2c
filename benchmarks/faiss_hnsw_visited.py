"""faiss HNSW's single-query speed at a million items, and the C library's allocator.

A suspicion this script tests: faiss's ``IndexHNSW::search`` has made a visited table of one
byte per indexed item on every call (``VisitedTable vt(ntotal)``: 1 MB at 1M items); if a
one-query call allocates and zeroes that megabyte from fresh pages, faulted in one by one, its
speed depends on glibc's malloc state, and so on what the process did before, and the same
index would run at different speeds in different processes. (With faiss-cpu 1.15.1 on 1M items
it did not: no page faults per query under any setting, and speeds within the rounds' spread.)

This script builds one faiss HNSW index through the harness's adapter, writes it to a
temporary file, and times single-query passes over the workload's queries (one thread) in
child processes that read it back, each under one allocator setting, in alternating rounds:

- ``default``: glibc as it comes (its mmap threshold rises after the first large free);
- ``mmap``: ``MALLOC_MMAP_THRESHOLD_=131072``, every allocation of 128 KB and more a fresh mapping;
- ``heap``: ``MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=1073741824``, served from
  the heap and never given back;

and in this process right after the build, as ``tune_vs_grid.py``'s paired verdict measures.
Printed per setting: QPS (queries over the median pass), minor page faults per query, the
ratio to ``default``, and batch QPS on one thread (one visited table per call, for reference).

    .venv/bin/python benchmarks/faiss_hnsw_visited.py [--workload NAME] [--M 16]
        [--ef-construction 64] [--ef-search 64] [--build-threads 0] [--rounds 3] [--passes 10]

Run it with nothing else on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SETTINGS = {
    "default": {},
    "mmap": {"MALLOC_MMAP_THRESHOLD_": "131072"},
    "heap": {"MALLOC_MMAP_THRESHOLD_": "33554432", "MALLOC_TRIM_THRESHOLD_": "1073741824"},
}


def measure(search_one, search_batch, queries: np.ndarray, passes: int) -> dict:
    """Single-query passes on one thread: QPS over the median pass, minor page faults per
    query, and one-thread batch QPS."""
    from ann_bench.sweep.worker import single_pass
    from ann_bench.threads import set_threads

    set_threads(1)
    singles = [queries[i : i + 1] for i in range(len(queries))]
    start = time.perf_counter()
    search_batch(queries, 10)
    batch_s = time.perf_counter() - start
    seconds, faults = [], []
    for _ in range(passes):  # timed as the sweep and the paired verdict time them
        f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        seconds.append(float(single_pass(search_one, singles, 10).sum()))
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
    n = len(singles)
    return {"qps": n / float(np.median(seconds)), "faults_per_query": float(np.median(faults)) / n, "batch_qps": n / batch_s}


def queries_of(workload: str):
    from ann_bench import paths
    from ann_bench.workloads import format as wformat

    w = wformat.read(paths.find_workload(workload))
    if w.metric != "ip":
        raise SystemExit(f"{workload}: an inner-product workload, please (faiss HNSW searches it as it is); this one is {w.metric}")
    return w, np.ascontiguousarray(w.test, dtype=np.float32)


def child(index_path: str, workload: str, ef_search: int, passes: int) -> None:
    """Read the index back and measure it with faiss's own calls (those the adapter makes)."""
    import faiss

    _, queries = queries_of(workload)
    index = faiss.read_index(index_path)
    index.hnsw.efSearch = ef_search
    print(json.dumps(measure(lambda v, k: index.search(v, k)[1][0], index.search, queries, passes)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workload", default="ml-latest-small.dot.u2i.ip.synthetic1M")
    ap.add_argument("--M", type=int, default=16)
    ap.add_argument("--ef-construction", type=int, default=64)
    ap.add_argument("--ef-search", type=int, default=64)
    ap.add_argument("--build-threads", type=int, default=0, help="0: all cores")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--passes", type=int, default=10)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args.child, args.workload, args.ef_search, args.passes)

    import faiss

    from ann_bench.sweep import registry
    from ann_bench.sweep.worker import prepare_library

    w, queries = queries_of(args.workload)
    cls = registry.get("faiss-hnsw")
    prepare_library(cls, w.metric, w.dimension)
    start = time.perf_counter()
    index = cls(w.metric, w.dimension, threads=args.build_threads or os.cpu_count(), M=args.M,
                ef_construction=args.ef_construction)
    index.fit(w.train)
    print(f"{args.workload}: faiss-hnsw M={args.M}, ef_construction={args.ef_construction} built in "
          f"{time.perf_counter() - start:.0f} s; ef_search={args.ef_search}, {len(queries)} queries one at a time")
    index.set_query_params(ef_search=args.ef_search)
    rows = {name: [] for name in [*SETTINGS, "this process"]}
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "index.faiss")
        faiss.write_index(index.index, path)
        for r in range(args.rounds):
            names = list(SETTINGS) if r % 2 == 0 else list(SETTINGS)[::-1]
            for name in names:
                out = subprocess.run([sys.executable, __file__, "--workload", args.workload, "--ef-search", str(args.ef_search),
                                      "--passes", str(args.passes), "--child", path],
                                     env=os.environ | SETTINGS[name], capture_output=True, text=True, check=True)
                rows[name].append(json.loads(out.stdout.strip().splitlines()[-1]))
            rows["this process"].append(measure(index.search_one, lambda q, k: index.search_batch(q, k, 1), queries, args.passes))
    base = np.median([r["qps"] for r in rows["default"]])
    print(f"{'setting':<14}{'QPS (median round)':>20}{'per round':>28}{'faults/query':>14}{'/ default':>11}{'batch QPS':>11}")
    for name, rs in rows.items():
        qps = np.median([r["qps"] for r in rs])
        rounds = " ".join(f"{r['qps']:,.0f}" for r in rs)
        print(f"{name:<14}{qps:>20,.0f}{rounds:>28}"
              f"{np.median([r['faults_per_query'] for r in rs]):>14.1f}{qps / base:>11.3f}"
              f"{np.median([r['batch_qps'] for r in rs]):>11,.0f}")


if __name__ == "__main__":
    main()
