import math
from dataclasses import asdict, replace

import numpy as np
import pytest
import torch

from ann_bench.data import TEST, VAL, PrepConfig, fetch, load, prepare
from ann_bench.embeddings.baselines import ALSConfig, als_scorer, fit_als, popularity_scorer
from ann_bench.embeddings.evaluate import dot_scorer, evaluate
from ann_bench.embeddings.loss import sampled_softmax_loss
from ann_bench.embeddings.config import MODELS, TowerConfig
from ann_bench.embeddings.config import TrainConfig
from ann_bench.embeddings.train import embeddings, train
from ann_bench.errors import ConfigError

from movielens_fixtures import prepared  # noqa: F401  (a pytest fixture)


def test_loss_masks_duplicate_positives_and_applies_logq():
    users = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    items = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    ids = torch.tensor([7, 8, 7])  # rows 0 and 2 share a positive: not each other's negative
    loss = sampled_softmax_loss(users, items, ids, temperature=1.0)
    # row 0: logits [1, 0, masked] -> -log(e/(e+1)); row 1: [0, 1, 0] -> -log(e/(e+2)); row 2 like row 0
    expected = (2 * -math.log(math.e / (math.e + 1)) - math.log(math.e / (math.e + 2))) / 3
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    # logQ: subtracting log expected counts changes the loss exactly as computed by hand
    log_q = torch.log(torch.tensor([2.0, 1.0, 2.0]))
    corrected = sampled_softmax_loss(users, items, ids, temperature=1.0, log_q=log_q)
    r0 = -(1 - math.log(2)) + math.log(math.exp(1 - math.log(2)) + math.exp(0))
    r1 = -1 + math.log(math.exp(-math.log(2)) + math.e + math.exp(-math.log(2)))
    assert corrected.item() == pytest.approx((2 * r0 + r1) / 3, rel=1e-6)


def test_loss_corrects_extra_negatives_and_masks_the_positive_among_them():
    users, items, ids = torch.tensor([[1.0, 0.0]]), torch.tensor([[1.0, 0.0]]), torch.tensor([7])
    negatives, negative_ids = torch.tensor([[0.0, 1.0], [1.0, 0.0]]), torch.tensor([8, 7])
    loss = sampled_softmax_loss(
        users, items, ids, temperature=0.5,
        log_q=torch.log(torch.tensor([2.0])),
        negatives=negatives, negative_ids=negative_ids,
        negative_log_q=torch.log(torch.tensor([4.0, 2.0])),
    )
    # logits: positive 1/0.5 - log 2; item 8: 0 - log 4; item 7 again among the negatives: masked
    pos, other = 2 - math.log(2), -math.log(4)
    assert loss.item() == pytest.approx(-pos + math.log(math.exp(pos) + math.exp(other)), rel=1e-6)


def test_logq_counts_both_proposals(prepared):
    from ann_bench.data import TRAIN
    from ann_bench.embeddings.train import _Fitter

    cfg = TrainConfig(tower=TowerConfig(dim=8, hidden=32), batch_size=64, uniform_negatives=30)
    fit = _Fitter(prepared, cfg, (TRAIN,))
    train_items = prepared.interactions.loc[prepared.interactions["split"] == TRAIN, "item_idx"]
    counts = np.bincount(train_items, minlength=prepared.n_items)
    expected = 64 * counts / counts.sum() + 30 / prepared.n_items
    np.testing.assert_allclose(fit.log_q.numpy(), np.log(expected), rtol=1e-5)


def test_training_loss_decreases_and_beats_popularity(prepared):
    cfg = TrainConfig(tower=TowerConfig(dim=16, hidden=64, **MODELS["cos"]), max_epochs=15, batch_size=256, patience=15, temperature=0.2)
    trained = train(prepared, cfg, progress=False)
    losses = [h["loss"] for h in trained.history]
    assert losses[-1] < 0.9 * losses[0], losses  # the floor is high: 60 items, many in-batch duplicates
    vec = embeddings(prepared, trained)
    assert vec["items"].shape == (prepared.n_items, 16) and vec["users"].shape == (prepared.n_users, 16)
    assert np.allclose(np.linalg.norm(vec["items"], axis=1), 1, atol=1e-5)
    tt = evaluate(prepared, dot_scorer(vec["users"], vec["items"]), TEST, ks=(10,))
    pop = evaluate(prepared, popularity_scorer(prepared, TEST), TEST, ks=(10,))
    assert tt["recall@10"] > pop["recall@10"], (tt, pop)


