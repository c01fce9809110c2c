"""Conformance: every registered adapter, on every metric it declares, at its most
accurate settings, finds the true neighbours, returns valid ids, honours k and (where the
library is deterministic) gives the same answer twice. Like scikit-learn's check_estimator."""

import numpy as np
import pytest

from ann_bench.errors import ConfigError
from ann_bench.sweep import registry
from ann_bench.workloads.groundtruth import exact_knn

N, NQ, DIM, K = 2_000, 50, 16, 10


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    # clustered, with varied norms, so inner product and cosine differ
    centers = rng.standard_normal((20, DIM)) * 3
    x = centers[rng.integers(0, 20, N)] + rng.standard_normal((N, DIM))
    x *= rng.uniform(0.5, 2.0, (N, 1))
    q = centers[rng.integers(0, 20, NQ)] + rng.standard_normal((NQ, DIM))
    return x.astype(np.float32), q.astype(np.float32)


def cases():
    return [pytest.param(n, m, id=f"{n}-{m}") for n in registry.names() for m in registry.get(n).metrics]


def recall(ids, truth):
    return np.mean([len(set(a[a >= 0]) & set(b)) / len(b) for a, b in zip(ids, truth)])


@pytest.mark.parametrize("name, metric", cases())
def test_adapter_conformance(name, metric, data):
    if not registry.installed(name):
        pytest.skip(f"{name}'s library is not installed")
    x, q = data
    cls = registry.get(name)
    build, query = cls.accurate_params(N)
    truth, _ = exact_knn(q, x, K, metric)

    index = cls(metric, DIM, threads=1, **build)
    index.fit(x)
    index.set_query_params(**query)
    pq = index.prepare_queries(q)
    batch = index.search_batch(pq, K, threads=1)
    assert batch.shape == (NQ, K), "k not honoured"
    assert ((batch >= 0) & (batch < N)).all(), "invalid or padded ids"
    assert all(len(set(row)) == K for row in batch), "duplicate ids in one answer"
    assert recall(batch, truth) >= 0.95, f"recall@{K} {recall(batch, truth):.3f} < 0.95"

    singles = index.split_queries(pq)
    one = np.array([np.asarray(index.search_one(v, K))[:K] for v in singles])
    assert recall(one, truth) >= 0.95
    assert len(index.search_batch(pq, 3, threads=1)[0]) == 3
    if cls.threaded_batch:
        multi = index.search_batch(pq, K, threads=2)
        assert recall(multi, truth) >= 0.95
    # filtered search: each query excludes its 5 true nearest and 20 random ids
    rng = np.random.default_rng(1)
    exclude = [np.unique(np.concatenate([t[:5], rng.choice(N, 20, replace=False)])).astype(np.int64) for t in truth]
    f_truth, _ = exact_knn(q, x, K, metric, exclude=exclude)
    filtered = [np.asarray(index.search_one_filtered(v, K, ex), dtype=np.int64) for v, ex in zip(singles, exclude)]
    assert all(len(row) <= K and not np.isin(row, ex).any() for row, ex in zip(filtered, exclude)), "excluded id returned"
    assert recall(filtered, f_truth) >= 0.95, f"filtered recall@{K} {recall(filtered, f_truth):.3f} < 0.95"
    if cls.deterministic:
        again = cls(metric, DIM, threads=1, **build)
        again.fit(x)
        again.set_query_params(**query)
        np.testing.assert_array_equal(again.search_batch(pq, K, threads=1), batch)


def test_unknown_algorithm_and_parameter_are_named():
    with pytest.raises(ConfigError, match="Did you mean 'hnswlib'"):
        registry.get("hnswlb")
    with pytest.raises(ConfigError, match=r"hnswlib.build.ef_constuction: unknown parameter. Did you mean 'ef_construction'"):
        registry.get("hnswlib")("ip", 8, ef_constuction=10)
    with pytest.raises(ConfigError, match="does not support metric"):
        registry.get("faiss-hnsw")("hamming", 8)
