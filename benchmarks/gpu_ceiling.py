"""The GPU against the CPU cores, side by side in one run: exact ground truth and two-tower training.

    python benchmarks/gpu_ceiling.py groundtruth [--n 1000000 10000000] [--nq 10000] [--dim 64] [--k 100]
    python benchmarks/gpu_ceiling.py train [--variant ml-latest-small] [--epochs 3] [--batch-size 1024]
        (the variant prepared first: `ann-bench data prepare VARIANT`)

``groundtruth``: per catalog size, ``exact_knn`` on the CPU (BLAS, every core) and on the GPU
(PyTorch), on the same Gaussian data (inner product and L2); prints seconds, the ratio and whether
the two answers are identical (ids and distances). ``train``: the same model, batch size and
seed trained for ``--epochs`` epochs on each device from the prepared split; prints the mean
seconds per epoch (the training pass alone) and the ratio. The device is recorded beside.

Run it on a machine with a CUDA GPU, with nothing else running.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def groundtruth(args, cores: int) -> None:
    from ann_bench.workloads.groundtruth import exact_knn

    print(f"{'n':>10} {'metric':6} {'cpu s':>9} {'gpu s':>8} {'cpu / gpu':>9} {'identical':>9}")
    for n in args.n:
        rng = np.random.default_rng(0)
        x = rng.standard_normal((n, args.dim), dtype=np.float32)
        q = rng.standard_normal((args.nq, args.dim), dtype=np.float32)
        for metric in ("ip", "l2"):
            exact_knn(q[:64], x[:100_000], args.k, metric, device=args.device)  # the GPU's context and kernels
            start = time.perf_counter()
            gpu = exact_knn(q, x, args.k, metric, device=args.device)
            t_gpu = time.perf_counter() - start
            start = time.perf_counter()
            cpu = exact_knn(q, x, args.k, metric, threads=cores)
            t_cpu = time.perf_counter() - start
            same = all(np.array_equal(a, b) for a, b in zip(cpu, gpu))
            print(f"{n:10,} {metric:6} {t_cpu:9.2f} {t_gpu:8.2f} {t_cpu / t_gpu:9.1f} {str(same):>9}", flush=True)


def train(args) -> None:
    from ann_bench import paths
    from ann_bench.data import TRAIN, PrepConfig
    from ann_bench.data.store import load, prepared_path
    from ann_bench.embeddings.config import MODELS, TowerConfig, TrainConfig
    from ann_bench.embeddings.train import _Fitter

    p = load(prepared_path(paths.prepared_dir(), args.variant, PrepConfig()))  # `ann-bench data prepare VARIANT` made it
    cfg = TrainConfig(tower=TowerConfig(**MODELS["dot"]), batch_size=args.batch_size)
    print(f"{p.name}: {len(p.interactions):,} interactions, batch {cfg.batch_size}, {args.epochs} epochs per device")
    seconds = {}
    for dev in ("cpu", args.device):
        fit = _Fitter(p, cfg, (TRAIN,), dev)
        fit.epoch(cfg.lr)  # warm-up: allocations, kernels
        times = []
        for _ in range(args.epochs):
            start = time.perf_counter()
            fit.epoch(cfg.lr)
            times.append(time.perf_counter() - start)
        seconds[dev] = float(np.mean(times))
        print(f"{dev:6} {seconds[dev]:8.2f} s per epoch", flush=True)
    print(f"cpu / {args.device}: {seconds['cpu'] / seconds[args.device]:.1f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=("groundtruth", "train"))
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--n", type=int, nargs="+", default=[1_000_000, 10_000_000])
    ap.add_argument("--nq", type=int, default=10_000)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--k", type=int, default=100)
    ap.add_argument("--variant", default="ml-latest-small")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=1024)
    args = ap.parse_args()

    from ann_bench import torch_search
    from ann_bench.errors import ConfigError
    from ann_bench.threads import available_cores, set_threads

    if not args.device.startswith("cuda"):
        ap.error(f"--device {args.device}: name a CUDA GPU (cuda, cuda:N); the CPU side is always measured beside it")
    cores = available_cores()
    set_threads(cores)
    import torch

    torch.set_num_threads(cores)
    try:
        dev = torch_search.device(args.device)
    except ConfigError as e:
        ap.error(str(e).split("; run on")[0] + "; run this on a machine with a CUDA GPU.")
    print(f"{cores} CPU cores; {torch_search.facts(dev)}")
    groundtruth(args, cores) if args.what == "groundtruth" else train(args)


if __name__ == "__main__":
    main()