def test_the_dot_model_scores_cosine_plus_an_item_bias_by_raw_inner_product(prepared):
    cfg = TrainConfig(tower=TowerConfig(dim=8, hidden=32), max_epochs=3, batch_size=256, patience=3, refit=False)
    vec = embeddings(prepared, train(prepared, cfg, progress=False))
    items, users = vec["items"], vec["users"]
    assert items.shape[1] == users.shape[1] == 8
    np.testing.assert_allclose(np.linalg.norm(items[:, :7], axis=1), 1, atol=1e-5)  # directions
    np.testing.assert_allclose(np.linalg.norm(users[:, :7], axis=1), 1, atol=1e-5)
    assert (users[:, 7] == 1).all() and items[:, 7].std() > 0  # the bias coordinate
    norms = np.linalg.norm(items, axis=1)
    assert norms.std() > 0, "item norms carry the bias"
    # the raw inner product is cosine + bias, and ranks differently from cosine
    ip = users @ items.T
    np.testing.assert_allclose(ip, users[:, :7] @ items[:, :7].T + items[None, :, 7], rtol=1e-5, atol=1e-5)
    cos = ip / (np.linalg.norm(users, axis=1)[:, None] * norms[None, :])
    assert (np.argsort(-ip, axis=1)[:, :10] != np.argsort(-cos, axis=1)[:, :10]).any()


def test_the_raw_model_has_free_norms_and_the_norm_penalty_shrinks_them(prepared):
    cfg = TrainConfig(tower=TowerConfig(dim=8, hidden=32, **MODELS["raw"]), max_epochs=4, batch_size=256, patience=4,
                      refit=False)
    norms = {}
    for penalty in (0.0, 0.5):
        vec = embeddings(prepared, train(prepared, replace(cfg, norm_penalty=penalty), progress=False))
        norms[penalty] = np.linalg.norm(vec["items"], axis=1)
    assert norms[0.0].std() / norms[0.0].mean() > 0.05, "the raw model's item norms should differ"
    assert norms[0.5].mean() < 0.8 * norms[0.0].mean(), {p: n.mean() for p, n in norms.items()}


def test_training_is_deterministic_for_a_seed(prepared):
    cfg = TrainConfig(tower=TowerConfig(dim=8, hidden=32), max_epochs=2, batch_size=256)
    a = embeddings(prepared, train(prepared, cfg, progress=False))
    b = embeddings(prepared, train(prepared, cfg, progress=False))
    np.testing.assert_array_equal(a["items"], b["items"])


def test_als_baseline_learns_the_structure(prepared):
    model = fit_als(prepared, ALSConfig(factors=8, regularization=1.0, alpha=5.0), threads=1)
    als = evaluate(prepared, als_scorer(prepared, model, VAL), VAL, ks=(10,))
    pop = evaluate(prepared, popularity_scorer(prepared, VAL), VAL, ks=(10,))
    assert als["recall@10"] > pop["recall@10"]


def test_als_grid_search_is_seeded_like_the_two_tower_run(prepared):
    from ann_bench.embeddings.baselines import tune_als

    grid = {"factors": [8], "regularization": [1.0], "alpha": [5.0]}
    fits = [tune_als(prepared, grid=grid, seed=s, progress=False) for s in (3, 3, 4)]
    assert [cfg.seed for cfg, _, _ in fits] == [3, 3, 4]
    scores = [trials[0]["val_recall@50"] for _, trials, _ in fits]
    assert scores[0] == scores[1]  # one seed, one result


def test_bad_training_settings_are_named():
    with pytest.raises(ConfigError, match="temperature"):
        TrainConfig(temperature=0)
    with pytest.raises(ConfigError, match="select_k"):
        TrainConfig(select_k=7)
    with pytest.raises(ConfigError, match="norm_penalty"):
        TrainConfig(norm_penalty=-1)
    with pytest.raises(ConfigError, match="tower.dim"):  # the dot model needs a direction and a bias
        TrainConfig(tower=TowerConfig(dim=1))


def test_real_ml_latest_small_two_tower_beats_popularity(shared_movielens, tmp_path):
    from ann_bench.data import get_variant

    ml = load(fetch(get_variant("ml-latest-small"), cache_dir=tmp_path, source=shared_movielens / "ml-latest-small"))
    p = prepare(ml, PrepConfig())
    trained = train(p, TrainConfig(max_epochs=3, temperature=0.2), progress=False)
    vec = embeddings(p, trained)
    assert np.isfinite(vec["items"]).all() and vec["items"].shape[0] == 9_742
    tt = evaluate(p, dot_scorer(vec["users"], vec["items"]), TEST, ks=(50,))
    pop = evaluate(p, popularity_scorer(p, TEST), TEST, ks=(50,))
    assert tt["recall@50"] > 1.2 * pop["recall@50"], (tt, pop)


