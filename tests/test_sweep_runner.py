import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from ann_bench.sweep.record import run_status
from ann_bench.results.table import gather, result_files
from ann_bench.sweep import config
from ann_bench.sweep.runner import sweep
from ann_bench.workloads import format as wformat
from ann_bench.workloads.groundtruth import exact_knn

from sweep_fixtures import cfg, plugins, workload  # noqa: F401  (pytest fixtures)


def test_failures_are_recorded_and_the_sweep_goes_on(workload, tmp_path):
    c = cfg(
        {
            "faiss-flat": {},
            "test-abort": {},
            "test-hang": {"query": {"sleep_s": [3600.0]}},
            "test-memhog": {"build": {"mb": [1500]}},
            "hnswlib": {"build": {"M": [8]}, "query": {"ef": [10, 100]}},
        },
        query_timeout_s=1.5, memory_limit_mb=700,
    )
    results = tmp_path / "results"
    outcomes = sweep(c, [workload], results, progress=False)
    by_alg = {o.path.parent.name: o for o in outcomes}
    assert by_alg["faiss-flat"].status == "ok" and by_alg["hnswlib"].status == "ok"
    assert "crashed (SIGABRT)" in by_alg["test-abort"].summary
    assert "timeout: query 0 k=10 batch 1 thread took longer than 1.5 s" in by_alg["test-hang"].summary
    assert "memory limit exceeded" in by_alg["test-memhog"].summary
    with h5py.File(by_alg["test-abort"].path) as f:
        assert f.attrs["status"] == "failed" and "Aborted" in f.attrs["stderr_tail"]
    df = gather(results)
    flat = df[(df.algorithm == "faiss-flat") & (df.search == "knn")].set_index("k")
    assert flat.loc[10, "recall@10"] == pytest.approx(1.0) and flat.loc[100, "recall@100"] == pytest.approx(1.0)
    assert {"qps_single", "qps_batch_1t", "qps_batch_nt", "latency_p99_ms", "index_mb", "build_s", "import_s", "warmup_s"} <= set(df.columns)
    assert len(df[(df.algorithm == "hnswlib") & (df.search == "knn")]) == 4  # 2 query configs x 2 depths
    with h5py.File(by_alg["hnswlib"].path) as f:
        assert f.attrs["git_commit"] is not None and "hnswlib" in f.attrs["versions"] and "cpu" in f.attrs["machine"]
        g = f["query/000/k100"]
        assert g["ids"].shape == (40, 100) and g["latencies"].shape == (40,)
        assert f["query/000/k010"]["ids"].shape == (40, 10)

    # resumed: nothing reruns; failed runs rerun only when asked
    again = sweep(c, [workload], results, progress=False)
    assert {o.status for o in again} == {"kept"}
    retried = sweep(cfg({"test-abort": {}, "faiss-flat": {}}), [workload], results, retry_failed=True, progress=False)
    assert sorted(o.status for o in retried) == ["failed", "kept"]


def test_filtered_search_is_measured_and_a_leaking_filter_is_caught(workload, tmp_path):
    c = cfg({"faiss-flat": {}, "test-leaky-filter": {}, "annoy": {"build": {"n_trees": [10]}, "query": {"search_k": [-1]}}})
    sweep(c, [workload], tmp_path / "results", progress=False)
    all_rows = gather(tmp_path / "results")
    df = all_rows[all_rows.search == "filtered"].set_index("algorithm")
    knn = all_rows[(all_rows.search == "knn") & (all_rows.k == 10)].set_index("algorithm")
    assert df.loc["faiss-flat", "filtered_recall@10"] == pytest.approx(1.0)
    assert df.loc["faiss-flat", "filter_method"] == "native" and df.loc["annoy", "filter_method"] == "overfetch"
    # each user's 2 seen items are its 2 nearest: a filter that lets them through loses 2 of 10
    assert df.loc["test-leaky-filter", "filtered_recall@10"] == pytest.approx(0.8)
    assert knn.loc["test-leaky-filter", "recall@10"] == pytest.approx(1.0)
    assert df.loc["faiss-flat", "rec_recall@10"] == pytest.approx(df.loc["faiss-flat", "rec_recall@10_exact"])
    assert (df["qps_filtered"] > 0).all() and df["filtered_latency_p99_ms"].notna().all()


