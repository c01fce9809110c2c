"""Turn ratings into implicit-feedback splits: threshold, k-core, temporal split.

Deterministic: ties in time are broken by item id, and the configuration is recorded with
the output (its hash names the file), so the same inputs always give the same split.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from ..errors import ConfigError
from .parse import MovieLens

TRAIN, VAL, TEST = 0, 1, 2
SPLIT_NAMES = ("train", "val", "test")
SPLITS = ("ratio", "loo", "time")
FEW_TEST_USERS = 100


@dataclass(frozen=True)
class PrepConfig:
    """How ratings become train/validation/test positives.

    ``split``: ``ratio`` (per user, by time: the last ``test_frac`` of each user's positives
    are test, the ``val_frac`` before them validation), ``loo`` (last one test, the one
    before validation) or ``time`` (global cutoffs; ISO dates, default the 80%/90% time
    quantiles of the positives).
    """

    min_rating: float = 4.0
    user_core: int = 5
    item_core: int = 5
    split: str = "ratio"
    val_frac: float = 0.1
    test_frac: float = 0.2
    val_start: str | None = None
    test_start: str | None = None

    def __post_init__(self) -> None:
        if self.split not in SPLITS:
            raise ConfigError(f"split '{self.split}' is not one of {', '.join(SPLITS)}.")
        if self.user_core < 1 or self.item_core < 1:
            raise ConfigError("user_core and item_core must be >= 1.")
        if not (0 < self.val_frac < 1 and 0 < self.test_frac < 1 and self.val_frac + self.test_frac < 1):
            raise ConfigError("val_frac and test_frac must be in (0, 1) and sum to less than 1.")
        for name in ("val_start", "test_start"):
            value = getattr(self, name)
            if value is not None:
                try:
                    pd.Timestamp(value)
                except ValueError:
                    raise ConfigError(f"{name} '{value}' is not a date (use YYYY-MM-DD).") from None
        if self.split != "time" and (self.val_start or self.test_start):
            raise ConfigError("val_start/test_start only apply to --split time.")

    def tag(self) -> str:
        """A short stable hash of the configuration, used to name its output."""
        return hashlib.sha1(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:8]


@dataclass
class Prepared:
    """A split ready for training: dense indexes over the whole movie catalog.

    ``items`` is the whole catalog (every movie, rated or not) so that every movie gets an
    embedding; ``items.in_core`` marks those that survived the k-core filter, which are the
    candidates in recommendation-quality evaluation. ``first_rated`` and ``last_rated`` (unix
    seconds, -1 for a movie nobody rated) and ``n_ratings`` count every rating of the release,
    before any filter: when each movie entered and left the catalog people used.
    """

    name: str
    config: PrepConfig
    interactions: pd.DataFrame  # user_idx, item_idx, timestamp, rating, split
    items: pd.DataFrame  # item_id, title, year, genres, in_core, first_rated, last_rated, n_ratings
    users: pd.DataFrame  # user_id (+ gender, age, occupation where known)
    summary: dict = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)

    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_items(self) -> int:
        return len(self.items)

    def split(self, which: int) -> pd.DataFrame:
        return self.interactions[self.interactions["split"] == which]


def kcore(df: pd.DataFrame, user_core: int, item_core: int) -> pd.DataFrame:
    """Iteratively drop users and items with too few interactions until none are left."""
    while True:
        u = df.groupby("user_id")["item_id"].transform("size")
        i = df.groupby("item_id")["user_id"].transform("size")
        keep = (u >= user_core) & (i >= item_core)
        if keep.all():
            return df
        df = df[keep]


def _per_user_split(df: pd.DataFrame, cfg: PrepConfig) -> np.ndarray:
    """Split code per row of ``df`` (sorted by user, time, item)."""
    rank = df.groupby("user_id").cumcount().to_numpy()
    n = df.groupby("user_id")["item_id"].transform("size").to_numpy()
    if cfg.split == "loo":
        n_test = np.ones_like(n)
        n_val = np.ones_like(n)
    else:
        n_test = np.maximum(1, np.floor(cfg.test_frac * n + 0.5)).astype(np.int64)
        n_val = np.maximum(1, np.floor(cfg.val_frac * n + 0.5)).astype(np.int64)
    n_test = np.minimum(n_test, n - 1)  # every user keeps at least one training positive
    n_val = np.clip(np.minimum(n_val, n - 1 - n_test), 0, None)
    split = np.full(len(df), TRAIN, dtype=np.int8)
    split[rank >= n - n_test - n_val] = VAL
    split[rank >= n - n_test] = TEST
    return split


def _time_split(df: pd.DataFrame, cfg: PrepConfig) -> tuple[np.ndarray, dict]:
    ts = df["timestamp"].to_numpy()
    val_start = int(pd.Timestamp(cfg.val_start).timestamp()) if cfg.val_start else int(np.quantile(ts, 0.8))
    test_start = int(pd.Timestamp(cfg.test_start).timestamp()) if cfg.test_start else int(np.quantile(ts, 0.9))
    if test_start < val_start:
        raise ConfigError("test_start must not be before val_start.")
    split = np.where(ts >= test_start, TEST, np.where(ts >= val_start, VAL, TRAIN)).astype(np.int8)
    cut = {"val_start": pd.Timestamp(val_start, unit="s").isoformat(), "test_start": pd.Timestamp(test_start, unit="s").isoformat()}
    return split, cut


RATING_TIMES = ("first_rated", "last_rated", "n_ratings")


def rating_times(ratings: pd.DataFrame) -> pd.DataFrame:
    """Per item id: its first and last rating's timestamp and its number of ratings (all ratings)."""
    g = ratings.groupby("item_id")["timestamp"]
    return pd.DataFrame({"first_rated": g.min(), "last_rated": g.max(), "n_ratings": g.size()}).astype(np.int64)


