import warnings
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from ann_bench.data import TEST, TRAIN, VAL, PrepConfig, fetch, load, prepare
from ann_bench.data.preprocess import kcore
from ann_bench.data import store
from ann_bench.errors import ConfigError

from movielens_fixtures import variant_for, write_release, zip_release


@pytest.fixture
def ml(tmp_path):
    folder = write_release(tmp_path, "dat", n_users=80, n_items=50, per_user=20)
    return load(fetch(variant_for(zip_release(folder), "dat"), cache_dir=tmp_path / "c", source=folder))


def _raw(p):
    """Interactions with raw ids and timestamps, for checking invariants."""
    df = p.interactions.copy()
    df["user_id"] = p.users["user_id"].to_numpy()[df["user_idx"]]
    df["item_id"] = p.items["item_id"].to_numpy()[df["item_idx"]]
    return df


def test_kcore_leaves_only_dense_users_and_items():
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"user_id": rng.integers(0, 50, 400), "item_id": rng.zipf(1.6, 400) % 60})
    df = df.drop_duplicates()
    out = kcore(df, 4, 3)
    assert (out.groupby("user_id").size() >= 4).all() and (out.groupby("item_id").size() >= 3).all()
    assert len(out) < len(df)
    # a fixed point: filtering again changes nothing
    assert len(kcore(out, 4, 3)) == len(out)


@pytest.mark.parametrize("split", ["ratio", "loo"])
def test_per_user_split_has_no_leakage(ml, split):
    p = prepare(ml, PrepConfig(split=split))
    df = _raw(p)
    assert (df["rating"] >= 4.0).all()
    assert not df.duplicated(["user_id", "item_id"]).any(), "an interaction sits in two splits"
    last_train = df[df.split == TRAIN].groupby("user_id")["timestamp"].max()
    for code in (VAL, TEST):
        first = df[df.split == code].groupby("user_id")["timestamp"].min()
        assert (first >= last_train.reindex(first.index)).all(), "a held-out positive precedes its user's train cutoff"
    first_test = df[df.split == TEST].groupby("user_id")["timestamp"].min()
    last_val = df[df.split == VAL].groupby("user_id")["timestamp"].max()
    assert (first_test.reindex(last_val.index) >= last_val).all()
    # every user is evaluated and keeps training data
    assert set(df[df.split == TEST].user_id) == set(df.user_id) == set(df[df.split == TRAIN].user_id)
    if split == "loo":
        assert (df[df.split == TEST].groupby("user_id").size() == 1).all()


def test_ratio_split_proportions(ml):
    p = prepare(ml, PrepConfig(split="ratio", val_frac=0.1, test_frac=0.2))
    sizes = p.interactions.groupby(["user_idx", "split"]).size().unstack(fill_value=0)
    n = sizes.sum(axis=1)
    assert (sizes[TEST] == np.maximum(1, np.floor(0.2 * n + 0.5))).all()


def test_time_split_cutoffs_and_cold_counts(ml):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        p = prepare(ml, PrepConfig(split="time"))
    df = _raw(p)
    val_start = pd.Timestamp(p.summary["val_start"]).timestamp()
    test_start = pd.Timestamp(p.summary["test_start"]).timestamp()
    assert (df[df.split == TRAIN].timestamp < val_start).all()
    assert (df[df.split == TEST].timestamp >= test_start).all()
    assert any("only" in str(w.message) and "test users" in str(w.message) for w in caught)
    # users first seen after the cutoff are counted, not dropped
    assert p.summary["splits"]["test"]["cold_users"] > 0
    assert p.summary["splits"]["test"]["users"] == df[df.split == TEST].user_id.nunique()


def test_catalog_keeps_filtered_movies(ml):
    p = prepare(ml, PrepConfig(item_core=15))
    assert p.n_items == len(ml.movies)
    assert 0 < p.items["in_core"].sum() < p.n_items
    assert p.items.loc[p.interactions["item_idx"].unique(), "in_core"].all()


def test_items_carry_when_they_were_first_and_last_rated(ml):
    # a movie nobody rated, and low ratings that the positive threshold drops: times count every rating
    movies = pd.concat([ml.movies, ml.movies.iloc[:1].assign(item_id=9_999, title="Unrated (2001)")], ignore_index=True)
    ratings = ml.ratings.copy()
    ratings.loc[0, "rating"] = 0.5
    p = prepare(replace(ml, movies=movies, ratings=ratings), PrepConfig(min_rating=4.0))
    items = p.items.set_index("item_id")
    for item_id in items.index:
        ts = [int(t) for i, t in zip(ratings["item_id"], ratings["timestamp"]) if i == item_id]
        row = items.loc[item_id]
        assert (row["first_rated"], row["last_rated"], row["n_ratings"]) == ((min(ts), max(ts), len(ts)) if ts else (-1, -1, 0))
    assert items.loc[9_999, "n_ratings"] == 0 and (items["n_ratings"] > 0).sum() == len(items) - 1


def test_a_prepared_file_without_rating_times_is_prepared_again(tmp_path):
    folder = write_release(tmp_path / "src", "dat", n_users=80, n_items=50, per_user=20)
    variant = variant_for(zip_release(folder), "dat")
    args = dict(root=tmp_path / "prepared", cache_dir=tmp_path / "c", source=folder)
    p, path = store.load_or_prepare(variant, PrepConfig(), **args)
    old = replace(p, items=p.items.drop(columns=["first_rated", "last_rated", "n_ratings"]))
    store.save(old, path)  # as an earlier ann-bench wrote it
    again, _ = store.load_or_prepare(variant, PrepConfig(), **args)
    pd.testing.assert_frame_equal(again.items, p.items, check_dtype=False)
    assert "first_rated" in store.load(path).items


def test_deterministic_and_round_trips(ml, tmp_path):
    cfg = PrepConfig()
    a, b = prepare(ml, cfg), prepare(ml, cfg)
    pd.testing.assert_frame_equal(a.interactions, b.interactions)
    path = store.save(a, store.prepared_path(tmp_path, a.name, cfg))
    back = store.load(path)
    pd.testing.assert_frame_equal(back.interactions, a.interactions)
    pd.testing.assert_frame_equal(back.items, a.items, check_dtype=False)
    assert back.summary == a.summary and back.config == cfg
    assert cfg.tag() != PrepConfig(min_rating=3.5).tag()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"split": "random"}, "split 'random'"),
        ({"val_frac": 0.6, "test_frac": 0.5}, "sum to less than 1"),
        ({"split": "time", "val_start": "yesterday"}, "not a date"),
        ({"val_start": "2000-01-01"}, "only apply to --split time"),
    ],
)
def test_bad_config_is_a_clear_error(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        PrepConfig(**kwargs)


def test_real_ml_latest_small_split(shared_movielens, tmp_path):
    from ann_bench.data import get_variant

    ml = load(fetch(get_variant("ml-latest-small"), cache_dir=tmp_path, source=shared_movielens / "ml-latest-small"))
    p = prepare(ml, PrepConfig())
    s = p.summary["splits"]
    assert s["test"]["users"] == s["train"]["users"] == p.n_users
    assert s["train"]["interactions"] > s["test"]["interactions"] > s["val"]["interactions"] > 0
