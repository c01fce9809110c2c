"""``results/report/``: plots, Markdown/CSV tables and one HTML page that ties them together."""

from __future__ import annotations

import html
import json
import time
from pathlib import Path

import h5py
import pandas as pd

from ..results.table import gather
from .comparable import choose
from .plots import all_plots, exact_qps, styles
from . import interactive, scaling
from .folklore import folklore
from .tables import best_at_targets, markdown, native_vs_reduced, recommend, repeat_spread, view, warnings_table

_CSS = """
body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;font-size:13px;margin:0.5em 0 1.5em}
th,td{border:1px solid #ccc;padding:3px 8px;text-align:right;max-width:30em}th{background:#f3f3f3}
td:first-child,th:first-child{text-align:left}
img{max-width:100%;border:1px solid #eee;margin:0.3em 0}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:0.8em}
code{background:#f5f5f5;padding:1px 4px}
"""


# marks the page with how many images failed to load and how many charts were drawn (a browser
# test reads them; a reader sees a warning for broken images)
_IMAGE_CHECK = """<script>
window.addEventListener('load', () => {
  const broken = [...document.images].filter(i => !i.complete || i.naturalWidth === 0);
  document.body.dataset.brokenImages = broken.length;
  document.body.dataset.chartsDrawn = document.querySelectorAll('.js-plotly-plot .main-svg').length > 0
    ? document.querySelectorAll('.js-plotly-plot').length : 0;
  if (broken.length) document.body.insertAdjacentHTML('afterbegin',
    '<p style="color:#b00">' + broken.length + ' plot image(s) failed to load: rerun ann-bench report.</p>');
});
</script>"""


PARAM_COLUMNS = ("params", "build_params", "query_params")


def _pairs(slug: str) -> list[tuple[str, str]]:
    return [tuple(p.split("=", 1)) for p in str(slug).split(",") if "=" in p]


def fixed_params(df: pd.DataFrame) -> dict[str, dict[str, str]]:
    """Per algorithm, the parameters that keep one value in every run of these results (its
    defaults and the file's fixed choices): tables show the swept ones and put these in a tooltip."""
    out = {}
    for alg, g in df.groupby("algorithm"):
        values: dict[str, set] = {}
        for col in ("build_params", "query_params"):
            for slug in g[col].dropna().unique() if col in g else ():
                for k, v in _pairs(slug):
                    values.setdefault(f"{col}.{k}", set()).add(v)
        out[alg] = {k: next(iter(v)) for k, v in values.items() if len(v) == 1}
    return out


def _param_cell(alg, col: str, slug, fixed: dict) -> str:
    """Only the swept parameters (wrapping between them); the fixed ones in a tooltip."""
    if not isinstance(slug, str) or not slug:
        return ""
    same = fixed.get(alg, {})
    shown = [f"{k}={v}" for k, v in _pairs(slug) if same.get(f"{col}.{k}") != v]
    hidden = [f"{k}={v}" for k, v in _pairs(slug) if same.get(f"{col}.{k}") == v]
    text = html.escape(", ".join(shown) if shown else "(fixed)")
    return f"<span title='{html.escape('same in every run: ' + ', '.join(hidden))}'>{text}</span>" if hidden else text


def _table_html(df: pd.DataFrame, floatfmt: str = "{:.3g}", fixed: dict | None = None) -> str:
    """A table; with ``fixed`` (:func:`fixed_params`), parameter columns show only what was swept."""
    df = df.copy()
    owner = next((c for c in ("algorithm", "best_index") if c in df), None)
    for col in df.columns:
        if col in ("build_params", "query_params") and fixed is not None and owner:
            df[col] = [_param_cell(a, col, v, fixed) for a, v in zip(df[owner], df[col])]
        elif col == "params" and fixed is not None and owner:  # "build; query"
            df[col] = [" ; ".join(_param_cell(a, part, p, fixed) for part, p in zip(("build_params", "query_params"), str(v).split("; ")))
                       for a, v in zip(df[owner], df[col])]
        elif col in PARAM_COLUMNS:  # let long parameter lists wrap between parameters
            df[col] = df[col].map(lambda v: html.escape(str(v).replace(",", ", ")) if pd.notna(v) else "")
        elif not pd.api.types.is_numeric_dtype(df[col]):  # text (object or pandas' str dtype): escaped here
            df[col] = df[col].map(lambda v: html.escape(v) if isinstance(v, str) else v)
    return df.to_html(index=False, float_format=lambda v: floatfmt.format(v), na_rep="", border=0, escape=False)


