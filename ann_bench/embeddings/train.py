"""Train the two-tower model with early stopping on validation recall."""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm

from ..data import TEST, TRAIN, VAL, Prepared
from ..errors import ConfigError
from .evaluate import KS, dot_scorer, evaluate
from .features import ItemFeatures, UserFeatures, history_matrix, interaction_matrix
from .loss import sampled_softmax_loss
from .model import TowerConfig, TwoTower


@dataclass(frozen=True)
class TrainConfig:
    tower: TowerConfig = field(default_factory=TowerConfig)
    max_epochs: int = 100
    batch_size: int = 1024
    lr: float = 3e-3
    weight_decay: float = 1e-4
    temperature: float = 0.05
    logq: bool = True
    uniform_negatives: int = 0
    patience: int = 5
    select_k: int = 50
    seed: int = 0

    def __post_init__(self) -> None:
        checks = {
            "max_epochs": self.max_epochs >= 1,
            "batch_size": self.batch_size >= 2,
            "lr": self.lr > 0,
            "temperature": self.temperature > 0,
            "uniform_negatives": self.uniform_negatives >= 0,
            "patience": self.patience >= 1,
            "select_k": self.select_k in KS,
            "tower.dim": self.tower.dim >= 1,
        }
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            raise ConfigError(f"invalid training setting(s): {', '.join(bad)} (select_k must be one of {KS}).")


@dataclass
class Trained:
    model: TwoTower
    config: TrainConfig
    history: list[dict]
    best_epoch: int
    train_seconds: float


def build_model(p: Prepared, cfg: TrainConfig) -> TwoTower:
    model = TwoTower(ItemFeatures.build(p.items), UserFeatures.build(p.users), p.n_users, p.n_items, cfg.tower)
    model.mark_known(interaction_matrix(p, (TRAIN,)))
    return model


def train(p: Prepared, cfg: TrainConfig = TrainConfig(), *, progress: bool = True) -> Trained:
    """Fit on train positives; keep the epoch with the best validation Recall@select_k."""
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    model = build_model(p, cfg)
    tr = p.split(TRAIN)
    users_all = torch.from_numpy(tr["user_idx"].to_numpy().copy())
    items_all = torch.from_numpy(tr["item_idx"].to_numpy().copy())
    train_hist = interaction_matrix(p, (TRAIN,))
    counts = np.bincount(tr["item_idx"].to_numpy(), minlength=p.n_items).astype(np.float64)
    batch = min(cfg.batch_size, len(tr))
    log_expected = torch.from_numpy(np.log(np.maximum(batch * counts / counts.sum(), 1e-12))).float()
    core = np.flatnonzero(p.items["in_core"].to_numpy())
    neg_log_expected = float(np.log(cfg.uniform_negatives / len(core))) if cfg.uniform_negatives else 0.0
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    val_hist = history_matrix(p, VAL)

    best, best_epoch, best_state, history, bad_epochs = -1.0, -1, None, [], 0
    key = f"recall@{cfg.select_k}"
    start = time.perf_counter()
    bar = tqdm(range(cfg.max_epochs), desc="train", unit="epoch", disable=not progress)
    for epoch in bar:
        model.train()
        order = torch.from_numpy(rng.permutation(len(tr)))
        losses = []
        for s in range(0, len(order) - batch + 1, batch):  # full batches only: a fixed logQ scale
            idx = order[s : s + batch]
            u, i = users_all[idx], items_all[idx]
            neg_ids = torch.from_numpy(rng.choice(core, cfg.uniform_negatives)) if cfg.uniform_negatives else None
            loss = sampled_softmax_loss(
                model.user(u, train_hist, exclude=i),
                model.item(i),
                i,
                temperature=cfg.temperature,
                log_expected=log_expected[i] if cfg.logq else None,
                negatives=model.item(neg_ids) if neg_ids is not None else None,
                negative_ids=neg_ids,
                negative_log_expected=neg_log_expected,
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        val = evaluate(p, dot_scorer(model.embed_users(val_hist), model.embed_items()), VAL, ks=(cfg.select_k,))
        history.append({"epoch": epoch, "loss": float(np.mean(losses)), key: val[key]})
        bar.set_postfix(loss=f"{np.mean(losses):.3f}", **{f"val_{key}": f"{val[key]:.4f}"})
        if val[key] > best:
            best, best_epoch, best_state, bad_epochs = val[key], epoch, copy.deepcopy(model.state_dict()), 0
        else:
            bad_epochs += 1
            if bad_epochs >= cfg.patience:
                break
    bar.close()
    model.load_state_dict(best_state)
    return Trained(model, cfg, history, best_epoch, time.perf_counter() - start)


def embeddings(p: Prepared, model: TwoTower) -> dict[str, np.ndarray]:
    """Item vectors and test-time user vectors (history = train + validation)."""
    return {"items": model.embed_items(), "users": model.embed_users(history_matrix(p, TEST))}
