"""Which CPU kernels under torch change the trained vectors, and what pinning them costs.

Short trainings of the default dot model, each in a fresh process and project folder (the
prepared split copied in, so only training differs): the libraries' own choices twice (torch
imported before the command runs, so it pins nothing, and none of the variables set: MKL's
``MKL_CBWR=AUTO`` is not its default, it turns the reproducible mode on); each of torch's kernels
(``ATEN_CPU_CAPABILITY``), oneDNN's (``ONEDNN_MAX_CPU_ISA``) and MKL's (``MKL_CBWR``) set to AVX2
alone; and ``ann-bench train`` as it runs now (all three pinned,
:mod:`ann_bench.embeddings.kernels`) twice. Printed per run: a hash of the item vectors, seconds
(the process, torch's import included), the largest difference from the first run's vectors,
and the share of users whose exact top 10 (user . item) is the first run's.

    .venv/bin/python benchmarks/training_kernels.py [--variant ml-latest-small] [--epochs 3]

Run it with nothing else on the machine, after `make data` (it reads the prepared split).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ann_bench import paths
from ann_bench.embeddings.kernels import PINS
from ann_bench.embeddings.store import load_vectors


# the command with torch imported first: ann-bench train then leaves the kernels as they are
UNPINNED = "import sys, torch; from ann_bench.cli import main; sys.exit(main(sys.argv[1:]))"


def train(home: Path, variant: str, epochs: int, env: dict, pinned: bool) -> tuple[dict, float]:
    for d in ("movielens", "prepared"):  # symbolic links stay links: the releases are not copied
        shutil.copytree(paths.home() / "datasets" / d, home / "datasets" / d, symlinks=True)
    run = [sys.executable, *(["-m", "ann_bench.cli"] if pinned else ["-c", UNPINNED]), "train", variant, "--model", "dot", "--threads", "2", "--no-baselines",
           "--epochs", str(epochs), "--temperature", "0.2"]
    start = time.perf_counter()
    clean = {k: v for k, v in os.environ.items() if k not in PINS}
    subprocess.run(run, env=clean | {"ANN_BENCH_HOME": str(home)} | env, capture_output=True, check=True)
    seconds = time.perf_counter() - start
    (bundle,) = (home / "datasets" / "models").iterdir()
    return load_vectors(bundle), seconds


def top10(vec: dict) -> np.ndarray:
    scores = vec["users"] @ vec["items"].T
    return np.sort(np.argpartition(-scores, 10, axis=1)[:, :10], axis=1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--variant", default="ml-latest-small")
    ap.add_argument("--epochs", type=int, default=3)
    args = ap.parse_args()
    runs = [("libraries' own", {}, False), ("libraries' own, again", {}, False)]
    runs += [(f"{k}={v} alone", {k: v}, False) for k, v in PINS.items()]
    runs += [("ann-bench train (pinned)", {}, True), ("ann-bench train, again", {}, True)]
    print(f"{args.variant}: {args.epochs} epochs at temperature 0.2, threads 2")
    print(f"{'run':<34}{'item vectors':>14}{'seconds':>9}{'max |diff|':>12}{'same top 10':>13}")
    first = None
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, env, pinned) in enumerate(runs):
            vec, seconds = train(Path(tmp) / str(i), args.variant, args.epochs, env, pinned)
            if first is None:
                first = vec | {"top10": top10(vec)}
            digest = hashlib.sha1(np.ascontiguousarray(vec["items"]).tobytes()).hexdigest()[:12]
            diff = float(np.abs(vec["items"] - first["items"]).max())
            same = float(np.mean(np.all(top10(vec) == first["top10"], axis=1)))
            print(f"{name:<34}{digest:>14}{seconds:>9.1f}{diff:>12.4g}{same:>13.3f}", flush=True)


if __name__ == "__main__":
    main()
