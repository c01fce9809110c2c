import numpy as np
import pytest

from ann_bench.sweep.scoring import clean_ids, drop_self, exact_distances, knn_recall, origin_recall, recommendation_recall
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
    for definition in ("knn", "relative"):
        assert knn_recall(np.array([[0.1, 0.3, 0.3]]), gt, 3, definition=definition)[0] == pytest.approx(1.0)
        assert knn_recall(np.array([[0.1, 0.3, 0.5]]), gt, 3, definition=definition)[0] == pytest.approx(2 / 3)
        # missing answers (inf distance) are misses
        assert knn_recall(np.array([[0.1, np.inf, np.inf]]), gt, 3, definition=definition)[0] == pytest.approx(1 / 3)


def test_knn_recall_is_ann_benchmarks_absolute_epsilon():
    """ann-benchmarks' k-NN recall (plotting/metrics.py): a returned distance counts when it is
    <= dataset_distances[count - 1] + epsilon, epsilon = 1e-3 absolute. Hand-computed: with a
    k-th true distance of 10.0 the threshold is 10.001 (10.0005 counts, 10.005 does not);
    with 0.1 it is 0.101 (0.1005 counts). The relative form widens by 1e-3 x |d_k| instead:
    10.01 and 0.1001, so it takes 10.005 and refuses 0.1005."""
    far, near = np.array([[9.0, 10.0]]), np.array([[0.05, 0.1]])
    assert knn_recall(np.array([[9.0, 10.0005]]), far, 2)[0] == 1.0
    assert knn_recall(np.array([[9.0, 10.005]]), far, 2)[0] == 0.5
    assert knn_recall(np.array([[0.05, 0.1005]]), near, 2)[0] == 1.0
    assert knn_recall(np.array([[9.0, 10.005]]), far, 2, definition="relative")[0] == 1.0
    assert knn_recall(np.array([[0.05, 0.1005]]), near, 2, definition="relative")[0] == 0.5
    # negative inner-product distances: the absolute slack and the relative one
    gt = np.array([[-5.0, -4.0]])
    assert knn_recall(np.array([[-5.0, -3.9995]]), gt, 2)[0] == 1.0
    assert knn_recall(np.array([[-5.0, -3.997]]), gt, 2)[0] == 0.5
    assert knn_recall(np.array([[-5.0, -3.997]]), gt, 2, definition="relative")[0] == 1.0
    with pytest.raises(ValueError, match="unknown recall definition"):
        knn_recall(np.array([[1.0]]), np.array([[1.0]]), 1, definition="epsilon")


def test_the_query_item_is_dropped_before_scoring():
    # asked for k + 1 = 3: row 0 returned itself (7) first; row 1 did not return itself;
    # row 2 has no query item (-1: a user query)
    ids = np.array([[7, 1, 2], [3, 4, 5], [7, 8, 9]])
    assert drop_self(ids, np.array([7, 6, -1]), 2).tolist() == [[1, 2], [3, 4], [7, 8]]
    assert drop_self(ids, None, 2).tolist() == [[7, 1], [3, 4], [7, 8]]


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


def test_recall_split_by_where_the_true_neighbours_come_from():
    # items 0-2 are real, 5-9 synthetic; true top 3 per query, answers with padding
    gt = np.array([[0, 5, 1], [6, 7, 2]])
    ids = np.array([[0, 1, 9], [7, -1, -1]])
    m = origin_recall(ids, gt, n_real=3, k=3)
    assert m["recall@3_real_items"] == pytest.approx(2 / 3)  # 0 and 1 of {0, 1, 2}
    assert m["recall@3_synthetic_items"] == pytest.approx(1 / 3)  # 7 of {5, 6, 7}
    assert m["real_share@3"] == pytest.approx(0.5)
    assert np.isnan(origin_recall(ids, gt, n_real=0, k=3)["recall@3_real_items"])  # no real neighbour at all
