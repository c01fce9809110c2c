import numpy as np
import pytest

from ann_bench.sweep.recall import clean_ids, exact_distances, knn_recall, recommendation_recall
from ann_bench.workloads.format import Ragged


def test_duplicates_and_padding_cannot_inflate_recall():
    ids = np.array([[3, 3, 3, -1, 99], [0, 1, 2, 3, 4]])
    clean = clean_ids(ids, n_base=10)
    assert clean.tolist() == [[3, -1, -1, -1, -1], [0, 1, 2, 3, 4]]


def test_recall_counts_ties_at_the_kth_distance():
    # true distances: 0.1, 0.2, 0.3, 0.3 (k = 3). A run returning the other id at 0.3
    # instead of the one at 0.2 is as good (a tie with the 3rd neighbour counts, as in
    # ann-benchmarks); one at 0.5 is not.
    gt = np.array([[0.1, 0.2, 0.3, 0.3, 0.5]])
    assert knn_recall(np.array([[0.1, 0.3, 0.3]]), gt, 3)[0] == pytest.approx(1.0)
    assert knn_recall(np.array([[0.1, 0.3, 0.5]]), gt, 3)[0] == pytest.approx(2 / 3)
    # within (1 + eps) of the k-th distance counts; beyond does not
    assert knn_recall(np.array([[0.1, 0.2, 0.3003]]), gt, 3, epsilon=1e-3)[0] == pytest.approx(1.0)
    assert knn_recall(np.array([[0.1, 0.2, 0.31]]), gt, 3, epsilon=1e-3)[0] == pytest.approx(2 / 3)
    # missing answers (inf distance) are misses
    assert knn_recall(np.array([[0.1, np.inf, np.inf]]), gt, 3)[0] == pytest.approx(1 / 3)


def test_inner_product_distances_are_negative_and_epsilon_widens_them():
    gt = np.array([[-5.0, -4.0]])
    assert knn_recall(np.array([[-5.0, -3.997]]), gt, 2, epsilon=1e-3)[0] == pytest.approx(1.0)
    assert knn_recall(np.array([[-5.0, -3.9]]), gt, 2, epsilon=1e-3)[0] == pytest.approx(0.5)


def test_exact_distances_are_recomputed_from_vectors():
    base = np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 4.0]], dtype=np.float32)
    q = np.array([[1.0, 1.0]], dtype=np.float32)
    ids = np.array([[2, -1, 1]])
    assert exact_distances(ids, q, base, "ip").tolist() == [[-7.0, np.inf, -2.0]]
    d = exact_distances(ids, q, base, "l2")[0]
    assert d[0] == pytest.approx(np.sqrt(4 + 9)) and d[2] == pytest.approx(np.sqrt(1 + 1))
    c = exact_distances(ids, q, base, "cosine")[0]
    assert c[0] == pytest.approx(1 - 7 / (np.sqrt(2) * 5))


def test_recommendation_recall_filters_seen_items():
    ids = np.array([[5, 1, 2, 3], [7, 8, 9, -1]])
    seen = Ragged.from_lists([np.array([5]), np.array([], dtype=np.int64)])
    relevant = Ragged.from_lists([np.array([1, 3]), np.array([9])])
    # user 0: seen 5 dropped -> [1, 2]: 1 hit of min(2, 2); user 1: [7, 8]: 0 hits
    assert recommendation_recall(ids, seen, relevant, 2) == pytest.approx(0.25)