def test_two_runs_compare_by_speed_ratios_and_recall_changes(workload, tmp_path):
    from ann_bench.errors import DataError
    from ann_bench.results.compare import matched, recall_changes, speed_ratios

    c = cfg({"faiss-flat": {}, "hnswlib": {"build": {"M": [8]}, "query": {"ef": [10, 100]}}})
    for run in ("a", "b"):
        sweep(c, [workload], tmp_path / run, progress=False)
    m = matched(gather(tmp_path / "a"), gather(tmp_path / "b"))
    # faiss-flat: depths 10 and 100 and filtered; hnswlib: ef 10 and 100 at depth 10, at depth
    # 100 only one (ef=10 runs as ef=100 there: a duplicate, not measured), filtered twice
    assert len(m) == 8
    speeds = speed_ratios(m).set_index("metric")
    assert speeds.loc["qps_single", "configs"] == 5 and 0 < speeds.loc["qps_single", "median B/A"] < 10
    changes = recall_changes(m).set_index("algorithm")
    assert changes.loc["faiss-flat", "largest change recall@10"] == 0  # exact and deterministic
    sweep(cfg({"numpy-bruteforce": {}}), [workload], tmp_path / "c", progress=False)
    with pytest.raises(DataError, match="no successful configuration in common"):
        matched(gather(tmp_path / "a"), gather(tmp_path / "c"))


def test_a_rebuilt_workload_is_measured_again(workload, tmp_path):
    c = cfg({"faiss-flat": {}})
    results = tmp_path / "results"
    assert [o.status for o in sweep(c, [workload], results, progress=False)] == ["ok"]
    assert [o.status for o in sweep(c, [workload], results, progress=False)] == ["kept"]
    w = wformat.read(workload)
    w.train = w.train * 2  # new embeddings under the same name
    w.neighbors, w.distances = exact_knn(w.test, w.train, 100, "ip")
    wformat.write(w, workload)
    assert [o.status for o in sweep(c, [workload], results, progress=False)] == ["ok"]


def test_sigkill_mid_sweep_then_resume_leaves_only_valid_files(workload, tmp_path):
    cfg_file = tmp_path / "algorithms.yaml"
    cfg_file.write_text(
        "settings: {repeats: 1}\n"
        "algorithms:\n"
        "  hnswlib: {build: {M: [4, 6, 8, 10, 12, 14]}, query: {ef: [10, 50]}}\n"
    )
    env = dict(os.environ, ANN_BENCH_HOME=str(tmp_path))
    cmd = [sys.executable, "-m", "ann_bench.cli", "sweep", "--config", str(cfg_file), "--workloads", str(workload)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    results = tmp_path / "results"
    deadline = time.time() + 120
    while time.time() < deadline and len(result_files(results)) < 2:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = len(result_files(results))
    assert 2 <= done_before < 6, "the kill should land mid-sweep"
    assert all(run_status(p) == "ok" for p in result_files(results))
    subprocess.run(cmd, env=env, check=True, capture_output=True)
    files = result_files(results)
    assert len(files) == 6 and all(run_status(p) == "ok" for p in files)
    assert len(gather(results)) == 36  # 6 builds x (2 query configs x depths 10, 100 + 2 filtered)


def test_an_algorithm_whose_library_is_missing_is_left_out_with_the_reason(workload, tmp_path, monkeypatch):
    """As nmslib on Python 3.13: the sweep measures the rest and says which library is missing
    and, where ann-bench's own requirements leave it out on this Python, that it is why."""
    import importlib.metadata

    from ann_bench.sweep import registry

    with pytest.warns(UserWarning, match=r"test-not-installed is left out of this sweep: ann-bench-no-such-library is not "
                                         r"installed here \(pip install 'ann-bench-no-such-library'\)"):
        outcomes = sweep(cfg({"test-not-installed": {}, "faiss-flat": {}}), [workload], tmp_path / "r", progress=False)
    assert [o.path.parent.name for o in outcomes] == ["faiss-flat"] and outcomes[0].status == "ok"
    requires = importlib.metadata.requires
    monkeypatch.setattr(importlib.metadata, "requires", lambda dist: requires(dist) + [
        'ann-bench-no-such-library==1.0; python_version < "3.0"'] if dist == "ann-bench" else requires(dist))
    assert registry.unavailable("test-not-installed") == (
        "ann-bench-no-such-library is not installed: ann-bench leaves it out on Python "
        f"{sys.version.split()[0]} (it needs python_version < \"3.0\", where the library publishes wheels)")
    assert registry.unavailable("faiss-flat") is None
