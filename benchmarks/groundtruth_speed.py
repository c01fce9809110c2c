"""Exact ground truth speed: ann-bench's tiled BLAS search vs faiss IndexFlat, same data, same run.

    .venv/bin/python benchmarks/groundtruth_speed.py [--workload NAME] [--n 1000000 --nq 1000 --dim 64] [--threads 2]
        [--query-block 512 ...] [--tile 4096 ...]

Prints seconds (best of --repeat), GFLOP/s (2 * queries * base * dim per pass), the share of
this machine's sgemm peak (a 4096^3 float32 product at the same threads, measured in the same
run) and the ratio faiss_seconds / ann_bench_seconds (>= 1 means ann-bench is at least as
fast), and checks that both return the same neighbours. Several --query-block / --tile values
print one row each (the default tile is the one ann-bench picks for the query block).
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def best_of(fn, repeat: int):
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workload", help="a workload name or path (default: random Gaussian data)")
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--nq", type=int, default=1_000)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--k", type=int, default=100)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--query-block", type=int, nargs="+", default=[None])
    ap.add_argument("--tile", type=int, nargs="+", default=[None])
    args = ap.parse_args()

    from ann_bench.threads import set_threads

    set_threads(args.threads)
    import faiss

    from ann_bench import exact_search
    from ann_bench.workloads.groundtruth import exact_knn, normalize

    a = np.random.default_rng(1).standard_normal((4096, 4096), dtype=np.float32)
    t_gemm, _ = best_of(lambda: a @ a, args.repeat)
    peak = 2.0 * 4096**3 / t_gemm / 1e9

    if args.workload:
        from ann_bench import paths
        from ann_bench.workloads import read

        w = read(paths.find_workload(args.workload))
        x, q, metrics = w.train, w.test, [w.metric]
        label = w.name
    else:
        rng = np.random.default_rng(0)
        x = rng.standard_normal((args.n, args.dim), dtype=np.float32)
        q = rng.standard_normal((args.nq, args.dim), dtype=np.float32)
        metrics, label = ["ip", "l2"], f"random n={args.n} nq={args.nq} d={args.dim}"
    flops = 2.0 * len(q) * len(x) * x.shape[1]
    print(f"data: {label}; threads: {args.threads}; k={args.k}; best of {args.repeat}; sgemm peak {peak:.1f} GFLOP/s")
    print(
        f"{'metric':7} {'qblock':>6} {'tile':>7} {'ann-bench s':>11} {'faiss s':>9} {'ann-bench GFLOP/s':>18}"
        f" {'faiss GFLOP/s':>14} {'of peak':>7} {'ratio':>6} {'same ids':>9}"
    )
    for metric in metrics:
        fx, fq = (normalize(x), normalize(q)) if metric == "cosine" else (x, q)
        index = faiss.IndexFlatL2(x.shape[1]) if metric == "l2" else faiss.IndexFlatIP(x.shape[1])
        index.add(np.ascontiguousarray(fx, dtype=np.float32))
        t_faiss, (_, fids) = best_of(lambda: index.search(np.ascontiguousarray(fq, dtype=np.float32), args.k), args.repeat)
        for qb in args.query_block:
            qb = qb or exact_search.QUERY_BLOCK
            for tile in args.tile:
                run = lambda: exact_knn(q, x, args.k, metric, threads=args.threads, query_block=qb, tile=tile)  # noqa: E731
                t_ours, (ids, _) = best_of(run, args.repeat)
                same = float((ids[:, :10] == fids[:, :10]).mean())
                print(
                    f"{metric:7} {qb:6} {tile or exact_search.TILE_BYTES // (4 * qb):7} {t_ours:11.3f} {t_faiss:9.3f}"
                    f" {flops / t_ours / 1e9:18.1f} {flops / t_faiss / 1e9:14.1f} {flops / t_ours / 1e9 / peak:7.2f}"
                    f" {t_faiss / t_ours:6.2f} {same:9.3f}"
                )


if __name__ == "__main__":
    main()
