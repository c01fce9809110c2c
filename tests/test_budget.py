"""Predicted costs: power laws through earlier sizes, skipped builds, the sweep's time budget."""

import json
import math

import h5py
import numpy as np
import pytest

from ann_bench.sweep import budget
from ann_bench.sweep.runner import dry_run, sweep
from ann_bench.workloads import format as wformat
from ann_bench.workloads.groundtruth import exact_knn

from sweep_fixtures import cfg, plugins, workload  # noqa: F401  (pytest fixtures)


def history(points, key=("w.u2i.ip", "alg", "M=16")):
    h = budget.History()
    for p in points:
        h.add(key, budget.Point(*p))
    return h


def test_power_law_through_two_sizes():
    h = history([(10_000, 2.0, 10.0, False), (100_000, 2.0 * 10**1.5, 10.0 * 10**1.2, False)])  # build ~ N^1.5, run ~ N^1.2
    p = h.predict("w.u2i.ip.synthetic1M", "alg", {"M": 16}, None, 1_000_000)
    assert p.build_s == pytest.approx(2.0 * 100**1.5) and p.run_s == pytest.approx(10.0 * 100**1.2)
    assert "N^1.50 from 2 sizes" in p.basis


def test_one_size_is_scaled_linearly_and_a_measured_size_is_used_as_is():
    h = history([(10_000, 3.0, 4.0, False)])
    assert h.predict("w.u2i.ip", "alg", {"M": 16}, None, 40_000).build_s == pytest.approx(12.0)
    assert "assumed linear" in h.predict("w.u2i.ip", "alg", {"M": 16}, None, 40_000).basis
    assert h.predict("w.u2i.ip", "alg", {"M": 16}, None, 10_000).build_s == pytest.approx(3.0)


def test_nothing_known_predicts_nothing():
    h = history([(10_000, 3.0, 4.0, False)])
    assert h.predict("w.u2i.ip", "alg", {"M": 32}, None, 40_000) is None  # another build
    assert h.predict("w.i2i.ip", "alg", {"M": 16}, None, 40_000) is None  # another family


def test_a_build_that_timed_out_is_at_least_the_timeout_at_larger_sizes():
    h = history([(1_000, 1.0, 2.0, False), (10_000, 1800.0, math.nan, True)])
    p = h.predict("w.u2i.ip", "alg", {"M": 16}, None, 100_000)
    assert p.build_s >= 1800.0 and "timed out at N=10,000" in p.basis


def test_size_relative_builds_match_by_expression():
    key = ("w.u2i.ip", "alg", budget.build_key({"nlist": 100}, {"nlist": "sqrt(N)"}))
    h = history([(10_000, 1.0, 2.0, False)], key)
    assert h.predict("w.u2i.ip.synthetic1M", "alg", {"nlist": 1000}, {"nlist": "sqrt(N)"}, 1_000_000) is not None
    assert h.predict("w.u2i.ip.synthetic1M", "alg", {"nlist": 1000}, None, 1_000_000) is None


def test_peak_memory_grows_with_n_above_the_librarys_fixed_part():
    # peak RSS 300 MB at 10k and 1,200 MB at 100k, 200 MB of them the interpreter and library
    h = history([(10_000, 1.0, 2.0, False, 300.0, False, 200.0), (100_000, 10.0, 20.0, False, 1_200.0, False, 200.0)])
    p = h.predict("w.u2i.ip.synthetic1M", "alg", {"M": 16}, None, 1_000_000)
    assert p.rss_mb == pytest.approx(200 + 100 * 100) and "N^1.00 from 2 sizes" in p.rss_basis
    assert "peak memory ~10,200 MB" in str(p)


def test_a_run_stopped_at_the_memory_limit_bounds_larger_sizes():
    h = history([(1_000, 1.0, 2.0, False, 150.0, False, 100.0), (10_000, math.nan, math.nan, False, 4_000.0, True)])
    p = h.predict("w.u2i.ip", "alg", {"M": 16}, None, 20_000)
    assert p.rss_mb >= 4_000 and "stopped at the memory limit at N=10,000" in p.rss_basis
    assert "build ~20 s" in str(p)  # the build time still comes from the size that finished


