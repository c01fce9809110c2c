"""Bad input, hostile names, signals and I/O faults (issue 10): a clear one-line error (exit
status 2) or correct handling, never a traceback, nothing written outside its folder."""

import contextlib
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from ann_bench.cli import main
from ann_bench.data import fetch
from ann_bench.data.parse import load as parse_release
from ann_bench.errors import ConfigError, DataError
from ann_bench.sweep import config
from ann_bench.sweep.runner import sweep
from ann_bench.workloads import format as wformat
from ann_bench.workloads.groundtruth import exact_knn

from movielens_fixtures import variant_for, write_release, zip_release
from sweep_fixtures import TESTS, cfg, plugins, sweep_workers, workload  # noqa: F401  (pytest fixtures)

CLI = [str(Path(sys.executable).parent / "ann-bench")]


def run_cli(args, home: Path, cwd: Path | None = None, env: dict | None = None, **kw):
    env = env or dict(os.environ, ANN_BENCH_HOME=str(home))
    return subprocess.run(CLI + args, env=env, cwd=cwd or home, capture_output=True, text=True, timeout=300, **kw)


def one_line_error(proc, *fragments):
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    err = [line for line in proc.stderr.splitlines() if line.startswith("ann-bench: error:")]
    assert len(err) == 1, proc.stderr
    for f in fragments:
        assert f in err[0], err[0]


def files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


# --- names become paths only through one check ------------------------------------------

@pytest.mark.parametrize("label", ["../escape", "/tmp/abs", "a/b", "..", ".hidden", "x\x00y", "sp ace"])
def test_a_hostile_algorithm_label_is_refused(label):
    with pytest.raises(ConfigError, match="cannot name a file"):
        config.parse({"algorithms": {label: {"adapter": "faiss-flat"}}})


def test_a_hostile_workload_name_writes_nothing_outside(workload, tmp_path):
    w = wformat.read(workload)
    w.name = "../../outside"
    bad = wformat.write(w, tmp_path / "bad.hdf5")
    before = files_under(tmp_path)
    with pytest.raises(ConfigError, match="cannot name a file"):
        sweep(cfg({"faiss-flat": {}}), [bad], tmp_path / "home" / "results", progress=False)
    assert files_under(tmp_path) == before


def test_a_hostile_import_name_is_refused(tmp_path):
    np.save(tmp_path / "b.npy", np.ones((5, 3), np.float32))
    proc = run_cli(["workloads", "import", "../evil", "--base", str(tmp_path / "b.npy"), "--queries",
                    str(tmp_path / "b.npy"), "--metric", "ip"], tmp_path)
    one_line_error(proc, "'../evil' cannot name a file")
    assert not (tmp_path / "datasets" / "evil.hdf5").exists()


def test_two_workloads_with_one_name_are_refused(workload, tmp_path):
    w = wformat.read(workload)
    other = wformat.write(w, tmp_path / "copy" / "other.hdf5")  # the same internal name
    with pytest.raises(ConfigError, match="both called 'tiny.u2i.ip'"):
        sweep(cfg({"faiss-flat": {}}), [workload, other], tmp_path / "results", progress=False)


def test_two_labels_naming_one_result_folder_are_refused():
    with pytest.raises(ConfigError, match="same result folder as 'Flat'"):
        config.parse({"algorithms": {"Flat": {"adapter": "faiss-flat"}, "flat": {"adapter": "faiss-flat"}}})


# --- configuration files ----------------------------------------------------------------

def test_a_duplicate_yaml_key_is_refused(tmp_path):
    f = tmp_path / "a.yaml"
    f.write_text("algorithms:\n  hnswlib: {query: {ef: [10]}}\n  faiss-flat: {}\n  hnswlib: {query: {ef: [20]}}\n")
    with pytest.raises(ConfigError, match=r"key 'hnswlib' appears twice in one mapping \(lines 2 and 4\)"):
        config.load(f)


def test_settings_that_are_a_list_and_a_non_utf8_file_are_clear(tmp_path):
    with pytest.raises(ConfigError, match="settings: expected a mapping"):
        config.parse({"settings": [1, 2], "algorithms": {"faiss-flat": {}}})
    f = tmp_path / "latin1.yaml"
    f.write_bytes("algorithms:\n  faiss-flat: {}\n# caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8 text"):
        config.load(f)


