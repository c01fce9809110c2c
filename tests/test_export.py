"""Results leave the tool: a Parquet table equal to the CSV one, and runs in ann-benchmarks'
result layout read back the way its plot.py reads them (os.walk over results/<dataset>/<count>,
k-nn recall from distances against the dataset's, QPS = 1 / best_search_time)."""

import os
import shutil

import h5py
import numpy as np
import pandas as pd
import pytest

from ann_bench.cli import main
from ann_bench.results.table import gather
from ann_bench.sweep.runner import sweep

from sweep_fixtures import cfg, plugins, workload  # noqa: F401  (pytest fixtures)


@pytest.fixture
def swept(workload, tmp_path, monkeypatch):
    home = tmp_path / "home"
    placed = home / "datasets" / "workloads" / workload.name
    placed.parent.mkdir(parents=True)
    shutil.copy(workload, placed)
    monkeypatch.setenv("ANN_BENCH_HOME", str(home))
    sweep(cfg({"faiss-flat": {}, "hnswlib": {"build": {"M": [4]}, "query": {"ef": [1, 4, 50]}},
               "hnswlib-via-l2": {"adapter": "hnswlib", "ip_via": "l2", "build": {"M": [4]}, "query": {"ef": [4, 50]}}},
              k=[10, 100]),
          [placed], home / "results", progress=False)
    return home


def _ann_benchmarks_read(root, dataset, count):
    """What ann-benchmarks' plot.py computes per run file: (algo, name, k-nn recall, QPS)."""
    with h5py.File(root / "data" / f"{dataset}.hdf5", "r") as d:
        true = np.asarray(d["distances"])
    out = []
    for folder, _, files in os.walk(root / "results" / dataset / str(count)):
        for name in files:
            with h5py.File(os.path.join(folder, name), "r") as f:
                props = dict(f.attrs)
                assert props["batch_mode"] == False  # noqa: E712 (numpy bool)
                run = np.asarray(f["distances"])
                thresholds = true[:, count - 1] + 1e-3
                recall = np.mean([(r[:count] <= t).sum() for r, t in zip(run, thresholds)]) / count
                out.append((props["algo"], props["name"], recall, 1.0 / props["best_search_time"], len(f["times"])))
    return out


def test_results_table_writes_csv_and_an_equal_parquet(swept, capsys):
    out = swept / "results"
    assert main(["results", "table", "--results", str(out), "-o", str(out / "t.csv"), str(out / "t.parquet")]) == 0
    csv, parquet = pd.read_csv(out / "t.csv"), pd.read_parquet(out / "t.parquet")
    assert list(csv.columns) == list(parquet.columns) and len(csv) == len(parquet) > 0
    for col in ("recall@10", "qps_single", "build_s"):
        np.testing.assert_allclose(csv[col].to_numpy(float), parquet[col].to_numpy(float), equal_nan=True)


def test_ann_benchmarks_layout_is_read_back_with_the_same_recall_and_qps(swept, tmp_path, capsys):
    dest = tmp_path / "annb"
    assert main(["results", "export", "--format", "ann-benchmarks", str(dest), "--results", str(swept / "results")]) == 0
    assert "dataset(s)" in capsys.readouterr().out
    df = gather(swept / "results")
    ours = df[(df["search"] == "knn") & (df["duplicate_of"] == "")]
    for count in (10, 100):
        read = _ann_benchmarks_read(dest, "tiny.u2i.ip", count)
        mine = ours[ours["k"] == count]
        assert len(read) == len(mine) >= 3  # at k = 100 every ef below 100 searches as ef = 100: one each
        for algo, name, recall, qps, n in read:
            row = mine[(mine["algorithm"] == algo) & (name == mine["algorithm"] + "(" + mine["build_params"] + ";" + mine["query_params"] + ")")]
            assert len(row) == 1, name
            assert recall == pytest.approx(row[f"recall@{count}"].iloc[0], abs=1e-9), name
            assert qps == pytest.approx(row["qps_single"].iloc[0], rel=1e-5), name
            assert n == 40  # one time per query
    assert {a for a, *_ in _ann_benchmarks_read(dest, "tiny.u2i.ip", 10)} >= {"hnswlib", "hnswlib-via-l2 (ip via l2)"}


def test_mlflow_gets_one_run_per_configuration_with_its_parameters_and_measures(swept, capsys):
    """A local SQLite store, offline: one MLflow run per (workload, algorithm, build, query
    configuration), its parameters, recall and QPS at each depth equal to the results table's,
    tagged with the machine; logging again adds nothing."""
    mlflow = pytest.importorskip("mlflow")
    results = swept / "results"
    assert main(["results", "export", "--format", "mlflow", "--results", str(results)]) == 0
    assert "configurations logged to sqlite:///" in capsys.readouterr().out
    client = mlflow.tracking.MlflowClient(tracking_uri=f"sqlite:///{results.resolve() / 'mlflow.db'}")
    exp = client.get_experiment_by_name("ann-bench")
    logged = client.search_runs([exp.experiment_id], max_results=1000)
    df = gather(results)
    knn = df[(df["search"] == "knn") & (df["duplicate_of"] == "")]
    assert len(logged) == knn.groupby(["file", "requested_params"]).ngroups
    for run in logged:
        tags, params, metrics = run.data.tags, run.data.params, run.data.metrics
        rows = knn[(knn["file"] == tags["file"]) & (knn["requested_params"] == tags["ann_bench.key"].split("#")[1])]
        assert tags["cpu"] == rows["cpu"].iloc[0] and tags["algorithm"] == rows["algorithm"].iloc[0]
        for _, row in rows.iterrows():
            k = row["k"]
            assert metrics[f"recall_at_{k}"] == pytest.approx(row[f"recall@{k}"])
            assert metrics[f"qps_single_at_{k}"] == pytest.approx(row["qps_single"])
        assert metrics["build_s"] == pytest.approx(rows["build_s"].iloc[0])
        build = dict(kv.split("=") for kv in rows["build_params"].iloc[0].split(",") if "=" in kv)
        assert {k.removeprefix("build."): v for k, v in params.items() if k.startswith("build.")} == build
    assert main(["results", "export", "--format", "mlflow", "--results", str(results)]) == 0
    assert "0 configurations logged" in capsys.readouterr().out
