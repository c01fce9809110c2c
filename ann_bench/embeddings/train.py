"""Train the two-tower model with early stopping on validation recall."""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, replace

import numpy as np
import torch
from tqdm.auto import tqdm

from ..data import TEST, TRAIN, VAL, Prepared
from .evaluate import dot_scorer, evaluate
from .features import ItemFeatures, UserFeatures
from .interactions import history_matrix, interaction_matrix
from .loss import sampled_softmax_loss
from .config import TrainConfig
from .model import TwoTower


@dataclass
class Trained:
    model: TwoTower
    config: TrainConfig
    history: list[dict]
    best_epoch: int
    train_seconds: float
    final: TwoTower  # predicts test: ``model`` refit on train + validation, or ``model`` itself

    @property
    def best_val(self) -> float:
        return self.history[self.best_epoch][f"recall@{self.config.select_k}"]


class _Fitter:
    """A fresh model and optimiser on ``device``, and one-epoch passes over the positives of
    ``splits`` (batches drawn on the host by the same generator on every device)."""

    def __init__(self, p: Prepared, cfg: TrainConfig, splits: tuple[int, ...], device: str = "cpu"):
        torch.manual_seed(cfg.seed)
        self.rng = np.random.default_rng(cfg.seed)
        self.cfg, self.dev = cfg, torch.device(device)
        self.hist = interaction_matrix(p, splits)
        model = TwoTower(ItemFeatures.build(p.items), UserFeatures.build(p.users), p.n_users, p.n_items, cfg.tower)
        self.model = model.to(self.dev)
        self.model.mark_known(self.hist)
        df = p.interactions[p.interactions["split"].isin(splits)]
        self.users = torch.from_numpy(df["user_idx"].to_numpy().copy())
        self.items = torch.from_numpy(df["item_idx"].to_numpy().copy())
        self.batch = min(cfg.batch_size, len(df))
        self.n_items = p.n_items
        # logQ: an item's expected count among a batch's candidates, from both proposals (in-batch
        # positives, and uniform negatives over the whole catalog: the only way movies without
        # training interactions are ever scored as negatives, so they do not crowd every top-k)
        counts = np.bincount(df["item_idx"].to_numpy(), minlength=p.n_items).astype(np.float64)
        expected = self.batch * counts / counts.sum() + cfg.uniform_negatives / p.n_items
        self.log_q = torch.from_numpy(np.log(np.maximum(expected, 1e-12))).float().to(self.dev)
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)

    def set_lr(self, lr: float) -> None:
        for group in self.opt.param_groups:
            group["lr"] = lr

    def epoch(self, lr: float) -> float:
        """One shuffled pass in full batches (a fixed batch size keeps the logQ scale right)."""
        cfg, model = self.cfg, self.model
        self.set_lr(lr)
        model.train()
        order = torch.from_numpy(self.rng.permutation(len(self.users)))
        losses = []
        for s in range(0, len(order) - self.batch + 1, self.batch):
            idx = order[s : s + self.batch]
            u, i = self.users[idx], self.items[idx].to(self.dev)  # users stay on the host: their histories are read there
            neg = torch.from_numpy(self.rng.integers(0, self.n_items, cfg.uniform_negatives)).to(self.dev) if cfg.uniform_negatives else None
            users, items = model.user(u, self.hist, exclude=i), model.item(i)
            loss = sampled_softmax_loss(
                users,
                items,
                i,
                temperature=cfg.temperature,
                log_q=self.log_q[i] if cfg.logq else None,
                negatives=model.item(neg) if neg is not None else None,
                negative_ids=neg,
                negative_log_q=self.log_q[neg] if cfg.logq and neg is not None else None,
            )
            if cfg.norm_penalty:  # raw inner products: keep the norms from growing without bound
                loss = loss + cfg.norm_penalty * (users.pow(2).sum(1).mean() + items.pow(2).sum(1).mean())
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()
            losses.append(loss.item())
        return float(np.mean(losses))


def select(p: Prepared, cfg: TrainConfig, *, progress: bool = True, device: str = "cpu") -> Trained:
    """Fit on train positives and keep the epoch with the best validation Recall@select_k.

    The learning rate is cut (x ``lr_cut``) after every ``lr_plateau`` epochs without a better
    validation score; each epoch's rate is kept in the history, so that :func:`refit` replays it.
    Each history entry has its epoch's seconds (the training pass alone, not the validation).
    """
    fit = _Fitter(p, cfg, (TRAIN,), device)
    lr = cfg.lr
    val_hist = history_matrix(p, VAL)
    best, best_epoch, best_state, history, bad_epochs = -1.0, -1, None, [], 0
    key = f"recall@{cfg.select_k}"
    start = time.perf_counter()
    bar = tqdm(range(cfg.max_epochs), desc=f"train (T={cfg.temperature:g})", unit="epoch", disable=not progress)
    for epoch in bar:
        t0 = time.perf_counter()
        loss = fit.epoch(lr)
        epoch_s = time.perf_counter() - t0
        val = evaluate(p, dot_scorer(fit.model.embed_users(val_hist), fit.model.embed_items()), VAL, ks=(cfg.select_k,))
        history.append({"epoch": epoch, "loss": loss, key: val[key], "lr": lr, "epoch_s": epoch_s})
        bar.set_postfix(loss=f"{loss:.3f}", **{f"val_{key}": f"{val[key]:.4f}"})
        if val[key] > best:
            best, best_epoch, best_state, bad_epochs = val[key], epoch, copy.deepcopy(fit.model.state_dict()), 0
        else:
            bad_epochs += 1
            if bad_epochs >= cfg.patience:
                break
            if cfg.lr_plateau and bad_epochs % cfg.lr_plateau == 0:
                lr *= cfg.lr_cut
    bar.close()
    fit.model.load_state_dict(best_state)
    model = fit.model.cpu()  # what is saved and exported is a host model, whatever trained it
    return Trained(model, cfg, history, best_epoch, time.perf_counter() - start, model)


def refit(p: Prepared, selected: Trained, *, progress: bool = True, device: str = "cpu") -> Trained:
    """Train from scratch on train + validation for the selected number of epochs, each at the
    learning rate the selection run used.

    The refit model predicts test, as the ALS baseline is refit on train + validation.
    """
    start = time.perf_counter()
    fit = _Fitter(p, selected.config, (TRAIN, VAL), device)
    for epoch in tqdm(range(selected.best_epoch + 1), desc="refit on train+val", unit="epoch", disable=not progress):
        fit.epoch(selected.history[epoch]["lr"])
    return replace(selected, final=fit.model.cpu(), train_seconds=selected.train_seconds + time.perf_counter() - start)


def train(p: Prepared, cfg: TrainConfig = TrainConfig(), *, progress: bool = True, device: str = "cpu") -> Trained:
    """:func:`select` on validation, then :func:`refit` on train + validation if ``cfg.refit``."""
    selected = select(p, cfg, progress=progress, device=device)
    return refit(p, selected, progress=progress, device=device) if cfg.refit else selected


def embeddings(p: Prepared, trained: Trained) -> dict[str, np.ndarray]:
    """Test-time vectors: items, and users from their train + validation history."""
    model = trained.final
    return {"items": model.embed_items(), "users": model.embed_users(history_matrix(p, TEST))}
