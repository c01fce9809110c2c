"""Grid values written relative to the catalog size N: notation, resolution, checks, records."""

import h5py
import pytest

from ann_bench.errors import ConfigError
from ann_bench.h5util import get_json
from ann_bench.sweep import config
from ann_bench.sweep.relative import parse
from ann_bench.sweep.runner import dry_run, sweep

from sweep_fixtures import cfg, plugins, workload  # noqa: F401  (pytest fixtures)


@pytest.mark.parametrize(
    "text,n,value",
    [("sqrt(N)", 1_000_000, 1000), ("4*sqrt(N)", 1_000_000, 4000), ("N/1000", 250_000, 250),
     ("0.05*N", 2_000, 100), ("2*log2(N)", 1024, 20), (" 4 * sqrt( N ) ", 10_000, 400), ("1e-3*N", 10**7, 10_000)],
)
def test_notation_values(text, n, value):
    assert parse(text, "x").value(n) == pytest.approx(value)


@pytest.mark.parametrize("text", ["sqrt", "4sqrt(N)", "N*4", "-1*N", "sqrt(M)", "N/", "N + 1"])
def test_bad_notation_names_the_key(text):
    with pytest.raises(ConfigError, match=r"algorithms\.faiss-ivf\.build\.nlist\[0\]: .*size-relative value"):
        config.parse({"algorithms": {"faiss-ivf": {"build": {"nlist": [text]}}}})


def test_zero_factor_is_refused():
    with pytest.raises(ConfigError, match="must be positive"):
        config.parse({"algorithms": {"faiss-ivf": {"build": {"nlist": ["0*N"]}}}})


def test_grids_resolve_per_size_and_merge_equal_values():
    alg = config.parse({"algorithms": {"faiss-ivf": {"build": {"nlist": ["sqrt(N)", "4*sqrt(N)", "N/100", 64]},
                                                     "query": {"nprobe": [1, "log2(N)"]}}}}).algorithms[0]
    small = alg.at_size(10_000)
    assert [b["nlist"] for b in small.build] == [100, 400, 64]  # sqrt(N) = N/100 = 100 at 10k: one run
    assert small.build_written == [{"nlist": "sqrt(N)"}, {"nlist": "4*sqrt(N)"}, {}]
    assert [q["nprobe"] for q in small.query] == [1, 13]  # log2(10,000) = 13.3
    big = alg.at_size(1_000_000)
    assert [b["nlist"] for b in big.build] == [1000, 4000, 10_000, 64]


def test_a_value_out_of_range_at_some_size_names_the_expression_and_size():
    alg = config.parse({"algorithms": {"hnswlib": {"build": {"M": ["N/100"]}}}}).algorithms[0]
    assert alg.at_size(1_600).build[0]["M"] == 16
    with pytest.raises(ConfigError, match=r"algorithms\.hnswlib\.build\.M: 1000 is above the maximum 512 \(N/100 at N=100,000\)"):
        alg.at_size(100_000)


def test_a_relative_value_for_a_flag_is_refused():
    with pytest.raises(ConfigError, match="expected true or false"):
        config.parse({"algorithms": {"faiss-ivfpq": {"build": {"refine": ["N"]}}}})


def test_command_line_build_takes_the_notation():
    c = config.parse({"algorithms": {"faiss-ivf": {"build": {"nlist": [64]}}}})
    narrowed = c.narrowed(build=config.parse_assignments("nlist=2*sqrt(N)"))
    assert narrowed.algorithms[0].at_size(2_500).build[0]["nlist"] == 100


def test_sweep_runs_the_resolved_values_and_records_the_expression(workload, tmp_path):
    c = cfg({"faiss-ivf": {"build": {"nlist": ["sqrt(N)"]}, "query": {"nprobe": [1, "sqrt(N)/4"]}}})
    lines = dry_run(c, [workload], tmp_path)
    assert "nlist=32" in lines[0] and "(nlist: sqrt(N) at N=1,000)" in lines[0]  # sqrt(1000) = 31.6
    [outcome] = sweep(c, [workload], tmp_path, progress=False)
    assert outcome.status == "ok"
    with h5py.File(outcome.path) as f:
        assert get_json(f, "build")["nlist"] == 32
        assert get_json(f, "size_relative") == {"build": {"nlist": "sqrt(N)"}, "query": [{}, {"nprobe": "sqrt(N)/4"}]}
        assert [get_json(f[f"query/{i:03d}"], "params")["nprobe"] for i in range(2)] == [1, 8]