def test_a_plugin_that_fails_to_import_is_one_line(tmp_path):
    (tmp_path / "broken_plugin.py").write_text("raise RuntimeError('plugin bug')\n")
    env = dict(os.environ, ANN_BENCH_PLUGINS="broken_plugin", PYTHONPATH=str(tmp_path), ANN_BENCH_HOME=str(tmp_path))
    (tmp_path / "algorithms.yaml").write_text("algorithms:\n  faiss-flat: {}\n")
    proc = subprocess.run(CLI + ["sweep", "--workloads", "x"], env=env, cwd=tmp_path, capture_output=True, text=True)
    one_line_error(proc, "'broken_plugin' failed while importing: RuntimeError: plugin bug")


# --- workload files ---------------------------------------------------------------------

def _mutated(workload, tmp_path, change) -> Path:
    w = wformat.read(workload)
    change(w)
    path = tmp_path / "bad.hdf5"
    import h5py

    wformat.write(wformat.read(workload), path)  # a valid file, then changed behind write()'s back
    with h5py.File(path, "r+") as f:
        for key in ("train", "test", "distances", "neighbors"):
            f[key][...] = getattr(w, key)
        del f.attrs["content_hash"]  # as in a foreign ann-benchmarks file: only the values can tell
    return path


@pytest.mark.parametrize("change, message", [
    (lambda w: w.distances.__setitem__(slice(None), 0.0), "do not match the vectors"),
    (lambda w: w.train.__setitem__((3, 0), np.nan), "'train' holds NaN or infinite values"),
    (lambda w: w.test.__setitem__((0, 1), np.inf), "'test' holds NaN or infinite values"),
    (lambda w: w.neighbors.__setitem__(slice(None), w.neighbors[:, ::-1]), "do not match the vectors"),
])
def test_a_workload_whose_values_are_wrong_is_refused(workload, tmp_path, change, message):
    with pytest.raises(DataError, match=message):
        wformat.read(_mutated(workload, tmp_path, change))


def test_a_workload_changed_after_its_hash_was_written_is_refused(workload, tmp_path):
    import h5py

    with h5py.File(workload, "r+") as f:
        f["train"][0] = f["train"][0] * 1.0001  # small enough for the ground truth check to pass
    with pytest.raises(DataError, match="changed after its content hash was written"):
        wformat.read(workload)


def test_zero_vectors_under_cosine_are_refused(tmp_path):
    x = np.random.default_rng(0).standard_normal((50, 4)).astype(np.float32)
    x[7] = 0
    ids, d = exact_knn(x[:5], x, 10, "cosine")
    with pytest.raises(DataError, match="'train' row 7 is a zero vector"):
        wformat.write(wformat.Workload("z", "cosine", x, x[:5], ids, d), tmp_path / "z.hdf5")


def test_ground_truth_narrower_than_k_is_refused(workload, tmp_path):
    with pytest.raises(ConfigError, match="settings.k: 200 is deeper than the ground truth of tiny.u2i.ip"):
        sweep(cfg({"faiss-flat": {}}, k=[10, 200]), [workload], tmp_path / "results", progress=False)


def test_import_of_empty_sets_and_k_0_is_clear(tmp_path):
    np.save(tmp_path / "b.npy", np.ones((5, 3), np.float32))
    np.save(tmp_path / "empty.npy", np.ones((0, 3), np.float32))
    common = ["--metric", "ip"]
    one_line_error(run_cli(["workloads", "import", "w", "--base", str(tmp_path / "b.npy"), "--queries",
                            str(tmp_path / "empty.npy"), *common], tmp_path), "holds no vectors")
    one_line_error(run_cli(["workloads", "import", "w", "--base", str(tmp_path / "empty.npy"), "--queries",
                            str(tmp_path / "b.npy"), *common], tmp_path), "holds no vectors")
    for args in (["workloads", "import", "w", "--base", str(tmp_path / "b.npy"), "--queries", str(tmp_path / "b.npy"),
                  "--k", "0", *common], ["sweep", "--threads", "0"], ["workloads", "build", "x", "--scale", "-5"]):
        proc = run_cli(args, tmp_path)  # argparse's usage line and one error line, exit status 2
        assert proc.returncode == 2 and "must be at least 1" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


