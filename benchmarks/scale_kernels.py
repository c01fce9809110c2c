"""The catalog scale-up's synthetic vectors under OpenBLAS's kernels, each setting in a fresh process.

    .venv/bin/python benchmarks/scale_kernels.py [--bundle DIR] [--scale N] [--seed S] [--threads T]

Grows a bundle's item vectors (default: the ml-latest-small dot bundle ``workloads build`` picks)
to ``N`` items (default 1,000,000) as ``ann-bench workloads build --scale N`` does, once per
setting, each in a fresh process (OpenBLAS reads ``OPENBLAS_CORETYPE`` when it loads):

- ``own``: the variable unset and the scale-up run in the process, on the kernels OpenBLAS picks
  for this CPU (what ann-bench did before it pinned them); twice, to show a setting repeats;
- ``Haswell``, ``SkylakeX``, ``Zen``: the variable set by the caller (ann-bench keeps it);
- ``ann-bench``: the variable unset and the scale-up run by ``workloads.kernels.fill``, as the
  build runs it (in a child process on the pinned kernels where the CPU has AVX2).

Printed per setting: a hash of the synthetic vectors, the kernels every loaded OpenBLAS reported,
the seconds, and against ``Haswell``: how many vectors differ and the largest difference.
Run it with nothing else on the machine (the timings are single runs).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SETTINGS = ("own", "own", "Haswell", "SkylakeX", "Zen", "ann-bench")


def child(args) -> None:
    """One setting: grow, save the synthetic vectors to ``args.save``, print what it ran on."""
    from ann_bench.embeddings.store import load_vectors
    from ann_bench.threads import set_threads
    from ann_bench.workloads import kernels, scale

    set_threads(args.threads)
    items = load_vectors(args.bundle)["items"]
    out = np.empty((args.scale - len(items), items.shape[1]), dtype=np.float32)
    start = time.perf_counter()
    if args.child == "ann-bench":
        _, facts = kernels.fill(scale.grow, out, items, seed=args.seed, scratch=args.save.parent)
    else:
        scale.grow(items, seed=args.seed, out=out)
        facts = {"openblas": kernels.loaded()}
    seconds = time.perf_counter() - start
    np.save(args.save, out)
    print(json.dumps({"hash": hashlib.sha256(out.tobytes()).hexdigest()[:16], "seconds": seconds,
                      "kernels": sorted({lib["kernels"] for lib in facts["openblas"]})}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bundle", type=Path)
    ap.add_argument("--scale", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--child", choices=sorted(set(SETTINGS)), help=argparse.SUPPRESS)
    ap.add_argument("--save", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if not args.bundle:  # the bundle `ann-bench workloads build ml-latest-small` grows
        from ann_bench.cli.workloads import latest_bundle

        args.bundle = latest_bundle("ml-latest-small", "dot")
    if args.child:
        return child(args)
    clean = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    print(f"bundle {args.bundle}, grown to {args.scale:,} items, seed {args.seed}, {args.threads} threads")
    print(f"{'setting':10} {'hash':16} {'seconds':>8} {'vectors unlike Haswell':>22} {'largest difference':>19}  OpenBLAS kernels")
    with tempfile.TemporaryDirectory() as tmp:
        runs = []
        for i, setting in enumerate(SETTINGS):
            save = Path(tmp) / f"{i}.npy"
            env = clean | ({} if setting in ("own", "ann-bench") else {"OPENBLAS_CORETYPE": setting})
            done = subprocess.run([sys.executable, __file__, "--child", setting, "--save", str(save), "--bundle", str(args.bundle),
                                   "--scale", str(args.scale), "--seed", str(args.seed), "--threads", str(args.threads)],
                                  env=env, capture_output=True, text=True, check=True)
            runs.append((setting, save, json.loads(done.stdout.strip().splitlines()[-1])))
        ref = np.load(next(save for setting, save, _ in runs if setting == "Haswell"))
        for setting, save, r in runs:
            x = np.load(save)
            differ = np.any(x != ref, axis=1)
            print(f"{setting:10} {r['hash']:16} {r['seconds']:8.1f} {differ.sum():22,} {np.abs(x - ref).max():19.2g}  "
                  f"{', '.join(r['kernels'])}")


if __name__ == "__main__":
    main()