def prepare(ml: MovieLens, cfg: PrepConfig) -> Prepared:
    """Threshold, k-core and split one parsed release."""
    pos = ml.ratings[ml.ratings["rating"] >= cfg.min_rating]
    pos = pos.drop_duplicates(["user_id", "item_id"], keep="last")
    core = kcore(pos, cfg.user_core, cfg.item_core)
    if core.empty:
        raise ConfigError(
            f"no interactions left after rating >= {cfg.min_rating} and {cfg.user_core}/{cfg.item_core}-core "
            f"filtering; lower --min-rating or the core sizes."
        )
    core = core.sort_values(["user_id", "timestamp", "item_id"], kind="stable").reset_index(drop=True)
    extra: dict = {}
    if cfg.split == "time":
        split, extra = _time_split(core, cfg)
    else:
        split = _per_user_split(core, cfg)

    items = ml.movies.sort_values("item_id").reset_index(drop=True)
    items["in_core"] = items["item_id"].isin(core["item_id"].unique())
    times = rating_times(ml.ratings).reindex(items["item_id"].to_numpy())
    for col in RATING_TIMES:  # a movie nobody rated: -1, -1 and 0
        items[col] = times[col].fillna(0 if col == "n_ratings" else -1).to_numpy(dtype=np.int64)
    item_idx = pd.Index(items["item_id"])
    user_ids = np.sort(core["user_id"].unique())
    users = pd.DataFrame({"user_id": user_ids})
    if ml.users is not None:
        users = users.merge(ml.users, on="user_id", how="left")
    inter = pd.DataFrame(
        {
            "user_idx": np.searchsorted(user_ids, core["user_id"].to_numpy()).astype(np.int64),
            "item_idx": item_idx.get_indexer(core["item_id"]).astype(np.int64),
            "timestamp": core["timestamp"].to_numpy(),
            "rating": core["rating"].to_numpy(),
            "split": split,
        }
    )
    out = Prepared(ml.name, cfg, inter, items, users, provenance=dict(ml.provenance))
    out.summary = summarize(out) | extra
    warn_if_few_test_users(out)
    return out


def warn_if_few_test_users(p: Prepared) -> None:
    test_users = p.summary["splits"]["test"]["users"]
    if p.config.split == "time" and test_users < FEW_TEST_USERS:
        warnings.warn(
            f"{p.name}: the global time cutoff leaves only {test_users} test users; metrics will be "
            f"noisy. --split ratio evaluates every user and suits small variants better.",
            stacklevel=2,
        )


def summarize(p: Prepared) -> dict:
    """Users, items, interactions per split, and how many are cold (absent from train)."""
    train = p.split(TRAIN)
    train_users = set(train["user_idx"].unique())
    train_items = set(train["item_idx"].unique())
    splits = {}
    for code, name in enumerate(SPLIT_NAMES):
        s = p.split(code)
        u, i = s["user_idx"].unique(), s["item_idx"].unique()
        splits[name] = {
            "users": int(len(u)),
            "items": int(len(i)),
            "interactions": int(len(s)),
            "cold_users": int(sum(x not in train_users for x in u)),
            "cold_items": int(sum(x not in train_items for x in i)),
            "cold_item_interactions": int((~s["item_idx"].isin(train_items)).sum()),
        }
    return {
        "config": asdict(p.config),
        "catalog_items": p.n_items,
        "core_items": int(p.items["in_core"].sum()),
        "users": p.n_users,
        "splits": splits,
    }


def summary_table(summary: dict) -> str:
    """The per-split summary as a small aligned text table."""
    rows = [("split", "users", "items", "interactions", "cold users", "cold items")]
    for name in SPLIT_NAMES:
        s = summary["splits"][name]
        rows.append((name, s["users"], s["items"], s["interactions"], s["cold_users"], s["cold_items"]))
    widths = [max(len(str(r[c])) for r in rows) for c in range(len(rows[0]))]
    lines = ["  ".join(str(v).rjust(w) for v, w in zip(r, widths)) for r in rows]
    lines.append(f"catalog: {summary['catalog_items']} movies, {summary['core_items']} after k-core")
    return "\n".join(lines)