# --- MovieLens archives and ratings -----------------------------------------------------

@pytest.mark.parametrize("row, message", [("1,1,7.0,900000000", "rating 7.0"), ("1,1,4.0,-5", "timestamp -5"),
                                          ("1,1,nan,900000000", "rating nan")])
def test_ratings_outside_the_scale_or_time_are_refused(tmp_path, row, message):
    folder = write_release(tmp_path / "src", "csv")
    with open(folder / "ratings.csv", "a") as f:
        f.write(row + "\n")
    src = fetch(variant_for(zip_release(folder), "csv"), cache_dir=tmp_path / "c", source=folder)
    with pytest.raises(DataError, match=message):
        parse_release(src)


def test_a_truncated_archive_is_named_as_such(tmp_path):
    archive = zip_release(write_release(tmp_path / "src", "csv"))
    v = variant_for(archive, "csv")
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / v.archive).write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    with pytest.raises(DataError, match="not a readable zip archive \\(a truncated or corrupt download\\?\\)"):
        fetch(v, cache_dir=cache, download_ok=False)


def test_a_corrupt_archive_used_unverified_is_one_line(tmp_path):
    archive = zip_release(write_release(tmp_path / "src", "csv"))
    data = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as zf:
        info = zf.getinfo(next(n for n in zf.namelist() if n.endswith("ratings.csv")))
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    for i in range(start + 10, start + 60):
        data[i] ^= 0xFF  # damage the compressed ratings
    archive.write_bytes(bytes(data))
    src = fetch(variant_for(archive, "csv", sha256="0" * 64), cache_dir=tmp_path / "c", source=archive, verify=False)
    with pytest.raises(DataError, match="is corrupt"):
        parse_release(src)


# --- the sweep as a process: exit status, signals, shadowing, I/O faults ----------------

def _config(tmp_path, text: str) -> Path:
    f = tmp_path / "algorithms.yaml"
    f.write_text(text)
    return f


