"""The GPU paths (issue 17): exact search and ground truth in PyTorch, training on a device.

Every test runs its torch code on the CPU here (the GPU's code path, ``torch-cpu``) and again on
``cuda`` where a CUDA GPU is usable; without one, the CUDA cases skip and a request for a GPU is
a one-line error."""

import numpy as np
import pandas as pd
import pytest
import torch

from ann_bench.errors import ConfigError
from ann_bench.sweep import registry
from ann_bench.workloads import groundtruth
from ann_bench.workloads.groundtruth import exact_knn
from movielens_fixtures import prepared  # noqa: F401  (pytest fixtures)
from sweep_fixtures import cfg, workload  # noqa: F401

CUDA = torch.cuda.is_available()
needs_cuda = pytest.mark.skipif(not CUDA, reason="needs a CUDA GPU")
TORCH_DEVICES = ["torch-cpu", pytest.param("cuda", marks=needs_cuda)]
ADAPTER_DEVICES = ["cpu", pytest.param("cuda", marks=needs_cuda)]


def float64_truth(q, x, k, metric, exclude=None):
    """Independently: the full float64 distance matrix, stable argsort (ties by id). Cosine ranks
    the unit vectors as stored in float32 (a float32 step of normalisation outweighs the twins)."""
    if metric == "cosine":
        q, x = (groundtruth.normalize(v) for v in (q, x))
    q, x = q.astype(np.float64), x.astype(np.float64)
    d = np.sqrt(((q[:, None, :] - x[None, :, :]) ** 2).sum(-1)) if metric == "l2" else -(q @ x.T)
    for i, ex in enumerate(exclude or []):
        d[i, ex] = np.inf
    return np.argsort(d, axis=1, kind="stable")[:, :k]


def hard_catalog(metric, n=3_000, dim=32, nq=24, k=10, seed=0):
    """Random vectors with two traps at the k-th answer of some queries: 40 exact copies of the
    item ranked 6th (a tie wider than the candidates' margin: the order must go by id), and
    twins one float32 step apart in one coordinate (float32 sums may tie or swap them; float64
    does not)."""
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((n, dim)) * rng.uniform(0.5, 2.0, (n, 1))).astype(np.float32)
    q = rng.standard_normal((nq, dim)).astype(np.float32)
    for i in range(0, nq, 3):
        order = float64_truth(q[i : i + 1], x, k, metric)[0]
        copies = rng.choice(n, 40, replace=False)
        x[copies] = x[order[5]]
        twin = rng.integers(n)
        x[twin] = x[order[8]]
        x[twin, 0] = np.nextafter(x[twin, 0], np.float32(np.inf))
    seen = [rng.choice(n, rng.integers(0, 30), replace=False) for _ in range(nq)]
    return x, q, seen


@pytest.mark.parametrize("metric", ["ip", "cosine", "l2"])
@pytest.mark.parametrize("device", TORCH_DEVICES)
def test_ground_truth_is_the_same_on_every_device_ties_included(metric, device):
    x, q, seen = hard_catalog(metric)
    cpu_ids, cpu_d = exact_knn(q, x, 10, metric)
    np.testing.assert_array_equal(cpu_ids, float64_truth(q, x, 10, metric))
    ids, d = exact_knn(q, x, 10, metric, device=device, query_block=5, tile=700)
    np.testing.assert_array_equal(ids, cpu_ids)
    np.testing.assert_array_equal(d, cpu_d)
    f_ids, f_d = exact_knn(q, x, 10, metric, exclude=seen, device=device)
    np.testing.assert_array_equal(f_ids, float64_truth(q, x, 10, metric, exclude=seen))
    cpu_f_ids, cpu_f_d = exact_knn(q, x, 10, metric, exclude=seen)
    np.testing.assert_array_equal(f_ids, cpu_f_ids)
    np.testing.assert_array_equal(f_d, cpu_f_d)


def test_a_row_whose_candidates_may_miss_an_answer_is_searched_again(monkeypatch):
    # with one candidate beyond k, every row with a tie or near-tie past its k-th must be searched
    # again with more; the answer is the float64 one all the same
    monkeypatch.setattr(groundtruth, "MARGIN", 1)
    calls = []
    search = groundtruth.candidate_search

    def counted(*args, **kwargs):
        inner = search(*args, **kwargs)
        return lambda rows, kk: calls.append((len(rows), kk)) or inner(rows, kk)

    monkeypatch.setattr(groundtruth, "candidate_search", counted)
    x, q, _ = hard_catalog("ip")
    ids, _ = exact_knn(q, x, 10, "ip")
    np.testing.assert_array_equal(ids, float64_truth(q, x, 10, "ip"))
    assert calls[0] == (len(q), 11) and len(calls) > 1 and calls[1][0] < len(q), calls


