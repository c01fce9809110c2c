"""How cost grows with the catalog: power laws over sizes, the 10x-exact size, plots and report."""

import math

import numpy as np
import pandas as pd
import pytest

from ann_bench import powerlaw
from ann_bench.analysis import scaling
from ann_bench.analysis.report import build_report
from ann_bench.results.table import gather
from ann_bench.sweep import config
from ann_bench.sweep.runner import sweep
from ann_bench.workloads import format as wformat
from ann_bench.workloads.groundtruth import exact_knn
from ann_bench.workloads.names import family


def row(workload, n, algorithm, adapter, qps, recall, *, p99, build_s, index_mb):
    return {"workload": workload, "n_base": n, "algorithm": algorithm, "adapter": adapter, "status": "ok", "search": "knn",
            "k": 10, "duplicate_of": "", "recall@10": recall, "qps_single": qps, "latency_p99_ms": p99, "build_s": build_s,
            "index_mb": index_mb, "build_params": "", "query_params": ""}


def hand_made() -> pd.DataFrame:
    """Exact search with QPS ~ N^-1; an index with QPS ~ N^-0.5, build ~ N^1.2, 64 bytes per vector."""
    rows = []
    for n, name in ((10_000, "w.u2i.ip"), (100_000, "w.u2i.ip.synthetic100k"), (1_000_000, "w.u2i.ip.synthetic1M")):
        rows.append(row(name, n, "faiss-flat", "faiss-flat", 1e8 / n, 1.0, p99=n / 1e7, build_s=0.01 * n / 1e4, index_mb=n * 256 / 2**20))
        rows.append(row(name, n, "hnswlib", "hnswlib", 3e5 / math.sqrt(n), 0.96, p99=2 * math.sqrt(n) / 1e4,
                        build_s=(n / 1e4) ** 1.2, index_mb=n * 64 / 2**20))
    return pd.DataFrame(rows)


def test_power_law_fit_recovers_a_known_exponent():
    n = np.array([1e3, 1e4, 1e5])
    b, log_a = powerlaw.fit(n, 5 * n**1.3)
    assert b == pytest.approx(1.3) and math.exp(log_a) == pytest.approx(5)
    assert math.isnan(powerlaw.fit([1e4, 1e4], [1.0, 2.0])[0])


def test_growth_fits_each_quantity_and_finds_the_size_where_an_index_beats_exact_10x():
    sized = scaling.by_size(hand_made(), targets=(0.9, 0.99))
    g = scaling.growth(sized).set_index(["algorithm", "target"])
    h = g.loc[("hnswlib", 0.9)]
    assert h["sizes"] == "10k, 100k, 1M" and h["largest"] == 1_000_000
    assert h["qps exponent"] == pytest.approx(-0.5) and h["latency_p99_ms exponent"] == pytest.approx(0.5)
    assert h["build_s exponent"] == pytest.approx(1.2) and h["bytes_per_vector exponent"] == pytest.approx(0, abs=1e-9)
    assert h["bytes_per_vector"] == pytest.approx(64)
    # speed-up over exact: 3e5/sqrt(N) / (1e8/N) = 3e-3 sqrt(N): 0.3 at 10k, 0.95 at 100k, 3 at 1M: never 10x
    assert h["10x exact from"] == "not up to 1M"
    assert g.loc[("faiss-flat", 0.9)]["qps exponent"] == pytest.approx(-1.0)
    assert ("hnswlib", 0.99) not in g.index  # 0.96 does not reach 0.99


def test_the_10x_size_is_the_first_size_at_or_above_10x():
    df = hand_made()
    df.loc[df["algorithm"] == "hnswlib", "qps_single"] *= 10  # now 3, 9.5 and 30x exact
    g = scaling.growth(scaling.by_size(df, targets=(0.9,))).set_index("algorithm")
    assert g.loc["hnswlib", "10x exact from"] == "1M" and g.loc["faiss-flat", "10x exact from"] == ""


