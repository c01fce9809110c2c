"""A catalog sample of a workload: a seeded random subset of its items, the same queries, and
the exact ground truth recomputed on the subset.

A build on a sample costs a fraction of a full one, so several build configurations can be
ranked on it before the full catalog is built once (the tuner's screening,
:mod:`ann_bench.tune.screen`). Only what a k-NN search needs is kept: the base, the queries,
each item-to-item query's own row (remapped; -1 where its item was left out) and the ground
truth at the workload's depth. The filtered search's seen and relevant items are left out.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from .format import Workload
from .groundtruth import exact_knn


def catalog_sample(w: Workload, n: int, *, seed: int = 0, threads: int | None = None) -> Workload:
    """``n`` of ``w``'s items drawn without replacement (kept in their order), its queries, and
    exact top-k ground truth on them at ``w``'s depth."""
    total = len(w.train)
    if not 0 < n <= total:
        raise ConfigError(f"{w.name}: a catalog sample needs 1 to {total:,} items, not {n:,}.")
    rows = np.sort(np.random.default_rng(seed).choice(total, size=n, replace=False))
    new_row = np.full(total, -1, dtype=np.int64)
    new_row[rows] = np.arange(n)
    self_ids = None
    if w.self_ids is not None:
        own = np.asarray(w.self_ids, dtype=np.int64)
        self_ids = np.where(own >= 0, new_row[np.maximum(own, 0)], -1).astype(np.int32)
    train = np.ascontiguousarray(w.train[rows], dtype=np.float32)
    depth = min(w.neighbors.shape[1], n - (self_ids is not None))
    ids, dist = exact_knn(w.test, train, depth, w.metric, exclude=self_ids, threads=threads)
    attrs = w.attrs | {"sample_of": w.name, "sample_of_hash": w.content_hash(), "sample_items": int(n), "sample_seed": int(seed)}
    return Workload(f"{w.name}.sample{n}", w.metric, train, np.asarray(w.test, dtype=np.float32), ids, dist,
                    item_ids=None if w.item_ids is None else w.item_ids[rows], query_ids=w.query_ids, self_ids=self_ids,
                    attrs=attrs)