def test_the_rounding_bound_holds_for_float32_products():
    # the bound must cover the error of any float32 summation order: check the naive one
    # (sequential, the worst usual order) against float64 on vectors with large norms
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((400, 256)) * 100).astype(np.float32)
    q = (rng.standard_normal((8, 256)) * 100).astype(np.float32)
    exact = q.astype(np.float64) @ x.astype(np.float64).T
    seq = np.zeros((8, 400), np.float32)
    for j in range(256):
        seq = seq + q[:, j : j + 1] * x[None, :, j][0]
    bound = groundtruth.rounding_bound(q, x, "ip")
    assert (np.abs(seq - exact) <= bound[:, None]).all()
    assert (np.abs(seq - exact).max(axis=1) > bound / 1e4).all(), "a bound this loose would make every row search again"


@pytest.mark.parametrize("device", ADAPTER_DEVICES)
@pytest.mark.parametrize("metric", ["ip", "cosine", "l2"])
def test_torch_exact_finds_the_ground_truth_and_records_where_it_ran(device, metric):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((5_000, 24)).astype(np.float32)
    q = rng.standard_normal((40, 24)).astype(np.float32)
    truth, _ = exact_knn(q, x, 10, metric)
    cls = registry.get(registry.for_metric("torch-exact", metric))
    index = cls(metric, 24, threads=2, device=device)
    index.fit(x)
    index.set_query_params()
    pq = index.prepare_queries(q)
    for found in (index.search_batch(pq, 10, 1), index.search_batch(pq, 10, 2),
                  np.array([index.search_one(v, 10) for v in index.split_queries(pq)])):
        assert np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, truth)]) == 1.0
    env = index.environment()
    assert env["device"].startswith(device) and env["torch"] == torch.__version__
    if device == "cuda":
        assert env["gpu"] and env["cuda"] and env["device_index_mb"] >= x.nbytes / 2**20


@pytest.mark.parametrize("device", ADAPTER_DEVICES)
def test_a_sweep_row_says_where_torch_exact_ran_and_what_it_holds_there(device, workload, tmp_path):
    from ann_bench.results.table import gather
    from ann_bench.sweep.runner import sweep

    c = cfg({"torch-exact": {"build": {"device": [device]}}}, k=[10], filtered_k=0)
    sweep(c, [workload], tmp_path / "r", progress=False)
    row = gather(tmp_path / "r").iloc[0]
    assert row["status"] == "ok" and row["recall@10"] == 1.0
    if device == "cpu":
        assert row["device"] == "cpu" and pd.isna(row["device_index_mb"])
    else:  # the base (1,000 x 8 float32) sits in GPU memory, not in the host's index_mb
        assert row["device"] == torch.cuda.get_device_name() and row["device_index_mb"] >= 1_000 * 8 * 4 / 2**20


@pytest.mark.skipif(CUDA, reason="a CUDA GPU is usable here")
def test_asking_for_a_gpu_without_one_is_a_one_line_error(tmp_path):
    from ann_bench.torch_search import device
    from ann_bench.workloads.build import WorkloadSpec

    x = np.zeros((10, 4), np.float32)
    with pytest.raises(ConfigError, match="device 'cuda': no CUDA GPU is usable here.*use --device cpu"):
        exact_knn(x, x, 3, "ip", device="cuda")
    with pytest.raises(ConfigError, match="no CUDA GPU"):
        WorkloadSpec(device="cuda:0").ground_truth_device()
    with pytest.raises(ConfigError, match="no CUDA GPU"):
        registry.get("torch-exact")("ip", 4, device="cuda").fit(x)
    with pytest.raises(ConfigError, match="'gpu' is not a torch device"):
        device("gpu")


def test_recommendation_says_where_exact_search_on_a_gpu_beats_every_cpu_index():
    import pandas as pd

    from ann_bench.analysis.tables import recommend

    def row(algorithm, adapter, recall, qps, device="cpu"):
        return {"workload": "w.dot.u2i.ip", "algorithm": algorithm, "adapter": adapter, "status": "ok", "search": "knn",
                "k": 10, "duplicate_of": "", "recall@10": recall, "qps_single": qps, "build_params": "b", "query_params": "q",
                "build_s": 1.0, "index_mb": 1.0, "contended": False, "build_contended": False, "modes_disagree": False,
                "device": device}

    rows = [row("hnswlib", "hnswlib", 0.92, 9000), row("hnswlib", "hnswlib", 0.995, 2000),
            row("faiss-flat", "faiss-flat", 1.0, 500), row("torch-exact-gpu", "torch-exact", 1.0, 5000, "NVIDIA H100 80GB HBM3")]
    rec = recommend(pd.DataFrame(rows), targets=(0.9, 0.99)).set_index("target")
    # the CPU baseline stays the CPU's exact search; the GPU is a second line
    assert (rec["exact_qps"] == 500).all() and (rec["best_index"] == "hnswlib").all()
    assert rec.loc[0.9, "gpu_verdict"] == "a CPU index beats exact search on a GPU (1.8x)"
    assert rec.loc[0.99, "gpu_verdict"] == "exact search on a GPU beats every CPU index (2.5x)"
    assert "gpu_verdict" not in recommend(pd.DataFrame(rows[:3]), targets=(0.9,))


