import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ann_bench.cli import main
from ann_bench.host import x86_avx2

from movielens_fixtures import write_release


def test_unknown_variant_is_one_line_with_a_suggestion(capsys):
    assert main(["data", "fetch", "ml-lates-small", "--no-download"]) == 2
    err = capsys.readouterr().err
    assert "Did you mean 'ml-latest-small'" in err and "Traceback" not in err


def test_missing_local_copy_without_download_names_the_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ANN_BENCH_HOME", str(tmp_path))
    assert main(["data", "fetch", "ml-1m", "--no-download"]) == 2
    assert str(tmp_path / "datasets" / "movielens") in capsys.readouterr().err


def test_prepare_and_train_from_a_local_folder(tmp_path, monkeypatch, capsys):
    """The console script end to end on a generated ml-100k-layout folder (no network)."""
    folder = write_release(tmp_path / "src", "100k", name="ml-100k")
    monkeypatch.setenv("ANN_BENCH_HOME", str(tmp_path))
    # an extracted folder is accepted (unverified: folders have no published checksum)
    assert main(["data", "prepare", "ml-100k", "--source", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "train" in out and "test" in out and "wrote" in out
    args = ["train", "ml-100k", "--source", str(folder), "--epochs", "2", "--dim", "8", "--temperature", "0.1", "0.3", "--no-baselines"]
    assert main(args) == 0
    assert main(args) == 0  # the same configuration again: nothing is retrained
    assert "already trained" in capsys.readouterr().out
    bundles = list((tmp_path / "datasets" / "models").glob("ml-100k.*"))
    assert len(bundles) == 1
    report = json.loads((bundles[0] / "metrics.json").read_text())
    tt = report["models"]["two-tower"]
    assert set(report["models"]) == {"two-tower"} and tt["test"]["users"] > 0
    assert [g["temperature"] for g in tt["grid"]] == [0.1, 0.3]
    assert tt["config"]["temperature"] == max(tt["grid"], key=lambda g: g["val_recall@50"])["temperature"]
    assert main(["models", "table"]) == 0
    assert "| ml-100k | 0 | two-tower (dot) |" in capsys.readouterr().out
    # the next stage reads the model's files: workloads and their inspection
    assert main(["workloads", "build", "ml-100k", "--kinds", "u2i", "--u2i-metrics", "ip", "--threads", "1"]) == 0
    assert (tmp_path / "datasets" / "workloads" / "ml-100k.dot.u2i.ip.hdf5").is_file()
    capsys.readouterr()
    assert main(["workloads", "info", "ml-100k.dot.u2i.ip"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["metric"] == "ip" and info["kind"] == "u2i" and info["difficulty"]["lid_median"] > 0
    assert set(info["metric_comparison"]["recommendation_of_exact_search"]) == {"ip", "cosine", "l2"}
    # where the vectors were trained, carried from the model to its workloads
    assert info["trained_on"] == report["device"] and info["trained_on"]["cpu_kernels"] and info["trained_on"]["threads"] == 1
    assert main(["workloads", "info", "ml-100k.dot.u2i.cosin"]) == 2
    assert "Known: ml-100k.dot.u2i.ip" in capsys.readouterr().err
    # no cos model trained yet: the one line says how to train one
    assert main(["workloads", "build", "ml-100k", "--model", "cos"]) == 2
    assert "no trained cos model for ml-100k" in capsys.readouterr().err


def test_bring_your_own_embeddings(tmp_path, monkeypatch, capsys):
    import numpy as np

    monkeypatch.setenv("ANN_BENCH_HOME", str(tmp_path))
    rng = np.random.default_rng(0)
    np.save(tmp_path / "base.npy", rng.standard_normal((300, 12)).astype(np.float32))
    np.save(tmp_path / "queries.npy", rng.standard_normal((20, 12)))
    np.save(tmp_path / "bad.npy", rng.standard_normal((20, 5)))
    args = ["workloads", "import", "mine", "--base", str(tmp_path / "base.npy"), "--metric", "ip", "--threads", "1", "--queries"]
    assert main(args + [str(tmp_path / "queries.npy")]) == 0
    assert main(["workloads", "list"]) == 0
    assert "mine" in capsys.readouterr().out
    assert main(args + [str(tmp_path / "bad.npy")]) == 2
    assert "dimension 12 but queries have 5" in capsys.readouterr().err
    assert main(args + [str(tmp_path / "nope.npy")]) == 2
    assert "nope.npy does not exist" in capsys.readouterr().err

    # seen and relevant items as (query row, base row) pairs: filtered ground truth comes with them
    from ann_bench.workloads import exact_knn, read

    seen = np.array([[0, 5], [0, 7], [3, 1], [19, 299]])
    np.save(tmp_path / "seen.npy", seen)
    np.save(tmp_path / "rel.npy", np.array([[1, 2]]))
    np.save(tmp_path / "bad_pairs.npy", np.array([[20, 1]]))
    q = str(tmp_path / "queries.npy")
    assert main(args + [q, "--seen", str(tmp_path / "seen.npy"), "--relevant", str(tmp_path / "rel.npy")]) == 0
    w = read(tmp_path / "datasets" / "workloads" / "mine.hdf5")
    assert list(w.seen[0]) == [5, 7] and list(w.seen[3]) == [1] and len(w.seen[1]) == 0 and list(w.relevant[1]) == [2]
    ref, _ = exact_knn(w.test, w.train, 100, "ip", exclude=[w.seen[i] for i in range(20)])
    np.testing.assert_array_equal(w.filtered_neighbors, ref)
    assert main(args + [q, "--seen", str(tmp_path / "bad_pairs.npy")]) == 2
    assert "query row 20 is out of range (there are 20 query vectors)" in capsys.readouterr().err


def test_console_script_runs():
    out = subprocess.run([sys.executable, "-m", "ann_bench.cli", "data", "variants"], capture_output=True, text=True, check=True)
    assert "ml-32m" in out.stdout


def test_a_second_results_folder_is_swept_and_reported_on_its_own(tmp_path, monkeypatch, capsys):
    import numpy as np

    from ann_bench.results.table import gather

    monkeypatch.setenv("ANN_BENCH_HOME", str(tmp_path))
    np.save(tmp_path / "base.npy", np.random.default_rng(0).standard_normal((300, 8)).astype(np.float32))
    np.save(tmp_path / "queries.npy", np.random.default_rng(1).standard_normal((10, 8)).astype(np.float32))
    assert main(["workloads", "import", "mine", "--base", str(tmp_path / "base.npy"), "--queries", str(tmp_path / "queries.npy"),
                 "--metric", "l2", "--threads", "1"]) == 0
    for name, build in (("one.yaml", "{M: [8]}"), ("two.yaml", "{M: [16]}")):
        (tmp_path / name).write_text("settings: {repeats: 1, k: [10]}\nworkloads: [mine]\n"
                                     f"algorithms:\n  hnswlib: {{build: {build}, query: {{ef: [10]}}}}\n")
    assert main(["sweep", "--config", str(tmp_path / "one.yaml")]) == 0
    assert main(["sweep", "--config", str(tmp_path / "two.yaml"), "--results", str(tmp_path / "results" / "scale")]) == 0
    assert set(gather(tmp_path / "results")["build_params"]) == {"M=8,ef_construction=200,seed=100"}  # not the nested folder
    assert set(gather(tmp_path / "results" / "scale")["build_params"]) == {"M=16,ef_construction=200,seed=100"}
    assert main(["report", "--results", str(tmp_path / "results" / "scale")]) == 0
    assert (tmp_path / "results" / "scale" / "report" / "index.html").is_file()
    assert not (tmp_path / "results" / "report").exists()


def test_algorithms_lists_every_adapter_with_its_version_and_parameters(capsys, monkeypatch):
    """`ann-bench algorithms`: a line per adapter with the installed version (or why it cannot
    run here); `ann-bench algorithms NAME`: every parameter with its type, default and help."""
    import importlib.metadata

    from ann_bench.sweep import registry

    monkeypatch.setenv("ANN_BENCH_PLUGINS", "plugin_adapters")
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    assert main(["algorithms"]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line.strip() and "`" not in line}
    assert set(lines) == set(registry.names())
    assert f"faiss-cpu {importlib.metadata.version('faiss-cpu')}" in lines["faiss-hnsw"]
    assert "ip (via reduction to l2 or cosine)" in lines["pynndescent"]
    assert "ann-bench-no-such-library is not installed here" in lines["test-not-installed"]
    assert main(["algorithms", "faiss-ivfpq"]) == 0
    out = capsys.readouterr().out
    for kind, params in (("build", registry.get("faiss-ivfpq").build_params), ("query", registry.get("faiss-ivfpq").query_params)):
        for name, p in params.items():
            row = next(line for line in out.splitlines() if line.split()[:2] == [kind, name])
            assert p.type.__name__ in row and str(p.default) in row and p.help in row, row
    assert "bisected in 1..nlist" in out and "(only with refine)" in out
    assert main(["algorithms", "hnswlb"]) == 2
    assert "Did you mean 'hnswlib'" in capsys.readouterr().err


@pytest.mark.skipif(not x86_avx2(), reason="torch's kernels are pinned on x86-64 CPUs with AVX2 only")
def test_the_train_command_trains_with_avx2_kernels_whatever_the_cpu(tmp_path):
    """A fresh `ann-bench train` (torch not yet imported) pins the kernels under torch to AVX2,
    whatever the CPU offers (their width changes the vectors: README, "Two-tower model"); a level
    the user set is kept, and the bundle says which ran."""
    folder = write_release(tmp_path / "src", "100k", name="ml-100k")
    pins = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_CBWR": "AVX2"}
    clean = {k: v for k, v in os.environ.items() if k not in pins}
    kernels = {}
    for env in ({}, {"ATEN_CPU_CAPABILITY": "default"}):
        home = tmp_path / f"home{len(env)}"
        run = [sys.executable, "-m", "ann_bench.cli", "train", "ml-100k", "--source", str(folder), "--epochs", "1",
               "--dim", "8", "--temperature", "0.2", "--no-baselines"]
        subprocess.run(run, env=clean | {"ANN_BENCH_HOME": str(home)} | env, capture_output=True, check=True)
        (metrics,) = (home / "datasets" / "models").glob("*/metrics.json")
        facts = json.loads(metrics.read_text())["device"]
        kernels[len(env)] = facts["cpu_kernels"], facts["pinned"]
    assert kernels == {0: ("AVX2", pins), 1: ("DEFAULT", pins | {"ATEN_CPU_CAPABILITY": "default"})}
