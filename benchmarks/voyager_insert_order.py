"""Does Voyager's inner-product recall depend on the order items are inserted in?

    .venv/bin/python benchmarks/voyager_insert_order.py [--workload ml-latest-small.dot.u2i.ip.synthetic1M] [--n 400000]

Voyager's InnerProduct space adds one coordinate to every stored vector, computed from the
largest norm seen *so far* (an order-preserving transform), so items inserted before a
larger-norm item get a coordinate that the later maximum would have made different. This
builds Voyager four times on the same ``--n`` items of the workload (a seeded sample, the same
M, ef_construction and query ef as algorithms.yaml's stream: section), inserting them in row
order, in a random order, largest norm first (every coordinate from the final maximum: the
transform's geometry throughout, what the adapter does) and smallest norm first (every
coordinate zero: plain inner product throughout), with hnswlib beside it as the reference,
and prints each build's recall@10 on the first ``--queries`` queries against exact
inner-product search (numpy).

Nothing else may run on the machine meanwhile.
"""

from __future__ import annotations

import argparse
import time

import h5py
import numpy as np

from ann_bench import paths
from ann_bench.threads import set_threads


def exact_top(queries: np.ndarray, base: np.ndarray, k: int) -> np.ndarray:
    scores = queries @ base.T
    top = np.argpartition(-scores, k, axis=1)[:, :k]
    return np.take_along_axis(top, np.argsort(-np.take_along_axis(scores, top, 1), axis=1), 1)


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(np.intersect1d(f, t)) / len(t) for f, t in zip(found, truth)]))


def voyager(base: np.ndarray, order: np.ndarray, queries: np.ndarray, k: int, args) -> tuple[np.ndarray, float]:
    from voyager import Index, Space

    start = time.perf_counter()
    index = Index(Space.InnerProduct, num_dimensions=base.shape[1], M=args.M, ef_construction=args.ef_construction,
                  random_seed=1)
    index.add_items(base[order], ids=order, num_threads=args.threads)
    seconds = time.perf_counter() - start
    return index.query(queries, k=k, num_threads=1, query_ef=args.ef)[0].astype(np.int64), seconds


def hnswlib_ip(base: np.ndarray, queries: np.ndarray, k: int, args) -> tuple[np.ndarray, float]:
    import hnswlib

    start = time.perf_counter()
    index = hnswlib.Index(space="ip", dim=base.shape[1])
    index.init_index(max_elements=len(base), M=args.M, ef_construction=args.ef_construction, random_seed=1)
    index.set_num_threads(args.threads)
    index.add_items(base, np.arange(len(base)))
    seconds = time.perf_counter() - start
    index.set_ef(args.ef)
    index.set_num_threads(1)
    return index.knn_query(queries, k=k)[0].astype(np.int64), seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workload", default="ml-latest-small.dot.u2i.ip.synthetic1M")
    ap.add_argument("--n", type=int, default=400_000, help="items sampled from the workload's base (all if fewer)")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--M", type=int, default=16)
    ap.add_argument("--ef-construction", type=int, default=100)
    ap.add_argument("--ef", type=int, default=40)
    ap.add_argument("--threads", type=int, default=2, help="build threads")
    args = ap.parse_args()
    set_threads(args.threads)
    k = 10
    with h5py.File(paths.find_workload(args.workload), "r") as f:
        base, queries = f["train"][()], f["test"][: args.queries]
        metric = f.attrs.get("distance", f.attrs.get("metric", ""))
    print(f"{args.workload} ({metric}): {len(base):,} items")
    rng = np.random.default_rng(0)
    if args.n < len(base):
        base = base[np.sort(rng.choice(len(base), args.n, replace=False))]
    truth = exact_top(queries, base, k)
    norms = np.linalg.norm(base, axis=1)
    print(f"{len(base):,} items sampled, {len(queries)} queries; M={args.M}, ef_construction={args.ef_construction}, "
          f"ef={args.ef}; norms {norms.min():.3g}..{norms.max():.3g}; correlation of norm with row: "
          f"{np.corrcoef(norms, np.arange(len(base)))[0, 1]:+.3f}")
    orders = {"row order": np.arange(len(base)), "random order": rng.permutation(len(base)),
              "decreasing norm": np.argsort(-norms, kind="stable"), "increasing norm": np.argsort(norms, kind="stable")}
    for name, order in orders.items():
        found, seconds = voyager(base, order, queries, k, args)
        print(f"voyager, {name:>16}: recall@10 {recall(found, truth):.3f}  (build {seconds:.0f} s)", flush=True)
    found, seconds = hnswlib_ip(base, queries, k, args)
    print(f"hnswlib, {'row order':>16}: recall@10 {recall(found, truth):.3f}  (build {seconds:.0f} s)")


if __name__ == "__main__":
    main()
