"""Tables, plots, the HTML report and the notebook, on a small real sweep."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from ann_bench.analysis.report import build_report
from ann_bench.analysis.tables import best_at_targets, markdown, recommend
from ann_bench.results.table import gather
from ann_bench.sweep import config
from ann_bench.sweep.runner import sweep
from ann_bench.workloads import format as wformat
from ann_bench.workloads.groundtruth import exact_knn


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3_000, 16)).astype(np.float32)
    q = rng.standard_normal((60, 16)).astype(np.float32)
    ids, d = exact_knn(q, x, 100, "ip")
    rel = wformat.Ragged.from_lists([ids[i, 5:8].astype(np.int64) for i in range(len(q))])
    seen = wformat.Ragged.from_lists([ids[i, :3].astype(np.int64) for i in range(len(q))])
    f_ids, f_d = exact_knn(q, x, 100, "ip", exclude=[seen[i] for i in range(len(q))])
    path = wformat.write(wformat.Workload("demo.u2i.ip", "ip", x, q, ids, d, relevant=rel, seen=seen,
                                          filtered_neighbors=f_ids, filtered_distances=f_d),
                         home / "datasets" / "workloads" / "demo.u2i.ip.hdf5")
    cfg = config.parse({"settings": {"repeats": 1}, "algorithms": {
        "faiss-flat": {}, "hnswlib": {"build": {"M": [4, 16]}, "query": {"ef": [10, 100, 400]}},
        "faiss-ivf": {"build": {"nlist": [32]}, "query": {"nprobe": [1, 4, 32]}}}})
    sweep(cfg, [path], home / "results", progress=False)
    return home


def test_tables(home):
    df = gather(home / "results")
    best = best_at_targets(df)
    assert set(best["algorithm"]) >= {"faiss-flat", "hnswlib"}
    flat = best[best["algorithm"] == "faiss-flat"]
    assert (flat["target"].tolist() == [0.8, 0.9, 0.95, 0.99]) and flat["exact"].all()
    rec = recommend(df)
    assert len(rec) and set(rec["recommendation"]) <= {"exact search", "hnswlib", "faiss-ivf"}
    # the verdict follows the rule: exact search unless an index is 1.5x faster
    for r in rec.itertuples():
        assert (r.recommendation == "exact search") == (r.speedup_vs_exact < 1.5)
    assert markdown(rec).startswith("| workload | items | target |") and (rec["items"] == 3_000).all()


def test_report_renders_with_its_plots(home):
    index = build_report(home / "results", home / "datasets" / "workloads", home / "results" / "report")
    text = index.read_text()
    assert "<table" in text and "Recommended index per recall target" in text and "demo.u2i.ip" in text
    imgs = [line.split("src='")[1].split("'")[0] for line in text.splitlines() if "<img src='" in line]
    assert imgs and all((index.parent / i).stat().st_size > 1000 for i in imgs)
    names = {Path(i).name for i in imgs}
    assert "demo.u2i.ip__qps_single-vs-recall10.png" in names
    assert "demo.u2i.ip__rec_recall10-vs-filtered_recall10.png" in names


@pytest.mark.skipif(not (shutil.which("chromium") or shutil.which("chromium-browser")), reason="no Chromium here")
def test_report_in_headless_chromium(home, tmp_path):
    index = build_report(home / "results", home / "datasets" / "workloads", home / "results" / "report")
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    flags = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
             "--virtual-time-budget=5000"]
    dom = subprocess.run(flags + ["--dump-dom", index.as_uri()], capture_output=True, text=True, timeout=120).stdout
    assert 'data-broken-images="0"' in dom, "an image failed to load in the browser"
    assert dom.count("<table") >= 3
    shot = tmp_path / "report.png"
    subprocess.run(flags + [f"--screenshot={shot}", "--window-size=1280,2400", index.as_uri()], capture_output=True, timeout=120)
    assert shot.stat().st_size > 10_000


_PROBE = """<script>
window.addEventListener('load', () => setTimeout(() => {
  const gd = document.querySelector('.js-plotly-plot'), out = {};
  const frontier = gd.data.findIndex(t => t.mode === 'lines+markers');
  Plotly.Fx.hover(gd, [{curveNumber: frontier, pointNumber: 0}]);
  out.hover = [...gd.querySelectorAll('.hoverlayer text')].map(t => t.textContent).join(' ');
  out.group = gd.data[0].legendgroup;
  const toggle = gd.querySelector('.legend .traces .legendtoggle');
  toggle.dispatchEvent(new MouseEvent('mousedown', {bubbles: true}));
  toggle.dispatchEvent(new MouseEvent('mouseup', {bubbles: true}));
  setTimeout(() => {
    out.visible = gd.data.map(t => [t.legendgroup, t.visible === undefined ? true : t.visible]);
    document.body.dataset.probe = JSON.stringify(out);
  }, 500);
}, 500));
</script>"""


def test_report_charts_are_interactive_and_tables_show_what_was_swept(home, tmp_path):
    """In headless Chromium: a chart's hover names the point's algorithm and parameters, a legend
    click hides that algorithm's points and frontier; tables show swept parameters only, the
    fixed ones (defaults) in a tooltip."""
    import html as html_lib

    index = build_report(home / "results", home / "datasets" / "workloads", home / "results" / "report")
    page = index.read_text()
    assert page.count("Plotly.newPlot") == 1 and "https://cdn" not in page.split("Plotly.newPlot")[0][-2000:]
    probe = tmp_path / "probe.html"
    probe.write_text(page.replace("</body></html>", _PROBE + "</body></html>"))
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("no Chromium here (.ci/run installs it)")
    flags = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
             "--virtual-time-budget=8000", "--dump-dom", probe.as_uri()]
    dom = subprocess.run(flags, capture_output=True, text=True, timeout=120).stdout
    assert 'data-charts-drawn="1"' in dom
    out = json.loads(html_lib.unescape(dom.split('data-probe="')[1].split('"')[0]))
    assert out["group"] in out["hover"] and "build_params" in out["hover"] and "query_params" in out["hover"], out
    assert all(v == "legendonly" for g, v in out["visible"] if g == out["group"])
    assert all(v is True for g, v in out["visible"] if g != out["group"])
    # hnswlib swept M and ef; its ef_construction and seed kept their defaults: in a tooltip, not in the cell
    assert re.search(r"<span title='same in every run: ef_construction=200, seed=100'>M=(4|16)</span>", page)
    assert "M=4, ef_construction" not in page and "M=16, ef_construction" not in page


def test_notebook_executes_on_the_results(home):
    from ann_bench.analysis.notebook import execute

    src = Path(__file__).resolve().parents[1] / "notebooks" / "tradeoffs.ipynb"
    out = execute(src, home / "results" / "report" / "tradeoffs.ipynb", home=home, timeout=300)
    nb = json.loads(out.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(c.get("outputs") for c in code), "every code cell shows something"
    assert not any(o.get("output_type") == "error" for c in code for o in c["outputs"])


def _row(algorithm, adapter, recall, qps, index_mb, workload="w.dot.u2i.ip"):
    return {"workload": workload, "algorithm": algorithm, "adapter": adapter, "status": "ok", "search": "knn", "k": 10,
            "duplicate_of": "", "recall@10": recall, "qps_single": qps, "build_params": "b", "query_params": "q",
            "build_s": 1.0, "index_mb": index_mb, "contended": False, "build_contended": False, "modes_disagree": False}


def test_common_claims_on_a_hand_made_table():
    import pandas as pd

    from ann_bench.analysis.folklore import folklore
    from ann_bench.analysis.tables import native_vs_reduced

    df = pd.DataFrame([_row("scann", "scann", 0.95, 4000, 10), _row("hnswlib", "hnswlib", 0.96, 1000, 20),
                       _row("faiss-hnsw", "faiss-hnsw", 0.97, 1500, 25), _row("annoy", "annoy", 0.92, 800, 30),
                       _row("faiss-ivfpq", "faiss-ivfpq", 0.91, 1200, 2), _row("faiss-flat", "faiss-flat", 1.0, 100, 15),
                       _row("hnswlib-via-l2 (ip via l2)", "hnswlib:ip-via-l2", 0.96, 500, 21)])
    c = folklore(df).set_index(["claim", "target"])
    scann = c.loc[("ScaNN ~2x the QPS of HNSW on inner product", 0.9)]
    assert scann["ratio"] == pytest.approx(4000 / 1500) and scann["verdict"] == "holds"
    hnsw = c.loc[("HNSW has the best recall/latency", 0.9)]
    assert hnsw["ratio"] == pytest.approx(1500 / 4000) and hnsw["verdict"] == "does not hold"
    pq = c.loc[("IVF-PQ has the lowest memory", "any")]
    assert pq["ratio"] == pytest.approx(2 / 10) and pq["verdict"] == "holds"
    annoy = c.loc[("Annoy is medium in recall and speed", 0.9)]
    assert annoy["measured"].startswith("Annoy 5 of 6 by QPS")  # the reduced hnswlib is slower and annoy["verdict"] == "does not hold"
    # at 0.95 only scann, hnswlib, faiss-hnsw and the reduced hnswlib are left: ScaNN vs faiss-hnsw again
    assert c.loc[("ScaNN ~2x the QPS of HNSW on inner product", 0.95)]["ratio"] == pytest.approx(4000 / 1500)
    r = native_vs_reduced(df).set_index("target")
    assert r.loc[0.9, "reduced / native"] == pytest.approx(0.5) and r.loc[0.9, "library"] == "hnswlib"


def test_runs_from_two_cpu_models_are_compared_as_speedup_over_exact_search():
    """Hand-made: hnswlib ran on a CPU twice as fast as faiss-ivf's; raw QPS would rank it
    first, the speed-up over exact search on each node ranks faiss-ivf first."""
    import pandas as pd

    from ann_bench.analysis.comparable import choose

    def on(cpu, exact_qps, row):
        return row | {"cpu": cpu, "exact_qps": exact_qps, "speedup_single": row["qps_single"] / exact_qps,
                      "qps_batch_1t": row["qps_single"] * 2, "file": f"{cpu}-{row['algorithm']}"}

    fast, slow = "Fast CPU", "Slow CPU"
    rows = [on(fast, 200, _row("hnswlib", "hnswlib", 0.96, 3000, 20)), on(fast, 200, _row("faiss-flat", "faiss-flat", 1.0, 200, 15)),
            on(slow, 100, _row("faiss-ivf", "faiss-ivf", 0.96, 2000, 20)), on(slow, 100, _row("faiss-flat", "faiss-flat", 1.0, 100, 15))]
    one = pd.DataFrame(rows[:2])
    same, basis = choose(one)
    assert basis.column == "qps_single" and basis.scope == fast and len(same) == 2
    df = pd.DataFrame(rows)
    cdf, basis = choose(df)
    assert basis.column == "speedup_single" and "2 CPU models" in basis.note and len(cdf) == 4
    rec = recommend(cdf, qps=basis.column).set_index("target")
    assert rec.loc[0.95, "best_index"] == "faiss-ivf"  # 20x its node's exact search vs hnswlib's 15x
    assert recommend(df).set_index("target").loc[0.95, "best_index"] == "hnswlib"  # what raw QPS would have said
    # a run without its node's exact-search timing cannot be normalised: left out, and said so
    df.loc[2, "speedup_single"] = np.nan
    cdf, basis = choose(df)
    assert len(cdf) == 3 and "1 result file(s) recorded no exact-search timing" in basis.note
    # batch QPS has no per-node yardstick: one CPU model's runs only (the one with more result files)
    df.loc[len(df)] = on(slow, 100, _row("annoy", "annoy", 0.9, 50, 5))
    bdf, basis = choose(df, "qps_batch_1t")
    assert basis.column == "qps_batch_1t" and set(bdf["cpu"]) == {slow} and "(2 from other CPU models left out)" in basis.note


def test_report_on_runs_from_two_nodes_says_it_compares_speedups(home, tmp_path):
    """The module's real sweep, its hnswlib runs relabelled as measured on a second CPU model
    (as a Ray node would record them): plots and tables switch to speed-up over exact search."""
    import h5py

    results = tmp_path / "results"
    shutil.copytree(home / "results", results, ignore=shutil.ignore_patterns("report"))
    for path in (results / "demo.u2i.ip" / "hnswlib").glob("*.hdf5"):
        with h5py.File(path, "r+") as f:
            machine = json.loads(f.attrs["machine"])
            f.attrs["machine"] = json.dumps(machine | {"cpu": "Another CPU model", "node": "node-2"})
    index = build_report(results, home / "datasets" / "workloads", results / "report")
    text = index.read_text()
    assert "Speed in tables: <b>speedup_single</b>" in text and "measured on 2 CPU models" in text
    assert (results / "report" / "plots" / "demo.u2i.ip__speedup_single-vs-recall10.png").stat().st_size > 1000
    assert not (results / "report" / "plots" / "demo.u2i.ip__qps_single-vs-recall10.png").exists()
    best = (results / "report" / "tables" / "best-qps-at-recall.qps_single.csv").read_text()
    assert best.splitlines()[0].count("speedup_single") == 1