def test_families_group_sizes_of_one_workload():
    assert family("ml-latest-small.dot.u2i.ip.synthetic1M") == family("ml-latest-small.dot.u2i.ip") == "ml-latest-small.dot.u2i.ip"
    assert family("ml-latest-small.dot.i2i.cosine.synthetic100k") == "ml-latest-small.dot.i2i.cosine"


@pytest.fixture(scope="module")
def grown_sweep(tmp_path_factory):
    """A real sweep of one family at three sizes (real vectors at the smallest, more at the others)."""
    home = tmp_path_factory.mktemp("scaling")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8_000, 16)).astype(np.float32)
    q = rng.standard_normal((50, 16)).astype(np.float32)
    paths = []
    for n, suffix in ((2_000, ""), (4_000, ".synthetic4k"), (8_000, ".synthetic8k")):
        ids, d = exact_knn(q, x[:n], 100, "l2")
        name = f"g.u2i.l2{suffix}"
        attrs = {"synthetic": True, "n_real_items": 2_000} if suffix else {}  # rows past 2,000 stand for grown items
        paths.append(wformat.write(wformat.Workload(name, "l2", x[:n], q, ids, d, attrs=attrs), home / "workloads" / f"{name}.hdf5"))
    cfg = config.parse({"settings": {"repeats": 1, "k": [10]}, "algorithms": {
        "numpy-bruteforce": {}, "hnswlib": {"build": {"M": [8]}, "query": {"ef": [10, 50, 200]}}}})
    sweep(cfg, paths, home / "results", progress=False)
    return home


def test_report_has_the_scaling_section_from_a_real_sweep(grown_sweep):
    home = grown_sweep
    df = gather(home / "results")
    assert sorted(df["n_base"].unique()) == [2_000, 4_000, 8_000]
    g = scaling.growth(scaling.by_size(df, targets=(0.9,))).set_index("algorithm")
    # fitted from measurements (at these sizes per-call overhead hides the 1/N of exact search)
    assert math.isfinite(g.loc["numpy-bruteforce", "qps exponent"]) and math.isfinite(g.loc["hnswlib", "build_s exponent"])
    assert g.loc["hnswlib", "sizes"] == "2k, 4k, 8k"
    index = build_report(home / "results", home / "workloads", home / "report")
    text = index.read_text()
    assert "How cost grows with the catalog" in text and "scaling__g.u2i.l2__recall10-0.9.png" in text
    assert (home / "report" / "plots" / "scaling__g.u2i.l2__recall10-0.9.png").stat().st_size > 1000
    assert "recall on real and on synthetic items" in text
    rec = pd.read_csv(home / "report" / "tables" / "recommendation.qps_single.csv")
    assert sorted(rec["items"].unique()) == [2_000, 4_000, 8_000]


def test_recall_on_real_and_synthetic_items_from_a_real_sweep(grown_sweep):
    df = gather(grown_sweep / "results")
    d = df[(df["workload"] == "g.u2i.l2.synthetic8k") & (df["k"] == 10) & df["recall@10"].notna()]
    w = wformat.read(grown_sweep / "workloads" / "g.u2i.l2.synthetic8k.hdf5")
    assert d["real_share@10"].to_numpy() == pytest.approx((w.neighbors[:, :10] < 2_000).mean())
    # exact search finds every true neighbour, real or synthetic
    exact = d[d["algorithm"] == "numpy-bruteforce"].iloc[0]
    assert exact["recall@10_real_items"] == 1.0 and exact["recall@10_synthetic_items"] == 1.0
    assert df.loc[df["workload"] == "g.u2i.l2", "real_share@10"].isna().all()  # not a grown catalog
    origin = scaling.by_origin(df)  # the report's table: indexes only, grown catalogs only
    assert set(origin["algorithm"]) == {"hnswlib"} and set(origin["items"]) == {4_000, 8_000}
