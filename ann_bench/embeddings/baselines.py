"""Baselines on the same split and evaluation code path: popularity and implicit ALS.

Like the two-tower model, each is fit on train to predict validation and refit on train +
validation to predict test. ALS's factors, regularisation and confidence weight are chosen
on validation only.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import asdict, dataclass

import numpy as np
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from ..data import VAL, Prepared
from .evaluate import Scorer, dot_scorer, evaluate
from .interactions import history_matrix


def popularity_scorer(p: Prepared, split: int) -> Scorer:
    """Every user gets the same ranking: most positives known before ``split`` first."""
    known = p.interactions[p.interactions["split"] < split]
    counts = np.bincount(known["item_idx"], minlength=p.n_items).astype(np.float32)
    return lambda users: np.broadcast_to(counts, (len(users), len(counts)))


@dataclass(frozen=True)
class ALSConfig:
    factors: int = 64
    regularization: float = 0.05
    alpha: float = 10.0
    iterations: int = 15
    seed: int = 0


ALS_GRID = {"factors": [32, 64, 128, 256], "regularization": [1.0, 10.0, 50.0, 200.0], "alpha": [1.0, 5.0, 20.0, 50.0]}


def fit_als(p: Prepared, cfg: ALSConfig, threads: int, split: int = VAL):
    """ALS on the positives known before ``split`` (train for VAL, train + val for TEST).

    implicit parallelises with its own threads; BLAS is held to one thread meanwhile, as
    implicit asks (nested BLAS threads oversubscribe the cores).
    """
    from implicit.cpu.als import AlternatingLeastSquares

    model = AlternatingLeastSquares(
        factors=cfg.factors, regularization=cfg.regularization, alpha=cfg.alpha,
        iterations=cfg.iterations, random_state=cfg.seed, num_threads=threads,
    )
    with threadpool_limits(limits=1, user_api="blas"):
        model.fit(history_matrix(p, split), show_progress=False)
    return model


def als_scorer(p: Prepared, model, split: int) -> Scorer:
    """Scores for ``split`` with each user's factor solved from the history known before it."""
    hist = history_matrix(p, split)
    users = np.arange(p.n_users)
    with threadpool_limits(limits=1, user_api="blas"):
        factors = model.recalculate_user(users, hist)
    return dot_scorer(factors, model.item_factors)


def tune_als(p: Prepared, *, select_k: int = 50, threads: int = 1, grid: dict = ALS_GRID, seed: int = 0, progress: bool = True):
    """Grid search on validation Recall@select_k; returns (best config, trials, seconds).
    ``seed`` initialises every fit (the two-tower run's seed, so both vary together)."""
    trials, best = [], (-1.0, None, None)
    start = time.perf_counter()
    combos = list(itertools.product(*grid.values()))
    for values in tqdm(combos, desc="ALS grid", disable=not progress):
        cfg = ALSConfig(**dict(zip(grid, values)), seed=seed)
        model = fit_als(p, cfg, threads)
        score = evaluate(p, als_scorer(p, model, VAL), VAL, ks=(select_k,))[f"recall@{select_k}"]
        trials.append(asdict(cfg) | {f"val_recall@{select_k}": score})
        if score > best[0]:
            best = (score, cfg)
    return best[1], trials, time.perf_counter() - start


