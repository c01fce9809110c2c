"""Tensors the towers read: item side features, user demographics and training histories.

Every movie in the catalog gets features, so the item tower can embed movies that have
few or no training interactions (they fall back on genres, year and title words).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from ..data import Prepared

YEAR_BUCKET = 5
_WORD = re.compile(r"[a-z0-9]+")
_STOP = {"the", "a", "an", "of", "and", "in", "to", "on", "for", "la", "le", "de", "ii", "s"}


def padded(lists: list[list[int]]) -> torch.Tensor:
    """Rows of ids padded with 0, for ``nn.EmbeddingBag(padding_idx=0)`` (padding is ignored)."""
    width = max(1, max((len(x) for x in lists), default=1))
    out = np.zeros((len(lists), width), dtype=np.int64)
    for i, row in enumerate(lists):
        out[i, : len(row)] = row
    return torch.from_numpy(out)


def _vocab_ids(values: list[list[str]], min_count: int = 1) -> tuple[list[list[int]], list[str]]:
    """Map token lists to ids (0 is padding, so an empty list still has one id)."""
    counts = Counter(t for row in values for t in row)
    vocab = ["<pad>"] + sorted(t for t, c in counts.items() if c >= min_count)
    index = {t: i for i, t in enumerate(vocab)}
    return [[index[t] for t in row if t in index] for row in values], vocab


def title_words(title: str) -> list[str]:
    title = re.sub(r"\(\d{4}[^)]*\)\s*$", "", title.lower())
    return [w for w in _WORD.findall(title) if w not in _STOP and not w.isdigit()]


@dataclass
class ItemFeatures:
    genres: torch.Tensor  # (n_items, max genres), 0-padded
    words: torch.Tensor  # (n_items, max title words), 0-padded
    year_bucket: torch.Tensor
    n_genres: int
    n_words: int
    n_year_buckets: int

    @classmethod
    def build(cls, items: pd.DataFrame) -> "ItemFeatures":
        genres, gv = _vocab_ids([g.split("|") if g else [] for g in items["genres"]])
        words, wv = _vocab_ids([title_words(t) for t in items["title"]], min_count=2)
        year = items["year"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        lo = np.nanmin(year) if np.isfinite(year).any() else 0
        bucket = np.where(np.isfinite(year), (np.nan_to_num(year) - lo) // YEAR_BUCKET + 1, 0).astype(np.int64)
        return cls(padded(genres), padded(words), torch.from_numpy(bucket), len(gv), len(wv), int(bucket.max()) + 1)


@dataclass
class UserFeatures:
    """Categorical demographics (gender, age bucket, occupation) or none; 0 means unknown."""

    columns: dict[str, torch.Tensor]
    sizes: dict[str, int]

    @classmethod
    def build(cls, users: pd.DataFrame) -> "UserFeatures":
        columns, sizes = {}, {}
        for col in ("gender", "age", "occupation"):
            if col not in users:
                continue
            values = users[col]
            if col == "age":
                values = pd.cut(pd.to_numeric(values, errors="coerce"), [0, 18, 25, 35, 45, 50, 56, 200], right=False).astype(str)
            codes, _ = pd.factorize(values.astype(str), sort=True)
            columns[col] = torch.from_numpy(codes.astype(np.int64) + 1)
            sizes[col] = int(codes.max()) + 2
        return cls(columns, sizes)
