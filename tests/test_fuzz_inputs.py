"""Generated malformed inputs (Hypothesis): configurations, workload files and ratings files.

Every generated case must end either accepted (and then valid) or in one clear error line,
exit status 2, no traceback, nothing written outside ANN_BENCH_HOME. The number of cases is
``CASES`` per property; the closing note of issue 10 reports the totals.
"""

import contextlib
import io
import os
from collections import Counter
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ann_bench.cli import main
from ann_bench.data import fetch
from ann_bench.data.parse import load as parse_release
from ann_bench.errors import AnnBenchError
from ann_bench.sweep import config
from ann_bench.workloads import format as wformat
from ann_bench.workloads.groundtruth import exact_knn

from movielens_fixtures import variant_for, write_release, zip_release

CASES = 150
OUTCOMES: Counter = Counter()  # (property, "accepted" / "clear error"), printed at the end (pytest -s)


@pytest.fixture(scope="module", autouse=True)
def report_outcomes():
    yield
    print("\nfuzz outcomes:", dict(sorted(OUTCOMES.items())))
FUZZ = settings(max_examples=CASES, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=True),
                    st.text(max_size=12), st.sampled_from(["../x", "/etc", "a/b", "..", "", " ", "ef", "k", "M"]))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.text(max_size=10) | st.sampled_from(
                                                           ["build", "query", "adapter", "settings", "k", "ef", "M",
                                                            "faiss-flat", "hnswlib", "repeats", "filtered_k"]), inner, max_size=4)),
                      max_leaves=12)
VALID = {"settings": {"repeats": 1, "k": [10]}, "algorithms": {"faiss-flat": {}, "hnswlib": {"build": {"M": [8]}, "query": {"ef": [10]}}}}
PATHS = [("settings",), ("settings", "k"), ("settings", "repeats"), ("algorithms",), ("algorithms", "hnswlib"),
         ("algorithms", "hnswlib", "build"), ("algorithms", "hnswlib", "build", "M"), ("algorithms", "hnswlib", "query", "ef"),
         ("algorithms", "faiss-flat", "adapter"), ("workloads",), ("algorithms", "new-label")]


def _set(data: dict, path: tuple, value) -> dict:
    import copy

    out = copy.deepcopy(data)
    node = out
    for key in path[:-1]:
        node = node.setdefault(key, {}) if isinstance(node, dict) else node
    if isinstance(node, dict):
        node[path[-1]] = value
    return out


@FUZZ
@given(path=st.sampled_from(PATHS), value=values)
def test_a_mutated_configuration_is_accepted_or_refused_clearly(path, value):
    data = _set(VALID, path, value)
    try:
        cfg = config.parse(data)
    except AnnBenchError as exc:
        assert str(exc) and "\n" not in str(exc)
        OUTCOMES["config", "clear error"] += 1
        return
    OUTCOMES["config", "accepted"] += 1
    # accepted: it is a valid configuration
    assert cfg.algorithms and all(isinstance(a.name, str) for a in cfg.algorithms)