def test_a_sweep_whose_runs_failed_exits_1(workload, tmp_path):
    f = _config(tmp_path, "settings: {repeats: 1}\nalgorithms:\n  test-abort: {}\n")
    proc = run_cli(["sweep", "--config", str(f), "--workloads", str(workload)], tmp_path)
    assert proc.returncode == 1 and "0 runs done, 1 failed" in proc.stdout, proc.stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_end_the_sweep_like_ctrl_c(workload, tmp_path, sig):
    f = _config(tmp_path, "settings: {repeats: 1}\nalgorithms:\n  test-hang: {query: {sleep_s: [60.0]}}\n")
    env = dict(os.environ, ANN_BENCH_HOME=str(tmp_path))
    proc = subprocess.Popen(CLI + ["sweep", "--config", str(f), "--workloads", str(workload)], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    import psutil

    deadline = time.time() + 60
    workers = []
    while time.time() < deadline and not workers:
        workers = sweep_workers(proc.pid)
        time.sleep(0.1)
    assert workers, "the worker never started"
    time.sleep(1.0)  # into its hanging query pass
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 128 + sig and f"interrupted ({sig.name})" in err and "Traceback" not in err
    psutil.wait_procs(workers, timeout=5)
    assert not any(w.is_running() and w.status() != psutil.STATUS_ZOMBIE for w in workers), "the worker outlived the sweep"
    assert not any(Path(p).name.startswith(f"ann-bench-run-{proc.pid}-") for p in os.listdir(os.environ.get("TMPDIR", "/tmp")))


def test_a_library_named_module_in_the_working_directory_is_not_imported(workload, tmp_path):
    (tmp_path / "faiss.py").write_text("raise SystemExit('the shadowing faiss.py was imported')\n")
    f = _config(tmp_path, "settings: {repeats: 1}\nalgorithms:\n  faiss-flat: {}\n")
    # an empty PYTHONPATH entry means the working directory: the worker must leave it out too
    proc = run_cli(["sweep", "--config", str(f), "--workloads", str(workload)], tmp_path,
                   env=dict(os.environ, ANN_BENCH_HOME=str(tmp_path), PYTHONPATH=os.pathsep + os.environ["PYTHONPATH"]))
    assert proc.returncode == 0 and "1 runs done, 0 failed" in proc.stdout, proc.stdout + proc.stderr


def test_an_unwritable_results_folder_is_one_line(workload, tmp_path):
    (tmp_path / "results").write_text("a file where the results folder should be")
    f = _config(tmp_path, "settings: {repeats: 1}\nalgorithms:\n  faiss-flat: {}\n")
    proc = run_cli(["sweep", "--config", str(f), "--workloads", str(workload)], tmp_path)
    one_line_error(proc, str(tmp_path / "results"))


def test_orphan_job_folders_of_killed_sweeps_are_removed(tmp_path):
    from ann_bench.h5util import job_dir_prefix, remove_orphan_job_dirs

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    orphan, mine = tmp_path / f"ann-bench-run-{dead.pid}-abc", tmp_path / f"{job_dir_prefix()}xyz"
    orphan.mkdir(), mine.mkdir()
    (orphan / "query-000-k010.npz").write_bytes(b"left behind")
    assert remove_orphan_job_dirs(tmp_path) == [orphan] and mine.exists()


def test_stale_temporaries_of_killed_writers_are_removed(tmp_path, monkeypatch):
    monkeypatch.setenv("ANN_BENCH_HOME", str(tmp_path))
    wl = tmp_path / "datasets" / "workloads"
    wl.mkdir(parents=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale, live = wl / f"x.hdf5.tmp-{dead.pid}", wl / f"y.hdf5.tmp-{os.getpid()}"
    stale.write_text("half"), live.write_text("being written")
    assert main(["workloads", "list"]) == 0
    assert not stale.exists() and live.exists()


@contextlib.contextmanager
def tmpfs(path: Path, size: str):
    """A small disk of its own at ``path`` (a tmpfs; mounting needs root), unmounted after."""
    path.mkdir(parents=True, exist_ok=True)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def read_only(path: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(path)], check=True)


def test_a_nearly_full_results_disk_is_one_line_before_anything_is_written(workload, tmp_path):
    with tmpfs(tmp_path / "results", "2m") as results:
        f = _config(tmp_path, "settings: {repeats: 1}\nalgorithms:\n  faiss-flat: {}\n")
        proc = run_cli(["sweep", "--config", str(f), "--workloads", str(workload)], tmp_path)
        one_line_error(proc, f"the results folder {results / 'tiny.u2i.ip' / 'faiss-flat'} has 2 MB free")
        assert not files_under(results)


def test_a_file_size_limit_mid_sweep_loses_nothing_written(workload, tmp_path):
    """``ulimit -f``: every write past 60 KB fails (EFBIG), the worker's and the parent's."""
    import resource

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (60_000, 60_000))

    f = _config(tmp_path, "settings: {repeats: 1}\nalgorithms:\n  faiss-flat: {}\n  hnswlib: {query: {ef: [10, 20, 40, 80]}}\n")
    proc = run_cli(["sweep", "--config", str(f), "--workloads", str(workload)], tmp_path, preexec_fn=limit)
    assert proc.returncode in (1, 2) and "Traceback" not in proc.stderr, proc.stderr
    if proc.returncode == 2:
        one_line_error(proc, "could not write")
    files = files_under(tmp_path / "results")
    assert not [p for p in files if ".tmp-" in p.name], "a half-written file was left"
    from ann_bench.sweep.record import run_status

    assert all(run_status(p) in ("ok", "failed") for p in files if p.suffix == ".hdf5")


def test_a_results_disk_that_fills_mid_sweep_is_one_line_and_keeps_what_was_written(workload, tmp_path):
    from ann_bench.sweep.record import run_status

    with tmpfs(tmp_path / "results", "40m") as results:
        f = _config(tmp_path, "settings: {repeats: 1}\nalgorithms:\n  faiss-flat: {}\n  test-fill-disk: {}\n")
        env = dict(os.environ, ANN_BENCH_HOME=str(tmp_path), ANN_BENCH_TEST_FILL=str(results))
        proc = run_cli(["sweep", "--config", str(f), "--workloads", str(workload)], tmp_path, env=env)
        one_line_error(proc, "could not write", str(results / "tiny.u2i.ip" / "test-fill-disk"), "No space left on device")
        files = files_under(results) - {results / "filler.bin"}
        assert not [p for p in files if ".tmp-" in p.name], "a half-written file was left"
        assert [run_status(p) for p in files] == ["ok"], files  # faiss-flat's result, written before, is whole

        (results / "filler.bin").unlink()  # space freed: the rerun keeps faiss-flat and measures the rest
        env.pop("ANN_BENCH_TEST_FILL")
        proc = run_cli(["sweep", "--config", str(f), "--workloads", str(workload)], tmp_path, env=env)
        assert proc.returncode == 0 and "1 runs done, 0 failed, 1 already done" in proc.stdout, proc.stdout + proc.stderr


