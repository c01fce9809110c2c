import pytest

from ann_bench.errors import ConfigError
from ann_bench.sweep import config


def parse(algorithms, **top):
    return config.parse({"algorithms": algorithms, **top}, "algorithms.yaml")


def test_grids_expand_to_named_configs():
    cfg = parse({"hnswlib": {"build": {"M": [8, 16], "ef_construction": 100}, "query": {"ef": [10, 20, 40]}}})
    (alg,) = cfg.algorithms
    assert [b["M"] for b in alg.build] == [8, 16] and all(b["ef_construction"] == 100 for b in alg.build)
    assert alg.build[0]["seed"] == 100  # defaults filled in, so every run records every parameter
    assert [q["ef"] for q in alg.query] == [10, 20, 40]
    assert cfg.settings["k"] == [10, 100] and cfg.settings["recall_epsilon"] == 1e-3 and cfg.settings["build_threads"] == 1


@pytest.mark.parametrize(
    "algorithms, top, match",
    [
        ({"hnswlb": {}}, {}, r"algorithms.hnswlb: unknown algorithm. Did you mean 'hnswlib'"),
        ({"hnswlib": {"build": {"ef_constuction": [10]}}}, {}, r"algorithms.hnswlib.build.ef_constuction: unknown parameter. Did you mean 'ef_construction'"),
        ({"hnswlib": {"build": {"M": ["16"]}}}, {}, r"algorithms.hnswlib.build.M\[0\]: expected an integer, got '16'"),
        ({"hnswlib": {"query": {"ef": []}}}, {}, r"algorithms.hnswlib.query.ef: empty grid"),
        ({"hnswlib": {"query": {"ef": [0]}}}, {}, r"algorithms.hnswlib.query.ef\[0\]: 0 is below the minimum 1"),
        ({"hnswlib": {"bulid": {}}}, {}, r"algorithms.hnswlib.bulid: unknown key. Did you mean 'build'"),
        ({"faiss-ivfpq": {"build": {"refine": ["yes"]}}}, {}, r"refine\[0\]: expected true or false"),
        ({"hnswlib": {}}, {"setings": {}}, r"setings: unknown top-level key. Did you mean 'settings'"),
        ({"hnswlib": {}}, {"settings": {"repeats": 0}}, r"settings.repeats: 0 is below the minimum 1"),
        ({}, {}, r"algorithms: expected a non-empty mapping"),
    ],
)
def test_bad_config_is_one_clear_line(algorithms, top, match):
    with pytest.raises(ConfigError, match=match) as exc:
        parse(algorithms, **top)
    assert "\n" not in str(exc.value)


def test_labelled_entries_run_a_registered_adapter():
    cfg = parse({"pq-refine": {"adapter": "faiss-ivfpq", "build": {"refine": [True]}}})
    assert (cfg.algorithms[0].name, cfg.algorithms[0].adapter) == ("pq-refine", "faiss-ivfpq")
    with pytest.raises(ConfigError, match=r"algorithms.x.adapter: unknown adapter .hnswlb.. Did you mean .hnswlib."):
        parse({"x": {"adapter": "hnswlb"}})


def test_yaml_syntax_error_names_the_line(tmp_path):
    bad = tmp_path / "algorithms.yaml"
    bad.write_text("algorithms:\n  hnswlib:\n    build: {M: [8, 16}\n")
    with pytest.raises(ConfigError, match=r"not valid YAML at line 3"):
        config.load(bad)
    with pytest.raises(ConfigError, match="does not exist"):
        config.load(tmp_path / "missing.yaml")


def test_narrowing_from_the_command_line():
    cfg = parse({"hnswlib": {"build": {"M": [8, 16]}}, "faiss-hnsw": {}})
    only = cfg.narrowed(algorithms=["hnswlib"], build=config.parse_assignments("M=32,ef_construction=50"))
    assert [a.name for a in only.algorithms] == ["hnswlib"]
    assert only.algorithms[0].build == [{"M": 32, "ef_construction": 50, "seed": 100}]
    with pytest.raises(ConfigError, match="--algorithms hnswlb: not in algorithms.yaml. Did you mean 'hnswlib'"):
        cfg.narrowed(algorithms=["hnswlb"])
    with pytest.raises(ConfigError, match=r"--build \(hnswlib\).Mm: unknown parameter"):
        cfg.narrowed(algorithms=["hnswlib"], build={"Mm": "3"})


def test_shipped_algorithms_yaml_is_valid():
    from pathlib import Path

    cfg = config.load(Path(__file__).resolve().parents[1] / "algorithms.yaml")
    names = {a.name for a in cfg.algorithms}
    assert {"faiss-flat", "faiss-hnsw", "faiss-ivf", "faiss-ivfpq", "faiss-ivfsq8", "hnswlib", "nmslib-hnsw", "annoy", "scann",
            "numpy-bruteforce", "usearch", "voyager", "ngt", "pynndescent"} <= names


def test_command_line_settings_replace_the_files_and_are_checked_alike(tmp_path):
    """`sweep --k 10 50 --repeats 1`, as ann-benchmarks' --count/--runs: the run definitions
    change with them (dry run), and a bad value is named as coming from the command line."""
    from ann_bench.sweep import config

    c = config.parse({"settings": {"k": [10, 100], "repeats": 3}, "algorithms": {"faiss-flat": {}}})
    assert c.with_settings(k=None, repeats=None) is c
    assert c.with_settings(k=[50, 10], repeats=1).settings | {} == c.settings | {"k": [10, 50], "repeats": 1}
    with pytest.raises(ConfigError, match=r"command line: --k/--repeats.k\[0\]: 5000 is above the maximum 1000"):
        c.with_settings(k=[5000], repeats=2)
    assert c.with_settings(min_time_s=1).settings["min_time_s"] == 1.0
    with pytest.raises(ConfigError, match=r"command line: --min-time-s.min_time_s: 600.0 is above the maximum 60"):
        c.with_settings(min_time_s=600.0)
