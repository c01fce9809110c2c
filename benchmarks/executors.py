"""What the executors cost: the same sweep here and on a one-node Ray cluster, and what a
neighbour costs a pinned run.

    .venv/bin/python benchmarks/executors.py [--workload ml-latest-small.dot.u2i.ip] [--repeat 2]

1. Wall time of one sweep (hnswlib, faiss IVF and faiss HNSW, 6 builds) measured by the local
   executor and by Ray started on this machine (`--ray local`, one node), alternating, best
   of --repeat each; the Ray cluster's start is timed apart. Prints ray / local (target <= 1.05).
2. Pinned co-running (`--jobs 2`): single-query QPS of the same configurations run alone on
   one pinned core (the other idle) and run two at a time, each on its own core. Prints the
   QPS ratio together / alone per configuration and their median.

Nothing else may run on the machine meanwhile.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import h5py

from ann_bench import paths
from ann_bench.sweep import config
from ann_bench.sweep.executors.local import LocalExecutor
from ann_bench.sweep.runner import sweep

GRID = {
    "hnswlib": {"build": {"M": [8, 16]}, "query": {"ef": [10, 40, 160]}},
    "faiss-ivf": {"build": {"nlist": [64, 256]}, "query": {"nprobe": [1, 4, 16]}},
    "faiss-hnsw": {"build": {"M": [8, 16]}, "query": {"ef_search": [10, 40, 160]}},
}


def timed_sweep(cfg, workload: Path, executor) -> float:
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        outcomes = sweep(cfg, [workload], Path(out), progress=False, executor=executor)
        wall = time.perf_counter() - start
    assert all(o.status == "ok" for o in outcomes), [o.summary for o in outcomes if o.status != "ok"]
    return wall


def single_qps(outcomes) -> dict:
    out = {}
    for o in outcomes:
        with h5py.File(o.path) as f:
            for q in f["query"]:
                m = json.loads(f["query"][q]["k010"].attrs["metrics"])
                if "qps_single" in m:
                    out[(o.path.parent.name, o.path.stem, q)] = m["qps_single"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workload", default="ml-latest-small.dot.u2i.ip")
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    workload = paths.find_workload(args.workload)
    cfg = config.parse({"settings": {"k": [10], "repeats": 3, "filtered_k": 0}, "algorithms": GRID})

    import ray

    from ann_bench.sweep.executors.ray_cluster import RayExecutor

    start = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    ray_start = time.perf_counter() - start
    local, on_ray = [], []
    try:
        for _ in range(args.repeat):
            local.append(timed_sweep(cfg, workload, LocalExecutor()))
            on_ray.append(timed_sweep(cfg, workload, RayExecutor("auto")))  # the cluster started above, kept
    finally:
        ray.shutdown()
    print(f"1. sweep wall time, best of {args.repeat}: local {min(local):.1f} s, Ray one node {min(on_ray):.1f} s "
          f"(cluster start {ray_start:.1f} s apart): ray / local = {min(on_ray) / min(local):.3f}")
    print(f"   all: local {[round(x, 1) for x in local]}, ray {[round(x, 1) for x in on_ray]}")

    with tempfile.TemporaryDirectory() as out:
        alone = {}
        for alg in GRID:  # one run at a time on a two-slot executor: pinned to one core, the other idle
            for b in config.parse({"algorithms": {alg: GRID[alg]}}).algorithms[0].at_size(1, "grid").build:
                one = config.parse({"settings": cfg.settings, "algorithms": {alg: {"build": {k: [v] for k, v in b.items()},
                                                                                     "query": GRID[alg]["query"]}}})
                alone |= single_qps(sweep(one, [workload], Path(out) / "alone", progress=False, executor=LocalExecutor(jobs=2)))
        together = single_qps(sweep(cfg, [workload], Path(out) / "together", progress=False, executor=LocalExecutor(jobs=2)))
    ratios = {k: together[k] / alone[k] for k in alone if k in together}
    print("2. single-query QPS with a pinned neighbour / alone on its pinned core:")
    for (alg, build, q), r in sorted(ratios.items()):
        print(f"   {alg:11s} {build:40s} query {q}: {r:.3f}")
    print(f"   median {statistics.median(ratios.values()):.3f} over {len(ratios)} configurations "
          f"(min {min(ratios.values()):.3f}, max {max(ratios.values()):.3f})")


if __name__ == "__main__":
    main()
