"""How big a block of queries and a tile of the base the GPU's exact search should take, side by side in one run.

    python benchmarks/gpu_tiles.py [--device cuda] [--cases 1000000:601:100 1000000:10000:116 10000000:10000:116]

Each case is ``n:nq:k`` (base size, queries, neighbours; 116 is what ground truth asks for: k + 16
candidates). For each, :class:`ann_bench.torch_search.Base` searches the same Gaussian data (64
dimensions, inner product) with several (query block, tile) pairs; printed: the median seconds of
5 timed searches after a warm-up, the QPS, and the time over the first pair's (the defaults
before this script: 4096 queries, 32,768 items); the last line is torch_search's defaults now.
The answers of every pair are checked identical.
A bare product of the whole query set with the base (no selection) is printed as the floor.

Run it on a machine with a CUDA GPU, with nothing else running.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from ann_bench import torch_search
from ann_bench.errors import ConfigError

PAIRS = ((4096, 32_768), (4096, 131_072), (1024, 524_288), (16_384, 65_536), (4096, 1 << 20), (1024, 1 << 21))
DEFAULT = (None, None)  # the defaults of torch_search (a block of QUERY_BLOCK, a tile of SCORE_BYTES)


def timed(fn, dev, repeats: int = 5) -> float:
    fn()
    times = []
    for _ in range(repeats):
        torch_search.synchronize(dev)
        start = time.perf_counter()
        fn()
        torch_search.synchronize(dev)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--cases", nargs="+", default=["1000000:601:100", "1000000:10000:116", "10000000:10000:116"])
    ap.add_argument("--dim", type=int, default=64)
    args = ap.parse_args()
    try:
        dev = torch_search.device(args.device)
    except ConfigError as e:
        ap.error(str(e))
    print(torch_search.facts(dev))
    for case in args.cases:
        n, nq, k = (int(v) for v in case.split(":"))
        rng = np.random.default_rng(0)
        x = rng.standard_normal((n, args.dim), dtype=np.float32)
        q = rng.standard_normal((nq, args.dim), dtype=np.float32)
        base = torch_search.Base(x, "ip", dev)
        qd = torch.from_numpy(q).to(dev)

        def products() -> None:  # each product dropped as soon as it is made
            for i in range(0, nq, 4096):
                for j in range(0, n, 262_144):
                    qd[i:i + 4096] @ base.x[j:j + 262_144].T

        floor = timed(products, dev)
        print(f"\nn {n:,}, {nq:,} queries, k {k}: bare product {floor * 1e3:.1f} ms")
        print(f"{'query block':>11} {'tile':>9} {'ms':>8} {'QPS':>10} {'/ first':>8} same")
        first = ref = None
        for block, tile in (*PAIRS, DEFAULT):
            if block and min(block, nq) * min(tile, n) * 4 > 16 << 30:
                continue
            out = {}
            t = timed(lambda: out.update(r=base.search(q, k, query_block=block, tile=tile)), dev)
            first = first or t
            ref = ref if ref is not None else out["r"]
            same = np.array_equal(ref[0], out["r"][0]) and np.array_equal(ref[1], out["r"][1])
            shown = [f"{v:,}" if v else "default" for v in (block, tile)]
            print(f"{shown[0]:>11} {shown[1]:>9} {t * 1e3:8.1f} {nq / t:10,.0f} {t / first:8.2f} {same}", flush=True)
        del base, qd
        torch.cuda.empty_cache() if dev.type == "cuda" else None


if __name__ == "__main__":
    main()
