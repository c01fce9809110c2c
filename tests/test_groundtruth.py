import numpy as np
import pytest

from ann_bench.errors import ConfigError
from ann_bench.workloads.groundtruth import exact_knn


def brute_force(q, x, k, metric, exclude=None):
    """Plain numpy reference: full distance matrix, stable argsort (ties by id)."""
    q = q.astype(np.float64)
    x = x.astype(np.float64)
    if metric == "ip":
        d = -(q @ x.T)
    elif metric == "cosine":
        qn = q / np.linalg.norm(q, axis=1, keepdims=True)
        xn = x / np.linalg.norm(x, axis=1, keepdims=True)
        d = 1 - qn @ xn.T
    else:
        d = np.sqrt(((q[:, None, :] - x[None, :, :]) ** 2).sum(-1))
    if exclude is not None:
        d[np.arange(len(q)), exclude] = np.inf
    ids = np.argsort(d, axis=1, kind="stable")[:, :k]
    return ids, np.take_along_axis(d, ids, 1)


@pytest.mark.parametrize("metric", ["ip", "cosine", "l2"])
def test_matches_argsort_on_random_data(metric):
    rng = np.random.default_rng(0)
    # un-normalised vectors with varied norms: inner product differs from cosine
    x = (rng.standard_normal((500, 16)) * rng.uniform(0.2, 3.0, (500, 1))).astype(np.float32)
    q = rng.standard_normal((40, 16)).astype(np.float32)
    ids, dists = exact_knn(q, x, 20, metric, query_block=7, tile=23, threads=2)
    ref_ids, ref_d = brute_force(q, x, 20, metric)
    np.testing.assert_array_equal(ids, ref_ids)
    np.testing.assert_allclose(dists, ref_d, rtol=1e-4, atol=1e-4)
    assert ids.dtype == np.int32 and dists.dtype == np.float32


@pytest.mark.parametrize("metric", ["ip", "cosine", "l2"])
def test_ties_are_ordered_by_id(metric):
    # many exact duplicates, so many exact distance ties; every vector's norm is a power of two
    # (one-hot x 1 or 2, or all +-1), so normalising and every dot product are exact in float32
    # and the ties stay ties whatever order the BLAS kernel sums in
    rng = np.random.default_rng(1)
    protos = np.array([[1, 0, 0, 0], [0, -2, 0, 0], [0, 0, 2, 0], [1, 1, -1, 1], [-1, 1, 1, 1], [1, -1, -1, -1]], dtype=np.float32)
    x = protos[rng.integers(0, 6, 300)]
    q = protos[rng.integers(0, 6, 25)] + 0.0
    ids, _ = exact_knn(q, x, 30, metric, query_block=4, tile=37)
    ref_ids, _ = brute_force(q, x, 30, metric)
    np.testing.assert_array_equal(ids, ref_ids)


def test_excluding_the_query_item():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((100, 8)).astype(np.float32)
    own = np.arange(0, 100, 10)
    ids, _ = exact_knn(x[own], x, 5, "cosine", exclude=own)
    assert not (ids == own[:, None]).any()
    ref, _ = brute_force(x[own], x, 5, "cosine", exclude=own)
    np.testing.assert_array_equal(ids, ref)


@pytest.mark.parametrize("metric", ["ip", "l2"])
def test_excluding_a_list_of_ids_per_query(metric):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((300, 8)).astype(np.float32)
    q = rng.standard_normal((30, 8)).astype(np.float32)
    seen = [rng.choice(300, rng.integers(0, 40), replace=False) for _ in range(30)]
    ids, dists = exact_knn(q, x, 10, metric, exclude=seen, query_block=4, tile=16, threads=2)
    for i, s in enumerate(seen):
        assert not np.isin(ids[i], s).any()
    d = brute_force(q, x, 300, metric)
    for i, s in enumerate(seen):  # the reference: the full ranking with the seen ids removed
        row = d[0][i][~np.isin(d[0][i], s)][:10]
        np.testing.assert_array_equal(ids[i], row)


def test_bad_inputs_are_named():
    with pytest.raises(ConfigError, match="unknown metric 'dot'"):
        exact_knn(np.zeros((1, 2)), np.zeros((3, 2)), 1, "dot")
    with pytest.raises(ConfigError, match="same dimension"):
        exact_knn(np.zeros((1, 2)), np.zeros((3, 4)), 1, "l2")


def test_row_helpers_in_chunks_match_numpy(monkeypatch):
    from ann_bench.workloads import groundtruth

    monkeypatch.setattr(groundtruth, "CHUNK_ROWS", 7)  # several chunks and a short last one
    x = np.random.default_rng(3).standard_normal((30, 5)).astype(np.float32)
    x[11] = 0
    norms = np.sqrt((x.astype(np.float64) ** 2).sum(axis=1))
    np.testing.assert_allclose(groundtruth.row_norms(x), norms, rtol=1e-12)
    unit = groundtruth.normalize(x)
    assert unit.dtype == np.float32 and (unit[11] == 0).all()
    nz = norms > 0
    np.testing.assert_allclose(unit[nz], x[nz] / norms[nz, None], rtol=1e-6)