def test_gpu_rows_are_only_compared_with_cpu_runs_of_their_own_machine():
    from ann_bench.analysis.comparable import choose

    def row(n, algorithm, cpu, qps, device="cpu"):
        return {"file": f"{n}.hdf5", "algorithm": algorithm, "status": "ok", "cpu": cpu, "device": device,
                "qps_single": qps, "qps_batch_nt": 10 * qps, "speedup_single": qps / 100}

    h100 = "NVIDIA H100 80GB HBM3"
    laptop = [row(1, "hnswlib", "laptop CPU", 9000), row(2, "faiss-flat", "laptop CPU", 100)]
    # exact search on a GPU measured on a machine where no CPU index ran: nothing there to compare with
    df, basis = choose(pd.DataFrame(laptop + [row(3, "torch-exact-gpu", "server CPU", 3000, h100)]))
    assert list(df["file"]) == ["1.hdf5", "2.hdf5"] and basis.column == "qps_single"
    assert "1 result file(s) of search on a GPU are left out: no CPU index ran on their machine" in basis.note
    # beside the server's own CPU runs it stays in raw QPS; normalised by a CPU's exact search it goes
    server = [row(4, "faiss-flat", "server CPU", 80), row(5, "scann", "server CPU", 7000),
              row(6, "hnswlib", "server CPU", 8000), row(3, "torch-exact-gpu", "server CPU", 3000, h100)]
    df, basis = choose(pd.DataFrame(laptop + server), "qps_batch_nt")
    assert set(df["file"]) == {"3.hdf5", "4.hdf5", "5.hdf5", "6.hdf5"} and basis.column == "qps_batch_nt"
    df, basis = choose(pd.DataFrame(laptop + server))
    assert basis.normalised and "3.hdf5" not in set(df["file"]) and "measures neither" in basis.note
    df, basis = choose(pd.DataFrame(server))
    assert "3.hdf5" in set(df["file"]) and basis.column == "qps_single" and "GPU" not in basis.note


@needs_cuda
def test_training_on_a_gpu_follows_the_same_protocol(prepared):
    from ann_bench.data import TEST
    from ann_bench.embeddings.config import MODELS, TowerConfig, TrainConfig
    from ann_bench.embeddings.evaluate import dot_scorer, evaluate
    from ann_bench.embeddings.train import embeddings, train

    tower = TowerConfig(dim=16, hidden=64, dropout=0.0, id_dropout=0.0, **MODELS["cos"])
    cfg = TrainConfig(tower=tower, max_epochs=6, batch_size=256, patience=6, temperature=0.2)
    runs = {d: train(prepared, cfg, progress=False, device=d) for d in ("cpu", "cuda")}
    for d, trained in runs.items():
        assert next(trained.final.parameters()).device.type == "cpu", "a trained model comes back to the host"
        losses = [h["loss"] for h in trained.history]
        assert losses[-1] < losses[0] and all(h["epoch_s"] > 0 for h in trained.history), d
    # the same protocol: the same initial weights and the same batches (no dropout, whose draws are the
    # device's own), so the first epoch's mean loss agrees to rounding; later epochs drift apart as
    # rounding compounds (on a 60-item fixture Recall@10 differed by 0.10), so recall is only checked
    # to be learnt on each device
    first = {d: trained.history[0]["loss"] for d, trained in runs.items()}
    assert first["cuda"] == pytest.approx(first["cpu"], rel=1e-3), first
    assert len(runs["cuda"].history) == len(runs["cpu"].history)
    for d, trained in runs.items():
        e = embeddings(prepared, trained)
        recall = evaluate(prepared, dot_scorer(e["users"], e["items"]), TEST, ks=(10,))["recall@10"]
        assert recall > 0.3, (d, recall)  # 10 of 60 items at random: about 0.17


def test_a_model_trained_on_a_gpu_gets_its_own_bundle_and_the_cpu_name_stays(prepared):
    from ann_bench.embeddings.config import TrainConfig
    from ann_bench.embeddings.run import bundle_name

    cfg = TrainConfig()
    cpu = bundle_name(prepared, cfg, (0.1,))
    assert bundle_name(prepared, cfg, (0.1,), "cpu") == cpu
    assert bundle_name(prepared, cfg, (0.1,), "cuda") == bundle_name(prepared, cfg, (0.1,), "cuda:1") != cpu
