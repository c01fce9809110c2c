"""Where runs are measured: pinned parallel runs here, the exact-search yardstick every run
carries, workers that die with their sweep, and a real multi-node Ray cluster that loses a
node mid-sweep."""

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import h5py
import numpy as np
import psutil
import pytest

from ann_bench.errors import ConfigError
from ann_bench.results.table import result_files
from ann_bench.sweep import reference
from ann_bench.sweep.executors.local import LocalExecutor, core_sets
from ann_bench.sweep.runner import sweep
from ann_bench.workloads import format as wformat

from sweep_fixtures import cfg, plugins, sweep_workers, workload  # noqa: F401  (pytest fixtures)

ALGORITHMS = {
    "faiss-flat": {},
    "numpy-bruteforce": {},
    "faiss-ivf": {"build": {"nlist": [8, 16]}, "query": {"nprobe": [1, 4]}},
    "test-slow-build": {"build": {"ms_per_item": [4.0]}},  # 4 s on 1,000 items: long enough to lose its node
}


def _recalls(path):
    """{(query config, depth): recall@10} of one result file."""
    out = {}
    with h5py.File(path) as f:
        for q in f.get("query", {}):
            for d in f["query"][q]:
                m = json.loads(f["query"][q][d].attrs["metrics"])
                if "recall@10" in m:
                    out[(q, d)] = m["recall@10"]
    return out


def _attrs(path, name):
    with h5py.File(path) as f:
        return json.loads(f.attrs[name])


def test_core_sets_are_disjoint_and_equal():
    assert core_sets([0, 1, 2, 3, 4], 2) == [[0, 1], [2, 3]]
    assert core_sets([3, 5], 2) == [[3], [5]]
    with pytest.raises(ConfigError, match="--jobs 3: this machine lets the sweep use 2 cores"):
        core_sets([0, 1], 3)


def test_exact_reference_counts_queries_and_ranks_by_the_metric():
    rng = np.random.default_rng(0)
    base = rng.standard_normal((5_000, 16)).astype(np.float32)
    out = reference.exact_qps(base, base[:50], "l2", seconds=0.0, max_queries=20)
    assert out["queries"] == 3 and out["exact_qps"] > 0  # stops at min_queries once past the time
    out = reference.exact_qps(base, base[:50], "ip", seconds=60.0, max_queries=20)
    assert out["queries"] == 20


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="pinning two runs needs two cores")
def test_parallel_runs_are_pinned_to_their_own_cores_and_measure_the_same(workload, tmp_path):
    algs = {k: v for k, v in ALGORITHMS.items() if k != "test-slow-build"}
    solo = sweep(cfg(algs), [workload], tmp_path / "solo", progress=False)
    pinned = sweep(cfg(algs), [workload], tmp_path / "pinned", progress=False, executor=LocalExecutor(jobs=2))
    assert [o.status for o in solo] == [o.status for o in pinned] == ["ok"] * 4
    for a, b in zip(solo, pinned):
        assert a.path.relative_to(tmp_path / "solo") == b.path.relative_to(tmp_path / "pinned")
        assert _recalls(a.path) == _recalls(b.path)
        # each pinned run saw one core and used one thread in its all-cores mode
        assert _attrs(b.path, "machine")["cores_available"] == 1
        assert _attrs(b.path, "threads")["batch_all_cores"] == 1
        stats = _attrs(b.path, "build_stats")
        assert stats["reference"]["exact_qps"] > 0 and stats["reference"]["queries"] >= 3
        with h5py.File(b.path) as f:
            m = json.loads(f["query/000/k010"].attrs["metrics"])
        assert m["speedup_single"] == pytest.approx(m["qps_single"] / stats["reference"]["exact_qps"])
    with pytest.raises(ConfigError, match="--threads 2 with --jobs 2"):
        LocalExecutor(jobs=2, threads=2)