def grown(tmp_path, n):
    """A workload of the fixture's family (tiny.u2i.ip) with ``n`` items."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((n, 8)).astype(np.float32)
    q = rng.standard_normal((20, 8)).astype(np.float32)
    ids, d = exact_knn(q, x, 100, "ip")
    w = wformat.Workload(f"tiny.u2i.ip.synthetic{n // 1000}k", "ip", x, q, ids, d)
    return wformat.write(w, tmp_path / f"tiny.u2i.ip.synthetic{n // 1000}k.hdf5")


def test_a_build_predicted_past_the_timeout_is_skipped_and_recorded(workload, tmp_path):
    big = grown(tmp_path, 6_000)
    results = tmp_path / "results"
    c = cfg({"test-slow-build": {"build": {"ms_per_item": [0.6]}}}, build_timeout_s=3.0)
    small, skipped = sweep(c, [workload, big], results, progress=False)  # 0.6 s at N=1,000: 3.6 s at 6,000
    assert small.status == "ok" and skipped.status == "skipped"
    assert "predicted build 4 s (from N=1,000, assumed linear in N) exceeds build_timeout_s 3 s" in skipped.summary
    with h5py.File(skipped.path) as f:
        assert f.attrs["status"] == "skipped" and "exceeds build_timeout_s" in f.attrs["reason"]
        assert f.attrs["n_base"] == 6_000
    assert any(line.startswith("skip  tiny.u2i.ip.synthetic6k test-slow-build") for line in dry_run(c, [workload, big], results))
    assert [o.status for o in sweep(c, [workload, big], results, progress=False)] == ["kept", "skipped"]
    longer = cfg({"test-slow-build": {"build": {"ms_per_item": [0.6]}}}, build_timeout_s=30.0)
    assert [o.status for o in sweep(longer, [workload, big], results, progress=False)][1] == "ok"


def test_the_time_budget_starts_no_run_predicted_to_end_past_it(workload, tmp_path):
    big = grown(tmp_path, 6_000)
    results = tmp_path / "results"
    c = cfg({"test-slow-build": {"build": {"ms_per_item": [0.6]}}})
    lines = dry_run(c, [workload, big], results, total_line=True)
    assert lines[-1] == "predicted time: ~0 s for 0 of the 2 runs; 2 with no earlier size of the same configuration to predict from"
    small, later = sweep(c, [workload, big], results, progress=False, budget_s=2.5)
    assert small.status == "ok" and later.status == "not started" and "past the budget" in later.summary
    assert not later.path.exists()
    assert "for 1 of the 1 runs" in dry_run(c, [workload, big], results, total_line=True)[-1]


def test_a_build_predicted_past_the_memory_limit_is_skipped_not_run(workload, tmp_path):
    big = grown(tmp_path, 6_000)
    results = tmp_path / "results"
    # 200 KB per item: about 200 MB at N=1,000, 1.2 GB at 6,000, above the 700 MB limit
    c = cfg({"test-memory-per-item": {"build": {"kb_per_item": [200]}}}, memory_limit_mb=700)
    # a 1 GB parent: the worker's peak must be its own (ru_maxrss carries the parent's across exec)
    ballast = np.ones(2**30, dtype=np.uint8)
    small, skipped = sweep(c, [workload, big], results, progress=False)
    del ballast
    assert small.status == "ok" and skipped.status == "skipped", skipped.summary
    assert "predicted peak memory" in skipped.summary and "exceeds memory_limit_mb 700 MB" in skipped.summary
    with h5py.File(small.path) as f:
        stats = json.loads(f.attrs["build_stats"])
    assert 0 < stats["rss_library_mb"] < stats["peak_rss_mb"] < 700
