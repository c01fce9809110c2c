import json
import subprocess
import sys

import pytest

from ann_bench.cli import main

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
    bundles = list((tmp_path / "datasets" / "models").glob("ml-100k.*"))
    assert len(bundles) == 1
    report = json.loads((bundles[0] / "metrics.json").read_text())
    tt = report["models"]["two-tower"]
    assert set(report["models"]) == {"two-tower"} and tt["test"]["users"] > 0
    assert [g["temperature"] for g in tt["grid"]] == [0.1, 0.3]
    assert tt["config"]["temperature"] == max(tt["grid"], key=lambda g: g["val_recall@50"])["temperature"]
    assert main(["models", "table"]) == 0
    assert "| ml-100k | two-tower |" in capsys.readouterr().out


def test_console_script_runs():
    out = subprocess.run([sys.executable, "-m", "ann_bench.cli", "data", "variants"], capture_output=True, text=True, check=True)
    assert "ml-32m" in out.stdout
