"""Exact answers over the live catalog, and recall against them."""

from __future__ import annotations

import numpy as np

from ..workloads.groundtruth import exact_knn


def live_knn(queries: np.ndarray, base: np.ndarray, live: np.ndarray, k: int, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-``k`` of each query among the rows ``live`` of ``base``: ids (as rows of ``base``,
    -1 past the live count) and distances."""
    ids, dist = exact_knn(queries, base[live], k, metric)
    out = np.full((len(queries), k), -1, np.int64)
    out[:, : ids.shape[1]] = live[ids]
    return out, dist


def live_recall(found: list, truth: np.ndarray) -> float:
    """Mean share of each query's exact live top-k (``truth``, -1 padded) among the first k ids
    the index returned (``found``: rows of the base per query). A retired item is in no exact
    live answer, so returning one costs a hit like any other wrong answer."""
    k = truth.shape[1]
    hits = [len(np.intersect1d(np.asarray(got, np.int64)[:k], want[want >= 0])) / max((want >= 0).sum(), 1)
            for got, want in zip(found, truth)]
    return float(np.mean(hits)) if hits else float("nan")


def every_step(queries: np.ndarray, base: np.ndarray, replay, k: int, metric: str, progress: bool = False) -> np.ndarray:
    """The exact live top-``k`` of each query at the start and after every batch of ``replay``:
    (batches + 1, queries, k) rows of ``base``, -1 padded."""
    from tqdm.auto import tqdm

    steps = range(-1, len(replay.ends))
    out = np.full((len(steps), len(queries), k), -1, np.int64)
    for s in tqdm(steps, desc="exact answers over the live catalog", unit="step", disable=not progress):
        out[s + 1] = live_knn(queries, base, replay.live_after(s), k, metric)[0]
    return out