def test_a_killed_sweep_takes_its_worker_with_it(workload, tmp_path):
    cfg_file = tmp_path / "algorithms.yaml"
    cfg_file.write_text("settings: {repeats: 1}\nalgorithms:\n  test-slow-build: {build: {ms_per_item: [60.0]}}\n")
    env = dict(os.environ, ANN_BENCH_HOME=str(tmp_path))
    cmd = [sys.executable, "-m", "ann_bench.cli", "sweep", "--config", str(cfg_file), "--workloads", str(workload)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline, workers = time.time() + 60, []
    while time.time() < deadline and not workers:
        time.sleep(0.1)
        workers = sweep_workers(proc.pid)
    assert workers, "the worker did not start"
    time.sleep(1.0)  # well inside its 60 s build
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    gone, alive = psutil.wait_procs(workers, timeout=5)
    assert not alive, "the worker outlived the sweep that started it"


def test_ray_cluster_losing_a_node_ends_with_the_local_runs_files(workload, tmp_path, monkeypatch):
    """A real cluster of raylets on this machine: two runs done locally first (resume across
    executors), the rest on Ray, the node running the slow build killed mid-build."""
    ray = pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    from ann_bench.sweep.executors.ray_cluster import RayExecutor, node_cache

    monkeypatch.setenv("ANN_BENCH_NODE_CACHE", str(tmp_path / "node-cache"))
    # one thread in the all-cores mode, as on the one-CPU nodes below: the same run definitions
    local = sweep(cfg(ALGORITHMS), [workload], tmp_path / "local", progress=False, threads_all=1)
    assert [o.status for o in local] == ["ok"] * 5
    on_ray = tmp_path / "ray"
    for o in local[:2]:  # faiss-flat and numpy-bruteforce: finished before, kept
        dest = on_ray / o.path.relative_to(tmp_path / "local")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(o.path, dest)

    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 0, "include_dashboard": False,  # the head schedules, it measures nothing
        "_system_config": {"health_check_period_ms": 200, "health_check_failure_threshold": 5,
                           "health_check_initial_delay_ms": 0},
    })
    try:
        nodes = [cluster.add_node(num_cpus=1) for _ in range(2)]
        cluster.wait_for_nodes()
        by_id = {n.node_id: n for n in nodes}
        killed = []

        def kill_slow_build_node(task, node_id):
            if task.job["algorithm"] == "test-slow-build" and not killed:
                killed.append((task.key, node_id))
                threading.Timer(1.5, cluster.remove_node, (by_id[node_id],), {"allow_graceful": False}).start()

        ex = RayExecutor(cluster.address, ship="always", on_start=kill_slow_build_node)
        assert ex.threads_all == 1
        outcomes = sweep(cfg(ALGORITHMS), [workload], on_ray, progress=False, executor=ex)
    finally:
        ray.shutdown()
        cluster.shutdown()

    assert [o.status for o in outcomes] == ["kept", "kept", "ok", "ok", "ok"]
    assert sorted(p.relative_to(on_ray) for p in result_files(on_ray)) == \
        sorted(p.relative_to(tmp_path / "local") for p in result_files(tmp_path / "local"))
    for o in local:
        assert _recalls(on_ray / o.path.relative_to(tmp_path / "local")) == _recalls(o.path)
    slow = next(o.path for o in outcomes if o.path.parent.name == "test-slow-build")
    key, lost = killed[0]
    sent_to = ex.ran_on[key]
    assert len(sent_to) == 2 and sent_to[0] == lost != sent_to[1]  # lost once, then run elsewhere
    assert _attrs(slow, "machine")["node"] == sent_to[1]
    # shipped through the object store, once into each node that measured something
    whash = wformat.stored_hash(workload)
    for node_id in set(sum(ex.ran_on.values(), [])):
        assert (node_cache(node_id) / f"{whash}.hdf5").is_file()
    assert f"shipped through Ray's object store to {len(set(sum(ex.ran_on.values(), [])))} (1 workload(s)" in ex.shipping()


def _worker_running(algorithm: str) -> bool:
    """Whether a worker measuring ``algorithm`` runs on this machine (on Ray, a raylet's
    grandchild, not the driver's)."""
    for p in psutil.process_iter(["cmdline"]):
        cmd = p.info["cmdline"] or []
        if "ann_bench.sweep.worker" in cmd:
            try:
                if json.loads((Path(cmd[-1]) / "job.json").read_text())["algorithm"] == algorithm:
                    return True
            except (OSError, ValueError, KeyError):
                pass
    return False


def test_a_driver_killed_mid_sweep_on_ray_resumes_and_a_shared_path_is_read_in_place(workload, tmp_path, monkeypatch):
    """`sweep --ray local` killed (SIGKILL) during its slow build, then run again: every run is
    recorded once, with the local runner's files and recalls. The one node sees the driver's
    workload path, so nothing goes through the object store or into the node cache."""
    pytest.importorskip("ray")
    local = sweep(cfg(ALGORITHMS), [workload], tmp_path / "local", progress=False, threads_all=1)
    cfg_file = tmp_path / "algorithms.yaml"
    cfg_file.write_text(json.dumps({"settings": {"repeats": 1}, "algorithms": ALGORITHMS}))
    cache = tmp_path / "node-cache"
    env = dict(os.environ, ANN_BENCH_HOME=str(tmp_path), ANN_BENCH_NODE_CACHE=str(cache))
    on_ray = tmp_path / "ray"
    cmd = [sys.executable, "-m", "ann_bench.cli", "sweep", "--config", str(cfg_file), "--workloads", str(workload),
           "--results", str(on_ray), "--ray", "local", "--threads", "1"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None and not _worker_running("test-slow-build"):
        time.sleep(0.1)
    assert proc.poll() is None, "the sweep ended before its slow build started"
    before = sorted(result_files(on_ray))
    proc.kill()
    proc.wait()
    assert len(before) < 5, "the driver was killed after the sweep had finished"
    stamps = {p: p.stat().st_mtime_ns for p in before}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert sorted(p.relative_to(on_ray) for p in result_files(on_ray)) == \
        sorted(p.relative_to(tmp_path / "local") for p in result_files(tmp_path / "local"))
    assert all(p.stat().st_mtime_ns == t for p, t in stamps.items()), "a run finished before the kill was measured again"
    for o in local:
        assert _recalls(on_ray / o.path.relative_to(tmp_path / "local")) == _recalls(o.path)
    assert "read at the driver's path on 1 node(s), shipped through Ray's object store to 0 (0 workload(s), 0.0 MB put)" \
        in done.stdout, done.stdout
    assert not cache.exists(), "the workload was cached although the node reads the driver's path"