def test_a_temporary_folder_that_fills_mid_run_fails_that_run_and_stops_clearly(workload, tmp_path):
    from ann_bench.sweep.record import run_status

    with tmpfs(tmp_path / "tmp", "40m") as tmp:
        f = _config(tmp_path, "settings: {repeats: 1}\nalgorithms:\n  test-fill-disk: {}\n  faiss-flat: {}\n")
        env = dict(os.environ, ANN_BENCH_HOME=str(tmp_path), ANN_BENCH_TEST_FILL=str(tmp), TMPDIR=str(tmp))
        proc = run_cli(["sweep", "--config", str(f), "--workloads", str(workload)], tmp_path, env=env)
        one_line_error(proc, f"the temporary folder {tmp} has 0 MB free")
        (result,) = files_under(tmp_path / "results")
        assert run_status(result) == "failed"  # the run whose worker could not write is recorded, not lost
        import h5py

        with h5py.File(result) as h:
            assert f"no space to write its measurements in {tmp}" in h.attrs["reason"], dict(h.attrs)
        assert [p.name for p in tmp.iterdir()] == ["filler.bin"], "the job folder of the failed run was left"


def test_a_read_only_results_disk_is_one_line_and_keeps_its_results(workload, tmp_path):
    with tmpfs(tmp_path / "results", "64m") as results:
        f = _config(tmp_path, "settings: {repeats: 1}\nalgorithms:\n  faiss-flat: {}\n")
        assert run_cli(["sweep", "--config", str(f), "--workloads", str(workload)], tmp_path).returncode == 0
        before = {p: p.read_bytes() for p in files_under(results)}
        read_only(results)
        f.write_text("settings: {repeats: 1}\nalgorithms:\n  faiss-flat: {}\n  hnswlib: {}\n")
        proc = run_cli(["sweep", "--config", str(f), "--workloads", str(workload)], tmp_path)
        one_line_error(proc, f"cannot write to the results folder {results / 'tiny.u2i.ip' / 'hnswlib'}", "Read-only file system")
        assert {p: p.read_bytes() for p in files_under(results)} == before


@pytest.mark.parametrize("disk", ["full", "read-only"])
def test_a_full_or_read_only_datasets_disk_is_one_line(tmp_path, disk):
    with tmpfs(tmp_path / "datasets", "256k") as datasets:
        rng = np.random.default_rng(0)
        np.save(tmp_path / "b.npy", rng.standard_normal((4_000, 32)).astype(np.float32))  # 512 KB: more than the disk
        np.save(tmp_path / "q.npy", rng.standard_normal((20, 32)).astype(np.float32))
        (datasets / "workloads").mkdir()
        if disk == "read-only":
            read_only(datasets)
        proc = run_cli(["workloads", "import", "w", "--base", str(tmp_path / "b.npy"), "--queries", str(tmp_path / "q.npy"),
                        "--metric", "ip"], tmp_path)
        why = "No space left on device" if disk == "full" else "Read-only file system"
        one_line_error(proc, f"could not write {datasets / 'workloads' / 'w.hdf5'} ({why})")
        assert not files_under(datasets), "a half-written workload was left"


def test_a_model_bundle_file_on_a_read_only_disk_is_one_line(tmp_path):
    from ann_bench.files import write_bytes

    with tmpfs(tmp_path / "models", "1m") as folder:
        read_only(folder)
        with pytest.raises(DataError, match=f"could not write {folder / 'model.pt'} \\(Read-only file system\\)"):
            write_bytes(folder / "model.pt", b"weights")