def _run_metadata(files: list[str]) -> dict:
    """Machine, threads and settings of the newest result file; library versions of all of them
    (each run records its own library), with every distinct git commit."""
    meta: dict = {"versions": {}, "git_commits": set()}
    for path in sorted(files, key=lambda p: Path(p).stat().st_mtime):
        with h5py.File(path, "r") as f:
            for key in ("machine", "threads", "settings"):
                if key in f.attrs:
                    meta[key] = json.loads(f.attrs[key])
            if "versions" in f.attrs:
                meta["versions"] |= json.loads(f.attrs["versions"])
            meta["git_commits"].add(str(f.attrs.get("git_commit", "")))
    meta["git_commit"] = ", ".join(sorted(c for c in meta.pop("git_commits") if c))
    return meta


def _workload_rows(workloads_dir: Path, names) -> pd.DataFrame:
    rows = []
    for name in sorted(names):
        path = workloads_dir / f"{name}.hdf5"
        row = {"workload": name}
        if path.is_file():
            with h5py.File(path, "r") as f:
                quality = json.loads(f.attrs["quality"]) if "quality" in f.attrs else {}
                tt = quality.get("two-tower", {}).get("test", {})
                row |= {"metric": str(f.attrs.get("metric", f.attrs.get("distance", ""))), "base": f["train"].shape[0],
                        "dim": f["train"].shape[1], "queries": f["test"].shape[0],
                        "synthetic": bool(json.loads(f.attrs["synthetic"])) if "synthetic" in f.attrs else False,
                        "model test Recall@50": tt.get("recall@50"), "content hash": str(f.attrs.get("content_hash", ""))}
        rows.append(row)
    return pd.DataFrame(rows)


def _charts(df: pd.DataFrame, qps: str) -> dict[str, str]:
    """Per workload, the interactive Recall@10-vs-speed chart (plotly.js carried by the first)."""
    d = view(df, "recall@10")
    if "recall@10" not in d:
        return {}
    dq, basis = choose(d, qps)
    style, out = styles(df["algorithm"]), {}
    for i, workload in enumerate(sorted(dq["workload"].unique())):
        w = dq[(dq["workload"] == workload) & (dq["status"] == "ok")].dropna(subset=["recall@10", basis.column])
        if w.empty:
            continue
        fig = interactive.figure(w, "recall@10", basis.column, style, ylabel=f"{basis.label} (log)",
                                 title=f"{workload}: hover a point for its parameters, click the legend to hide an algorithm",
                                 reference=exact_qps(dq, workload, basis.column))
        out[workload] = interactive.to_html(fig, f"chart-{i}", first=not out)
    return out


def _stream_section(root: Path, plots_dir: Path) -> list[str]:
    """The streaming catalog's table and plots, where ``ann-bench stream`` wrote results under ``root``."""
    from ..stream.store import read_all
    from .stream import CHURN, GAP, NEW_SHARE, claims, plots, summary

    steps = read_all(root) if root.is_dir() else pd.DataFrame()
    if not len(steps):
        return []
    figures = plots(steps, plots_dir)
    return ["<h2>A changing catalog: which index keeps up</h2>",
            "<p>From <code>ann-bench stream</code>: each index built on the items live when half of them had arrived, "
            "then the catalog's life replayed in time order (an item arrives at its first rating and retires a year "
            "after its last). <i>in place</i>: the library adds and removes; <i>add only</i>: it adds, retired ids are "
            "filtered out of answers; <i>rebuild</i>: built again every few batches, arrivals waiting meanwhile. "
            f"Recall@10 against exact search over the live catalog after each batch (at the start, after {CHURN:.0%} "
            "churn and at the end, and a fresh build's at the end); <i>new_share</i>: share of answer slots held by "
            "items that arrived within the last few batches, against that share in the exact answers; memory: RSS "
            "growth of the serving process over the replay.</p>", _table_html(summary(steps)),
            "<p>The claim that HNSW updates well while IVF-PQ, ScaNN and Annoy are static, checked: an index "
            f"<i>keeps up</i> when it takes changes without a rebuild, its recall never falls more than {GAP} below a "
            f"fresh build's on the same items, and it serves brand-new items at least {NEW_SHARE:.0%} as often as exact "
            "search does.</p>", _table_html(claims(steps))] + [
        f"<img src='plots/{html.escape(p.name)}' alt='{html.escape(p.stem)}'>" for p in figures]


