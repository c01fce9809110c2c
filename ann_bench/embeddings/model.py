"""The two-tower model: an item tower over ids and content, a user tower over ids and history.

Item ids seen fewer than once in training share an "unknown" row (index 0), and ids are
dropped at random during training, so the content path (genres, year, title words) learns
to stand on its own for cold and filtered-out movies.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import nn

from .config import TowerConfig
from .features import ItemFeatures, UserFeatures


def _mlp(d_in: int, cfg: TowerConfig) -> nn.Sequential:
    out = cfg.dim - 1 if cfg.item_bias else cfg.dim  # dot model: one coordinate left for the bias
    return nn.Sequential(nn.Dropout(cfg.dropout), nn.Linear(d_in, cfg.hidden), nn.GELU(), nn.Linear(cfg.hidden, out))


def _output(out: torch.Tensor, cfg: TowerConfig, last: torch.Tensor | None) -> torch.Tensor:
    """The exported vector: unit-length when ``cfg.normalize``, then ``last`` appended (the dot
    model: 1 for a user, the learned bias for an item)."""
    out = F.normalize(out, dim=1) if cfg.normalize else out
    return torch.cat([out, last], dim=1) if last is not None else out


def _id_index(ids: torch.Tensor, known: torch.Tensor, drop: float, training: bool) -> torch.Tensor:
    """Row in the id table: id + 1 for known ids, 0 (unknown) otherwise or when dropped."""
    idx = torch.where(known[ids], ids + 1, torch.zeros_like(ids))
    if training and drop > 0:
        idx = torch.where(torch.rand(idx.shape, device=idx.device) < drop, torch.zeros_like(idx), idx)
    return idx


class ItemTower(nn.Module):
    def __init__(self, feats: ItemFeatures, n_items: int, cfg: TowerConfig):
        super().__init__()
        self.cfg = cfg
        self.ids = nn.Embedding(n_items + 1, cfg.id_dim)
        self.genres = nn.EmbeddingBag(feats.n_genres, cfg.feature_dim, mode="mean", padding_idx=0)
        self.years = nn.Embedding(feats.n_year_buckets, cfg.feature_dim)
        d_in = cfg.id_dim + 2 * cfg.feature_dim
        if cfg.title_words:
            self.words = nn.EmbeddingBag(feats.n_words, cfg.feature_dim, mode="mean", padding_idx=0)
            d_in += cfg.feature_dim
        self.mlp = _mlp(d_in, cfg)
        self.bias = nn.Linear(d_in, 1) if cfg.item_bias else None  # from ids and content: cold items get one too
        self.register_buffer("known", torch.zeros(n_items, dtype=torch.bool))
        # the features move with the model (.to(device)) but are not saved with its weights
        self.register_buffer("genre_ids", feats.genres, persistent=False)
        self.register_buffer("word_ids", feats.words, persistent=False)
        self.register_buffer("year_ids", feats.year_bucket, persistent=False)

    def forward(self, items: torch.Tensor) -> torch.Tensor:
        parts = [
            self.ids(_id_index(items, self.known, self.cfg.id_dropout, self.training)),
            self.genres(self.genre_ids[items]),
            self.years(self.year_ids[items]),
        ]
        if self.cfg.title_words:
            parts.append(self.words(self.word_ids[items]))
        x = torch.cat(parts, dim=1)
        return _output(self.mlp(x), self.cfg, self.bias(x) if self.bias is not None else None)


class UserTower(nn.Module):
    def __init__(self, feats: UserFeatures, n_users: int, n_items: int, cfg: TowerConfig):
        super().__init__()
        self.cfg = cfg
        self.ids = nn.Embedding(n_users + 1, cfg.id_dim)
        self.history = nn.EmbeddingBag(n_items, cfg.id_dim, mode="sum")
        self.demo = nn.ModuleDict({k: nn.Embedding(n, cfg.feature_dim) for k, n in feats.sizes.items()})
        self.mlp = _mlp((1 + cfg.user_ids) * cfg.id_dim + cfg.feature_dim * len(feats.sizes), cfg)
        self.register_buffer("known", torch.zeros(n_users, dtype=torch.bool))
        for k, column in feats.columns.items():  # moved with the model, not saved with its weights
            self.register_buffer(f"demo_{k}", column, persistent=False)

    def forward(self, users: torch.Tensor, hist: sp.csr_matrix, exclude: torch.Tensor | None = None) -> torch.Tensor:
        """Embed ``users`` given their history rows ``hist`` (CSR over items).

        ``exclude``: during training, the target item of each row (a training positive, so
        always in its history), removed from the pooled history so the tower cannot just
        find the answer among its inputs.
        """
        dev = self.known.device
        rows = hist[users.cpu().numpy()]  # the histories stay a CSR matrix in host memory (users: on the host, best)
        users = users.to(dev)
        flat = torch.from_numpy(rows.indices.astype(np.int64)).to(dev)
        offsets = torch.from_numpy(rows.indptr[:-1].astype(np.int64)).to(dev)
        pooled = self.history(flat, offsets)
        count = torch.from_numpy(np.diff(rows.indptr)).float().to(dev)
        if exclude is not None:
            pooled = pooled - self.history(exclude[:, None])
            count = count - 1
        pooled = pooled / count.clamp(min=1)[:, None]
        parts = [pooled]
        if self.cfg.user_ids:
            parts.append(self.ids(_id_index(users, self.known, self.cfg.id_dropout, self.training)))
        parts += [self.demo[k](getattr(self, f"demo_{k}")[users]) for k in self.demo]
        out = self.mlp(torch.cat(parts, dim=1))
        return _output(out, self.cfg, torch.ones(len(out), 1, device=dev) if self.cfg.item_bias else None)


class TwoTower(nn.Module):
    def __init__(self, items: ItemFeatures, users: UserFeatures, n_users: int, n_items: int, cfg: TowerConfig):
        super().__init__()
        self.cfg = cfg
        self.item = ItemTower(items, n_items, cfg)
        self.user = UserTower(users, n_users, n_items, cfg)

    def mark_known(self, train: sp.csr_matrix) -> None:
        """Users and items with training interactions keep their own id rows."""
        self.user.known[:] = torch.from_numpy(np.diff(train.indptr) > 0).to(self.user.known.device)
        self.item.known[:] = torch.from_numpy(np.asarray(train.sum(axis=0)).ravel() > 0).to(self.item.known.device)

    @property
    def device(self) -> torch.device:
        return self.item.known.device

    @torch.no_grad()
    def embed_items(self, batch: int = 8192) -> np.ndarray:
        self.eval()
        n, dev = len(self.item.known), self.device
        return torch.cat([self.item(torch.arange(i, min(i + batch, n), device=dev)) for i in range(0, n, batch)]).cpu().numpy()

    @torch.no_grad()
    def embed_users(self, hist: sp.csr_matrix, batch: int = 8192) -> np.ndarray:
        self.eval()
        n = len(self.user.known)
        return torch.cat([self.user(torch.arange(i, min(i + batch, n)), hist) for i in range(0, n, batch)]).cpu().numpy()


