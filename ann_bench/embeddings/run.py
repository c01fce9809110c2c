"""Train the two-tower model, evaluate it beside the baselines, and write its bundle."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, replace
from pathlib import Path

from ..data import TEST, VAL, Prepared
from .baselines import als_scorer, fit_als, popularity_scorer, tune_als
from .evaluate import PROTOCOL, dot_scorer, evaluate
from .interactions import history_matrix
from .kernels import pinned
from .store import save_bundle
from .config import TrainConfig, model_tag
from .train import embeddings, refit, select


def train_two_tower(p: Prepared, cfg: TrainConfig, temperatures: tuple[float, ...], *, progress: bool = True,
                    device: str = "cpu"):
    """Early-stopped runs over the temperature grid on ``device``; the best on validation is refit.

    Returns the chosen model, the grid's validation results, and the total seconds.
    """
    trials = [select(p, replace(cfg, temperature=t), progress=progress, device=device)
              for t in (temperatures or (cfg.temperature,))]
    best = max(trials, key=lambda t: t.best_val)
    final = refit(p, best, progress=progress, device=device) if cfg.refit else best
    grid = [
        {"temperature": t.config.temperature, "best_epoch": t.best_epoch, f"val_recall@{cfg.select_k}": t.best_val, "seconds": t.train_seconds}
        for t in trials
    ]
    seconds = sum(t.train_seconds for t in trials) + final.train_seconds - best.train_seconds
    return final, grid, seconds


def torch_device_kind(device: str) -> str:
    """'cuda' for any GPU ('cuda:1' trains the same model as 'cuda'), 'cpu' otherwise."""
    return device.split(":")[0]


# Bump when a code change alters the model trained from the same settings, so that an
# existing bundle from older code is not taken for the new one. Version 3 added the
# learning-rate schedule; without it (lr_plateau 0) training is version 2's, step for step.
TRAINING_VERSION = 3


def bundle_name(p: Prepared, cfg: TrainConfig, temperatures: tuple[float, ...], device: str = "cpu") -> str:
    key = asdict(cfg) | {"temperatures": list(temperatures), "training_version": TRAINING_VERSION}
    if device != "cpu":  # another device rounds otherwise: another model, in its own bundle
        key["device"] = torch_device_kind(device)
    # settings added later leave earlier bundles' names as they were when at their neutral value
    if not key["norm_penalty"]:
        del key["norm_penalty"]
    if not key["tower"]["item_bias"]:
        del key["tower"]["item_bias"]
    if not key["lr_plateau"]:  # no schedule: the same model as version 2 trained
        del key["lr_plateau"], key["lr_cut"]
        key["training_version"] = 2
    tag = hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:8]
    return f"{p.name}.{p.config.split}-{p.config.tag()}.tt-{tag}"


def train_and_evaluate(
    p: Prepared,
    prepared_file: Path,
    cfg: TrainConfig,
    out_root: Path,
    *,
    temperatures: tuple[float, ...] = (),
    baselines: bool = True,
    threads: int = 1,
    progress: bool = True,
    device: str = "cpu",
) -> tuple[Path, dict]:
    """Train, then evaluate two-tower, popularity and tuned ALS on validation and test.

    ``temperatures``: a grid for the two-tower softmax temperature, chosen on validation
    like ALS's hyperparameters (empty: just ``cfg.temperature``). ``device``: where the
    two-tower model trains (cpu, cuda, cuda:N); the baselines run on the CPU.
    """
    from .. import torch_search

    where = torch_search.facts(torch_search.device(device))  # a clear error before any work if it cannot be used
    if where["device"] == "cpu":
        where["pinned"] = pinned()  # the kernels' variables: the same on every machine only when pinned
    trained, grid, seconds = train_two_tower(p, cfg, temperatures, progress=progress, device=device)
    vectors = embeddings(p, trained)
    models = {
        "two-tower": {
            "val": evaluate(p, dot_scorer(trained.model.embed_users(history_matrix(p, VAL)), trained.model.embed_items()), VAL),
            "test": evaluate(p, dot_scorer(vectors["users"], vectors["items"]), TEST),
            "train_seconds": seconds,
            "final_train_seconds": trained.train_seconds,
            "best_epoch": trained.best_epoch,
            "config": asdict(trained.config),
            "grid": grid,
        }
    }
    if baselines:
        start = time.perf_counter()
        pop = {s: evaluate(p, popularity_scorer(p, s), s) for s in (VAL, TEST)}
        models["popularity"] = {"val": pop[VAL], "test": pop[TEST], "train_seconds": time.perf_counter() - start}
        als_cfg, trials, secs = tune_als(p, select_k=cfg.select_k, threads=threads, seed=cfg.seed, progress=progress)
        start = time.perf_counter()
        als = {s: fit_als(p, als_cfg, threads, s) for s in (VAL, TEST)}
        models["als"] = {
            "val": evaluate(p, als_scorer(p, als[VAL], VAL), VAL),
            "test": evaluate(p, als_scorer(p, als[TEST], TEST), TEST),
            "train_seconds": secs + time.perf_counter() - start,
            "config": asdict(als_cfg),
            "grid": trials,
        }
    report = {
        "dataset": p.name,
        "preprocessing": p.summary,
        "protocol": PROTOCOL,
        "training_version": TRAINING_VERSION,
        "threads": threads,
        "device": where,
        "history": trained.history,
        "models": models,
    }
    out = save_bundle(out_root / bundle_name(p, cfg, temperatures, device), p, prepared_file, trained, vectors, report)
    return out, report


def quality_table(reports: list[dict], ks: tuple[int, ...] = (10, 50)) -> str:
    """Markdown: one row per (dataset, seed, model) with test Recall/NDCG, the two-tower
    model's Recall@50 over ALS's of the same seed, and training time (including the
    hyperparameter search on validation, and the refit). Baselines trained with the same
    seed in several bundles are the same fit and shown once."""
    cols = [f"Recall@{k}" for k in ks] + [f"NDCG@{k}" for k in ks]
    lines = ["| dataset | seed | model | " + " | ".join(cols) + " | Recall@50 / ALS | cold share@10 | train time (s) |",
             "|" + "---|" * (len(cols) + 6)]
    order = {"two-tower": 0, "als": 1, "popularity": 2}
    rows: dict[tuple, str] = {}
    for r in reports:
        seed = r["models"].get("two-tower", {}).get("config", {}).get("seed", "")
        als = r["models"].get("als", {}).get("test", {}).get("recall@50")
        for model, m in r["models"].items():
            name = f"{model} ({model_tag(m['config'])})" if model == "two-tower" else model
            t = m["test"]
            vals = [t[f"recall@{k}"] for k in ks] + [t[f"ndcg@{k}"] for k in ks]
            cold = t.get("cold_share@10", float("nan"))
            ratio = f"{t['recall@50'] / als:.4f}x" if model == "two-tower" and als and "recall@50" in t else ""
            key = (r["dataset"], str(seed), order.get(model, 9), name)
            rows.setdefault(key, f"| {r['dataset']} | {seed} | {name} | " + " | ".join(f"{v:.4f}" for v in vals)
                            + f" | {ratio} | {cold:.3f} | {m['train_seconds']:.1f} |")
    return "\n".join(lines + [rows[k] for k in sorted(rows)])