@FUZZ
@given(raw=st.binary(max_size=200) | st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_arbitrary_config_bytes_are_accepted_or_refused_clearly(raw, tmp_path_factory):
    f = tmp_path_factory.mktemp("cfg") / "algorithms.yaml"
    f.write_bytes(raw)
    try:
        config.load(f)
        OUTCOMES["config bytes", "accepted"] += 1
    except AnnBenchError as exc:
        assert str(exc) and "\n" not in str(exc)
        OUTCOMES["config bytes", "clear error"] += 1


@pytest.fixture(scope="module")
def good_workload(tmp_path_factory):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((300, 6)).astype(np.float32)
    q = rng.standard_normal((12, 6)).astype(np.float32)
    ids, d = exact_knn(q, x, 20, "cosine")
    path = tmp_path_factory.mktemp("wl") / "good.hdf5"
    return wformat.write(wformat.Workload("fuzz.u2i.cosine", "cosine", x, q, ids, d), path)


def _mutate(path: Path, kind: str, pos: float, value: float) -> None:
    """One way of breaking a workload file, applied in place."""
    if kind == "truncate":
        data = path.read_bytes()
        path.write_bytes(data[: int(len(data) * pos)])
        return
    if kind == "flip-bytes":
        data = bytearray(path.read_bytes())
        i = int(len(data) * pos) % len(data)
        data[i : i + 16] = bytes(b ^ 0x5A for b in data[i : i + 16])
        path.write_bytes(bytes(data))
        return
    with h5py.File(path, "r+") as f:
        if kind in ("train", "test", "distances", "neighbors"):
            a = f[kind][()]
            flat = a.reshape(-1)
            if kind == "neighbors":
                value = int(np.clip(value, -2**31, 2**31 - 1)) if np.isfinite(value) else -1
            flat[int(pos * (flat.size - 1))] = value
            f[kind][...] = flat.reshape(a.shape)
        elif kind == "drop":
            del f[["train", "test", "neighbors", "distances"][int(pos * 3.99)]]
        elif kind == "metric":
            f.attrs["metric"] = f.attrs["distance"] = ["hamming", "", "IP", "jaccard"][int(pos * 3.99)]
        elif kind == "name":
            f.attrs["name"] = ["../up", "/abs", "a/b", "", "ok-name"][int(pos * 4.99)]
        elif kind == "shape":
            key = ["train", "test", "neighbors", "distances"][int(pos * 3.99)]
            a = f[key][()]
            del f[key]
            f[key] = a[: max(0, len(a) // 2)] if value > 0 else a[:, : max(0, a.shape[1] // 2)]
        elif kind == "dtype":
            key = ["train", "test", "neighbors", "distances"][int(pos * 3.99)]
            n = len(f[key])
            del f[key]
            f[key] = np.array([b"x"] * n)


@FUZZ
@given(kind=st.sampled_from(["truncate", "flip-bytes", "train", "test", "distances", "neighbors", "drop", "metric",
                             "name", "shape", "dtype"]),
       pos=st.floats(0, 1), value=st.sampled_from([np.nan, np.inf, -np.inf, 0.0, 1e30, -1.0, 1e6, 3.0]))
def test_a_broken_workload_file_is_refused_clearly_by_the_sweep(good_workload, tmp_path_factory, kind, pos, value):
    home = tmp_path_factory.mktemp("home")
    path = home / "w.hdf5"
    path.write_bytes(good_workload.read_bytes())
    _mutate(path, kind, pos, value)
    cfg = home / "a.yaml"
    cfg.write_text("settings: {k: [10]}\nalgorithms:\n  faiss-flat: {}\n")
    before = set(home.parent.iterdir())
    err, out = io.StringIO(), io.StringIO()
    os.environ["ANN_BENCH_HOME"] = str(home)
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            code = main(["sweep", "--dry-run", "--config", str(cfg), "--workloads", str(path)])
    finally:
        del os.environ["ANN_BENCH_HOME"]
    assert "Traceback" not in err.getvalue()
    OUTCOMES["workload", "accepted" if code == 0 else "clear error"] += 1
    if code == 0:  # accepted: the file still reads as a valid workload
        wformat.read(path)
    else:
        lines = [line for line in err.getvalue().splitlines() if line.startswith("ann-bench: error:")]
        assert code == 2 and len(lines) == 1, err.getvalue()
    assert set(home.parent.iterdir()) == before, "something was written outside the home"


@FUZZ
@given(rows=st.lists(st.tuples(st.integers(-5, 10**6) | st.text(max_size=4), st.integers(-5, 10**6),
                               st.floats(allow_nan=True) | st.text(max_size=4), st.integers(-10**10, 10**10) | st.text(max_size=3)),
                     min_size=0, max_size=6))
def test_a_malformed_ratings_file_is_refused_clearly(rows, tmp_path_factory):
    root = tmp_path_factory.mktemp("ml")
    folder = write_release(root / "src", "csv", n_users=10, n_items=8, per_user=4)
    with open(folder / "ratings.csv", "a") as f:
        for r in rows:
            f.write(",".join(str(v) for v in r) + "\n")
    src = fetch(variant_for(zip_release(folder), "csv"), cache_dir=root / "c", source=folder)
    try:
        ml = parse_release(src)
    except AnnBenchError as exc:
        assert str(exc) and "\n" not in str(exc)
        OUTCOMES["ratings", "clear error"] += 1
        return
    OUTCOMES["ratings", "accepted"] += 1
    assert ml.ratings["rating"].between(0.5, 5.0).all() and (ml.ratings["timestamp"] >= 0).all()


def _numeric_options():
    """(argv prefix, option string, type) for every option of every command that takes a number."""
    import argparse

    from ann_bench.cli import build_parser

    found = []

    def walk(parser: argparse.ArgumentParser, prefix: list[str]) -> None:
        required = []
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, prefix + [name])
                return
            if not action.option_strings and action.nargs not in ("*", "?"):
                required.append(action.choices[0] if action.choices else "x")
            elif action.option_strings and action.required:
                required += [action.option_strings[0], action.choices[0] if action.choices else "x"]
        for action in parser._actions:
            if action.option_strings and action.type not in (None, str, Path) and not action.choices:
                found.append((prefix + required, action.option_strings[0], action.type))

    walk(build_parser(), [])
    return found


NUMERIC_OPTIONS = _numeric_options()


def test_every_numeric_option_is_checked():
    """A bare ``int``/``float`` type lets nan, inf or -1 through to a library deep inside."""
    assert len(NUMERIC_OPTIONS) >= 15
    assert not [(argv, opt) for argv, opt, kind in NUMERIC_OPTIONS if kind in (int, float)]


@FUZZ
@given(option=st.sampled_from(NUMERIC_OPTIONS),
       value=st.sampled_from(["nan", "inf", "-inf", "-1", "0", "1e400", "-0.0", "1e-300", "", "x", "3", "0.5", "10"])
       | st.integers(-10**6, 10**6).map(str) | st.floats(allow_nan=True).map(repr) | st.text(max_size=6))
def test_a_bad_number_on_the_command_line_is_one_usage_line(option, value):
    from ann_bench.cli import build_parser

    argv, opt, _ = option
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            args = build_parser().parse_args(argv + [f"{opt}={value}"])
        except SystemExit as exc:
            lines = [line for line in err.getvalue().splitlines() if ": error: " in line]
            assert exc.code == 2 and len(lines) == 1 and "Traceback" not in err.getvalue(), err.getvalue()
            OUTCOMES["option", "clear error"] += 1
            return
    OUTCOMES["option", "accepted"] += 1
    parsed = getattr(args, opt.lstrip("-").replace("-", "_"))
    for v in parsed if isinstance(parsed, list) else [parsed]:  # accepted: a finite, non-negative number
        assert np.isfinite(v) and v >= 0, (argv, opt, value, v)