def build_report(results_dir: Path, workloads_dir: Path, out_dir: Path, *, qps: str = "qps_single") -> Path:
    df = gather(results_dir)
    workloads = _workload_rows(workloads_dir, df["workload"].unique())
    if "base" in workloads:  # result files written before they recorded the catalog size
        df["n_base"] = df["n_base"].fillna(df["workload"].map(workloads.set_index("workload")["base"]))
    out_dir.mkdir(parents=True, exist_ok=True)
    plots = all_plots(df, out_dir / "plots")
    tables_dir = out_dir / "tables"
    tables_dir.mkdir(exist_ok=True)
    cdf, basis = choose(df, qps)  # one CPU model's QPS, or speed-up over exact search on each node
    speed = basis.column
    best = best_at_targets(cdf, qps=speed)
    rec = recommend(cdf, qps=speed)
    claims, reduction = folklore(cdf, qps=speed), native_vs_reduced(cdf, qps=speed)
    sized = scaling.by_size(cdf, qps=speed)
    growth, origin = scaling.growth(sized), scaling.by_origin(cdf, qps=speed)
    tables = {f"best-qps-at-recall.{qps}": best, f"recommendation.{qps}": rec, f"claims.{qps}": claims,
              f"native-vs-reduced.{qps}": reduction, f"scaling.{qps}": growth,
              f"real-vs-synthetic.{qps}": origin}
    rec_f, basis_f = pd.DataFrame(), None
    if "filtered_recall@10" in df:
        fdf, basis_f = choose(df, "qps_filtered")
        rec_f = recommend(fdf, recall="filtered_recall@10", qps="qps_filtered")
        tables |= {"best-qps-at-recall.filtered": best_at_targets(fdf, recall="filtered_recall@10", qps="qps_filtered"),
                   "recommendation.filtered": rec_f}
    for name, t in tables.items():
        t.to_csv(tables_dir / f"{name}.csv", index=False)
        (tables_dir / f"{name}.md").write_text(markdown(t) + "\n")
    failed = df[df["status"] != "ok"][["workload", "algorithm", "build_params", "status", "reason"]].drop_duplicates()
    fixed = fixed_params(df[df["status"] == "ok"])
    charts = _charts(df, qps)
    meta = _run_metadata(df["file"].unique().tolist())

    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>ann-bench report</title><style>{_CSS}</style></head><body>",
             "<h1>ann-bench report</h1>",
             f"<p>Generated {html.escape(time.strftime('%Y-%m-%d %H:%M'))} by <code>ann-bench report</code> from "
             f"{df['file'].nunique()} result files ({len(df)} rows). Speed in tables: <b>{html.escape(speed)}</b>. "
             f"{html.escape(basis.note)} "
             "recall targets on Recall@10, read at retrieval depth k = 10 (the index asked for the top 10; "
             "ann-benchmarks' k-NN recall, distances within the 10th true distance + 0.001). Points and rows are "
             "labelled with the parameters the library really used; a configuration that repeats another's is "
             "left out. <code>flags</code> marks rows measured while other processes used the CPU "
             "(<i>contended</i>) or whose timed modes disagreed on recall by more than 0.01.</p>",
             "<h2>Machine</h2>", _table_html(pd.DataFrame([meta.get("machine", {})])),
             "<h3>Library versions</h3>", _table_html(pd.DataFrame([meta.get("versions", {})])),
             f"<p>Threads: {html.escape(json.dumps(meta.get('threads', {})))}; settings: "
             f"{html.escape(json.dumps(meta.get('settings', {})))}; git commit {html.escape(meta.get('git_commit', ''))}</p>",
             "<h2>Workloads</h2>", _table_html(workloads),
             "<h2>Recommended index per recall target</h2>",
             "<p>The fastest index reaching each Recall@10 target; exact search is recommended when no index is at "
             "least 1.5x faster than it (small catalogs).</p>", _table_html(rec, fixed=fixed) if len(rec) else "<p>No data.</p>"]
    if len(rec_f):
        parts += ["<h2>Filtered search: recommended index per recall target</h2>",
                  "<p>Each user's already-seen items excluded from the top 10, one query at a time at 1 thread; "
                  "recall against the exact filtered top 10. Libraries with a native filter skip excluded ids while "
                  "searching; the others are asked for 10 + (number of seen items) and the seen ones dropped. "
                  f"{html.escape(basis_f.note if basis_f else '')}</p>",
                  _table_html(rec_f, fixed=fixed)]
    tuned = results_dir / f"tuned.{qps}.csv"
    if tuned.is_file():  # written by ann-bench tune into its results folder
        parts += ["<h2>Tuned to a target</h2>",
                  "<p>From <code>ann-bench tune</code>: per workload, algorithm and goal, the fastest configuration "
                  "measured that meets it (Optuna over build parameters, bisection over the query parameter), and how "
                  "many builds and query configurations finding it took. Every configuration it measured is a result "
                  "file of this folder, in the plots and tables below.</p>", _table_html(pd.read_csv(tuned))]
    parts += _stream_section(results_dir / "stream", out_dir / "plots")
    parts += ["<h2>Common claims, checked</h2>",
              "<p>What is often said when choosing an index for two-tower retrieval, measured on this run: the "
              "fastest configuration of each index reaching each Recall@10 target (<i>ratio</i>: the claim's "
              "quantity, e.g. ScaNN's QPS over the best HNSW library's; for Annoy its rank by QPS over the number of "
              "indexes). A claim is absent where the algorithms it names did not run.</p>",
              _table_html(claims) if len(claims) else "<p>No claim could be checked on these results.</p>"]
    if len(reduction):
        parts += ["<h2>Inner product: native search vs the reduction</h2>",
                  "<p>The same library on an inner-product workload, with its own inner-product search and through "
                  "the reduction (one more coordinate, then its L2 or cosine search): best QPS at each Recall@10 "
                  "target.</p>", _table_html(reduction)]
    if scaling.families_with_sizes(sized):
        parts += ["<h2>How cost grows with the catalog</h2>",
                  f"<p>Workloads of one family (model, kind, metric) at several catalog sizes N: at each size the "
                  f"fastest configuration reaching each Recall@10 target; its {html.escape(speed)}, p99 latency, build time "
                  "and index bytes per vector at the largest size, each with the exponent b of a power law ~ N^b "
                  "fitted in log-log space over the sizes, and the smallest size at which it is at least "
                  f"{scaling.SPEEDUP:g}x faster than exact search at the same size.</p>",
                  _table_html(growth.drop(columns=["exact"]))]
        parts += [f"<img src='plots/{html.escape(p.name)}' alt='{html.escape(p.stem)}'>"
                  for p in scaling.plots(sized, out_dir / "plots", qps_label=basis.label) if p.suffix == ".png"]
    if len(origin):
        parts += ["<h2>Grown catalogs: recall on real and on synthetic items</h2>",
                  "<p>In a catalog grown with synthetic items (a mixture fitted to the real item vectors), the fastest "
                  "configuration reaching each Recall@10 target: the share of the true top-10 neighbours it returned "
                  "among those that are real items and among those that are synthetic, and the real share of the true "
                  "top 10. Close values mean the grown part is about as hard to search as the real one; "
                  "<code>ann-bench workloads info</code> gives relative contrast and intrinsic dimensionality for real and "
                  "synthetic items taken as queries.</p>", _table_html(origin)]
    for workload in sorted(df["workload"].unique()):
        parts.append(f"<h2 id='{html.escape(workload)}'>{html.escape(workload)}</h2>")
        parts.append(charts.get(workload, ""))
        parts.append("<div class='grid'>")
        for p in plots:
            if p.name.startswith(workload + "__"):
                parts.append(f"<img src='plots/{html.escape(p.name)}' alt='{html.escape(p.stem)}'>")
        parts.append("</div><h3>Best QPS at each recall target</h3>")
        w = best[best["workload"] == workload].drop(columns=["workload"]) if len(best) else best
        parts.append(_table_html(w, fixed=fixed) if len(w) else "<p>No configuration reached the targets.</p>")
    warn = warnings_table(df)
    parts += ["<h2>Measurement warnings</h2>",
              f"<p>{len(warn)} measured configurations carry a flag.</p>" + (_table_html(warn, fixed=fixed) if len(warn) else "")]
    spread = repeat_spread(cdf, qps=speed)
    if len(spread):
        spread.to_csv(tables_dir / "build-repeat-spread.csv", index=False)
        parts += ["<h2>Spread over repeated builds</h2>",
                  "<p>Each configuration built several times, each with the next seed (<code>settings.build_repeats</code>): "
                  "the range of Recall@10, QPS and build time between the builds.</p>", _table_html(spread, fixed=fixed)]
    parts += ["<h2>Failed and skipped runs</h2>", _table_html(failed) if len(failed) else "<p>None.</p>", _IMAGE_CHECK, "</body></html>"]
    index = out_dir / "index.html"
    index.write_text("\n".join(parts))
    return index