def test_model_kind_of_stored_configurations_old_and_new():
    from ann_bench.embeddings.config import model_tag

    assert model_tag(asdict(TrainConfig())) == "dot"
    assert model_tag(asdict(TrainConfig(tower=TowerConfig(**MODELS["cos"])))) == "cos"
    assert model_tag(asdict(TrainConfig(tower=TowerConfig(**MODELS["raw"])))) == "raw"
    # bundles trained before item_bias existed: unit-norm ones are cos, the others raw
    assert model_tag({"tower": {"normalize": True}}) == "cos" and model_tag({"tower": {"normalize": False}}) == "raw"


def test_quality_table_has_one_row_per_seed_and_model_with_the_ratio_to_als():
    from ann_bench.embeddings.run import quality_table

    def metrics(r50):
        return {"recall@10": 0.1, "recall@50": r50, "ndcg@10": 0.1, "ndcg@50": 0.1, "cold_share@10": 0.0}

    def report(seed, model, tt, als):
        return {"dataset": "ml-x", "models": {
            "two-tower": {"config": {"seed": seed, "tower": {"item_bias": model == "dot"}}, "test": metrics(tt), "train_seconds": 1.0},
            "als": {"config": {"seed": seed}, "test": metrics(als), "train_seconds": 1.0}}}

    rows = quality_table([report(0, "dot", 0.2, 0.25), report(0, "cos", 0.3, 0.25), report(1, "dot", 0.24, 0.24)]).splitlines()[2:]
    assert [r.split(" | ")[1:3] for r in rows] == [["0", "two-tower (cos)"], ["0", "two-tower (dot)"], ["0", "als"],
                                                   ["1", "two-tower (dot)"], ["1", "als"]]  # ALS of seed 0 once
    assert "| 0.8000x |" in rows[1] and "| 1.2000x |" in rows[0] and "| 1.0000x |" in rows[3]


def test_the_learning_rate_is_cut_on_plateaus_and_the_refit_replays_it(prepared, monkeypatch):
    """lr x lr_cut after every lr_plateau epochs without a better validation score (checked by
    walking the recorded curve), and the refit on train + validation trains its epochs at
    exactly the rates the selection run used up to its best epoch."""
    from ann_bench.embeddings import train as train_module

    used = []
    set_lr = train_module._Fitter.set_lr
    monkeypatch.setattr(train_module._Fitter, "set_lr", lambda self, lr: (used.append(lr), set_lr(self, lr)))
    cfg = TrainConfig(tower=TowerConfig(dim=8, hidden=32), max_epochs=12, batch_size=256, patience=12, lr_plateau=2,
                      lr_cut=0.5, lr=0.01)
    trained = train(prepared, cfg, progress=False)
    h = trained.history
    best, bad, lr = -1.0, 0, 0.01
    for epoch in h:
        assert epoch["lr"] == pytest.approx(lr)
        if epoch["recall@50"] > best:
            best, bad = epoch["recall@50"], 0
        else:
            bad += 1
            lr *= 0.5 if bad % 2 == 0 else 1
    assert min(e["lr"] for e in h) < 0.01, "the tiny curve never stalled for two epochs: no cut was tested"
    refit_rates = used[len(h):]
    assert refit_rates == [e["lr"] for e in h[: trained.best_epoch + 1]]


def test_a_model_trained_without_the_schedule_keeps_its_version_2_bundle_name(prepared):
    """The cos model trains without learning-rate cuts, exactly as version 2 did, so the bundles
    trained then (their names from earlier sessions' runs) are found, not retrained; the dot
    model's schedule gives it a name of its own."""
    from ann_bench.embeddings.run import bundle_name

    temps = (0.1, 0.15, 0.2, 0.3)
    cos = TrainConfig(tower=TowerConfig(**MODELS["cos"]), lr_plateau=0, temperature=temps[0])  # as `ann-bench train` builds it
    assert bundle_name(prepared, cos, temps).endswith(".tt-1b16a9d0")  # ml-*.ratio-09b0889d.tt-1b16a9d0: cos, seed 0
    assert bundle_name(prepared, replace(cos, seed=2), temps).endswith(".tt-f8a7e8a8")
    dot = TrainConfig(tower=TowerConfig(**MODELS["dot"]), lr_plateau=4, temperature=temps[0])
    assert bundle_name(prepared, dot, temps).endswith(".tt-f00a7af6")
    assert not bundle_name(prepared, replace(dot, lr_plateau=0), temps).endswith(".tt-f00a7af6")
