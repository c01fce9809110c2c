import math

import numpy as np
import pytest

from ann_bench.data import TEST, TRAIN, VAL, PrepConfig, fetch, load, prepare
from ann_bench.embeddings.evaluate import evaluate, relevant_lists
from ann_bench.topk import top_k
from ann_bench.embeddings.metrics import hits, ndcg_at_k, recall_at_k, summarize

from movielens_fixtures import variant_for, write_release, zip_release


def test_recall_and_ndcg_hand_computed():
    topk = np.array([[5, 1, 7, 3], [2, 4, 6, 8]])
    relevant = [np.array([1, 3, 9]), np.array([8])]
    h = hits(topk, relevant)
    assert h.tolist() == [[False, True, False, True], [False, False, False, True]]
    n_rel = np.array([3, 1])
    # user 0: 2 hits in top 4, min(4, 3) = 3 -> 2/3; user 1: 1/1
    assert recall_at_k(h, n_rel, 4).tolist() == pytest.approx([2 / 3, 1.0])
    # recall@2: user 0 one hit of min(2, 3) = 2 -> 0.5; user 1 none
    assert recall_at_k(h, n_rel, 2).tolist() == pytest.approx([0.5, 0.0])
    dcg0 = 1 / math.log2(3) + 1 / math.log2(5)
    idcg0 = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    dcg1, idcg1 = 1 / math.log2(5), 1.0
    assert ndcg_at_k(h, n_rel, 4).tolist() == pytest.approx([dcg0 / idcg0, dcg1 / idcg1])
    s = summarize(h, n_rel, (2, 4))
    assert s["users"] == 2 and s["recall@4"] == pytest.approx((2 / 3 + 1) / 2)


def test_perfect_ranking_scores_one():
    topk = np.array([[3, 1, 2, 0]])
    h = hits(topk, [np.array([1, 3])])
    assert ndcg_at_k(h, np.array([2]), 4)[0] == pytest.approx(1.0)
    assert recall_at_k(h, np.array([2]), 2)[0] == pytest.approx(1.0)


def test_top_k_orders_best_first_and_breaks_ties_by_index():
    scores = np.array([[0.1, 0.9, 0.5, 0.9, -np.inf], [1, 1, 1, 1, 1]], dtype=np.float32)
    assert top_k(scores, 3).tolist() == [[1, 3, 2], [0, 1, 2]]


@pytest.fixture
def prepared(tmp_path):
    folder = write_release(tmp_path, "csv")
    return prepare(load(fetch(variant_for(zip_release(folder), "csv"), cache_dir=tmp_path / "c", source=folder)), PrepConfig())


def test_oracle_scores_perfectly_and_seen_items_are_excluded(prepared):
    p = prepared
    users, relevant = relevant_lists(p, TEST)
    truth = np.zeros((p.n_users, p.n_items), dtype=np.float32)
    for u, rel in zip(users, relevant):
        truth[u, rel] = 1.0
    train = p.split(TRAIN)
    # rank every seen item above the relevant ones: exclusion must remove them
    oracle = truth.copy()
    oracle[train["user_idx"], train["item_idx"]] = 5.0
    val = p.split(VAL)
    oracle[val["user_idx"], val["item_idx"]] = 5.0
    out = evaluate(p, lambda u: oracle[u], TEST, ks=(10,))
    assert out["recall@10"] == pytest.approx(1.0) and out["ndcg@10"] == pytest.approx(1.0)
    assert out["users"] == len(users)
    # the reverse ranking scores far lower
    worst = evaluate(p, lambda u: -truth[u], TEST, ks=(10,))
    assert worst["recall@10"] < 0.5
