"""Inner product through a nearest-neighbour search: the augmentation, and the sweep running it.

The order checks use independent computations (numpy dot products, and the exact L2 / cosine
ground truth of the augmented vectors), never the reduction checking itself.
"""

import numpy as np
import pytest

from ann_bench.errors import ConfigError
from ann_bench.results.table import gather
from ann_bench.sweep import registry
from ann_bench.sweep.adapters.reduction import augment_base, augment_queries, reduced_name
from ann_bench.sweep.record import run_status
from ann_bench.sweep.runner import plan, sweep
from ann_bench.workloads.groundtruth import exact_knn

from sweep_fixtures import cfg, plugins, workload  # noqa: F401  (pytest fixtures)


def test_a_hand_made_case():
    x = np.array([[1.0, 0.0], [0.0, 3.0], [2.0, 2.0]], dtype=np.float32)  # norms 1, 3, 2.83
    q = np.array([[1.0, 1.0]], dtype=np.float32)  # inner products 1, 3, 4: best 2, then 1, then 0
    xa, qa = augment_base(x), augment_queries(q)
    np.testing.assert_allclose(xa, [[1, 0, np.sqrt(8)], [0, 3, 0], [2, 2, 1]], rtol=1e-6)
    np.testing.assert_array_equal(qa, [[1, 1, 0]])
    for via in ("l2", "cosine"):
        ids, _ = exact_knn(qa, xa, 3, via)
        assert ids[0].tolist() == [2, 1, 0], via


@pytest.mark.parametrize("via", ["l2", "cosine"])
def test_the_augmentation_keeps_inner_product_order_with_varied_norms(via):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((3_000, 24)) * rng.lognormal(0, 1.0, (3_000, 1))  # norms over a ~100x range
    q = rng.standard_normal((60, 24)) * rng.lognormal(0, 1.0, (60, 1))
    x, q = x.astype(np.float32), q.astype(np.float32)
    xa, qa = augment_base(x), augment_queries(q)
    np.testing.assert_allclose(np.linalg.norm(xa, axis=1), np.linalg.norm(x, axis=1).max(), rtol=1e-5)
    ids, _ = exact_knn(qa, xa, 100, via)
    ip = q.astype(np.float64) @ x.astype(np.float64).T
    truth = np.argsort(-ip, axis=1)[:, :100]
    m2 = float((x.astype(np.float64) ** 2).sum(axis=1).max())
    for row, (got, want) in enumerate(zip(ids, truth)):
        # the same items in the same order, but for ties: where they differ, the inner products
        # are equal to the float32 precision of the distance searched (|q|^2 + M^2 - 2 q.x for l2,
        # whose scale is |q|^2 + M^2: the reduction's price when norms vary widely)
        q2 = float(q[row].astype(np.float64) @ q[row])
        scale = q2 + m2 if via == "l2" else np.sqrt(q2 * m2)
        np.testing.assert_allclose(ip[row, got], ip[row, want], rtol=0, atol=2e-6 * scale)
        assert len(set(got) & set(want)) >= 97


def test_padding_to_a_fitting_dimension_changes_nothing():
    rng = np.random.default_rng(1)
    x, q = rng.standard_normal((200, 5)).astype(np.float32), rng.standard_normal((10, 5)).astype(np.float32)
    a, b = exact_knn(augment_queries(q), augment_base(x), 10, "l2")[0], exact_knn(augment_queries(q, 16), augment_base(x, 16), 10, "l2")[0]
    np.testing.assert_array_equal(a, b)
    assert augment_base(x, 16).shape == (200, 16) and not augment_base(x, 16)[:, 6:].any()


def test_an_ip_workload_gets_every_adapter_natively_or_through_the_reduction(workload, tmp_path):
    algs = {"hnswlib": {}, "pynndescent": {}, "hnswlib-via-l2": {"adapter": "hnswlib", "ip_via": "l2"}}
    runs = plan(cfg(algs), [workload], tmp_path, threads_all=1)
    assert {r.algorithm.name: r.adapter for r in runs} == {
        "hnswlib": "hnswlib", "pynndescent": reduced_name("pynndescent", "l2"), "hnswlib-via-l2": reduced_name("hnswlib", "l2")}


def test_dry_run_names_the_runs_made_through_the_reduction(workload, tmp_path):
    from ann_bench.sweep.runner import dry_run

    lines = dry_run(cfg({"hnswlib": {}, "pynndescent": {}}), [workload], tmp_path)
    assert any(" hnswlib M=" in line for line in lines)
    assert all(" pynndescent (ip via l2) " in line for line in lines if "pynndescent" in line)


def test_an_ip_via_entry_runs_only_on_ip_workloads():
    assert registry.for_metric("hnswlib", "cosine", "l2") is None
    assert registry.for_metric("hnswlib", "cosine") == "hnswlib" and registry.for_metric("pynndescent", "l2") == "pynndescent"


def test_a_reduced_run_is_recorded_and_labelled_as_such(workload, tmp_path):
    algs = {"hnswlib": {"query": {"ef": [50]}}, "hnswlib-via-l2": {"adapter": "hnswlib", "ip_via": "l2", "query": {"ef": [50]}}}
    outcomes = sweep(cfg(algs, k=[10]), [workload], tmp_path / "results", progress=False)
    assert [run_status(o.path) for o in outcomes] == ["ok", "ok"]
    df = gather(tmp_path / "results")
    handling = dict(zip(df["algorithm"], df["metric_handling"]))
    assert handling == {"hnswlib": "native", "hnswlib-via-l2 (ip via l2)": "reduction:l2"}
    knn = df[df["search"] == "knn"]
    assert (knn["recall@10"] > 0.9).all(), knn[["algorithm", "recall@10"]]


@pytest.mark.parametrize("spec, match", [({"adapter": "pynndescent", "ip_via": "ip"}, "inner product can be reduced to l2 or cosine"),
                                         ({"adapter": "hnswlib", "ip_via": 3}, "ip_via: 3")])
def test_a_bad_ip_via_is_one_clear_line(spec, match):
    with pytest.raises(ConfigError, match=match):
        cfg({"x": spec})


def test_a_reduced_name_that_cannot_be_served_is_a_clear_error():
    with pytest.raises(ConfigError, match="cannot serve inner product via 'ip'"):
        registry.get("hnswlib:ip-via-ip")
