"""Recall-vs-QPS (the classic chart), build time, memory and end-to-end recall plots.

One colour and marker per algorithm, the same in every plot of a report; each algorithm's
Pareto frontier drawn as a line over its faint points; the exact baseline's QPS as a
reference line. Files are named ``<workload>__<y>-vs-<x>.{png,svg}`` so a listing explains them.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from .comparable import choose, cpu_models  # noqa: E402
from .pareto import frontier  # noqa: E402
from .tables import cpu_exact, gpu_exact, view  # noqa: E402

PLOTTED_QPS = ("qps_single", "qps_batch_1t", "qps_batch_nt")
_MARKERS = "os^Dv<>pPXh*"


def styles(algorithms) -> dict[str, dict]:
    """A fixed colour and marker per algorithm name (sorted), shared by every plot."""
    cmap = plt.get_cmap("tab20")
    return {a: {"color": cmap(i % 20), "marker": _MARKERS[i % len(_MARKERS)]} for i, a in enumerate(sorted(set(algorithms)))}


def _machine(df: pd.DataFrame) -> str:
    models = cpu_models(df)
    return models[0] if len(models) == 1 else f"{len(models)} CPU models" if models else "unknown CPU"


def save_figure(fig, out_dir: Path, stem: str) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{stem}.png", out_dir / f"{stem}.svg"]
    fig.savefig(paths[0], dpi=110, bbox_inches="tight")
    fig.savefig(paths[1], bbox_inches="tight")
    plt.close(fig)
    return paths


def tradeoff_plot(df: pd.DataFrame, workload: str, x: str, y: str, style: dict, out_dir: Path, *,
                  ylabel: str, log_y: bool = True, minimize_y: bool = False, reference: float | None = None,
                  reference_label: str = "", label_column: str | None = None, subtitle: str = "",
                  scope: str | None = None, gpu_reference: float | None = None) -> list[Path]:
    """One workload: ``y`` against ``x`` per algorithm, frontier lines over faint points; the
    ``reference`` (exact search on the CPU) and ``gpu_reference`` (on a GPU) as dashed lines.

    ``label_column``: a per-algorithm column whose value is added to the legend label;
    ``scope``: what the second title line says about the machines (default: the CPU model).
    """
    d = df[(df["workload"] == workload) & (df["status"] == "ok")].dropna(subset=[x, y])
    if d.empty:
        return []
    fig, ax = plt.subplots(figsize=(8, 5.5))
    for alg, g in d.groupby("algorithm", sort=True):
        s = style[alg]
        ax.scatter(g[x], g[y], color=s["color"], marker=s["marker"], alpha=0.25, s=18, linewidths=0)
        f = frontier(g, x, y, minimize_y=minimize_y)
        label = f"{alg} ({g[label_column].iloc[0]})" if label_column and label_column in g else alg
        ax.plot(f[x], f[y], color=s["color"], marker=s["marker"], markersize=5, linewidth=1.6, label=label)
    overall = frontier(d, x, y, minimize_y=minimize_y)
    ax.plot(overall[x], overall[y], color="black", linestyle=":", linewidth=1, label="frontier (all)")
    if reference is not None and np.isfinite(reference):
        ax.axhline(reference, color="grey", linestyle="--", linewidth=1, label=reference_label)
    if gpu_reference is not None and np.isfinite(gpu_reference):
        ax.axhline(gpu_reference, color="tab:green", linestyle="-.", linewidth=1.2, label=f"{reference_label} on a GPU")
    if log_y:
        ax.set_yscale("log")
    ax.set_xlabel(_XLABELS.get(x.split("@")[0], "{}").format(x.replace("recall@", "Recall@").replace("_", " ")))
    ax.set_ylabel(ylabel)
    ax.grid(True, which="both", alpha=0.3)
    ax.set_title(f"{workload}{'  (' + subtitle + ')' if subtitle else ''}\n{scope or _machine(d)}", fontsize=10)
    ax.legend(fontsize=8, loc="best", ncol=2, framealpha=0.85)
    return save_figure(fig, out_dir, f"{workload}__{_slug(y)}-vs-{_slug(x)}")


_XLABELS = {"recall": "{} (ANN vs exact neighbours)",
            "filtered_recall": "{} (seen items excluded; vs exact filtered neighbours)"}


def _slug(name: str) -> str:
    return name.replace("@", "").replace(".", "_")


def exact_qps(df: pd.DataFrame, workload: str, qps: str, *, gpu: bool = False) -> float:
    """The best QPS of exact search on the CPU (or, ``gpu``, on a GPU) for ``workload``."""
    d = df[(df["workload"] == workload) & (df["status"] == "ok")]
    exact = d[(gpu_exact if gpu else cpu_exact)(d)] if len(d) else d
    return float(exact[qps].max()) if len(exact) else float("nan")


def all_plots(df: pd.DataFrame, out_dir: Path, *, ks=(10, 100)) -> list[Path]:
    """Every plot of the report for every workload in ``df``; Recall@K is read at depth K."""
    style = styles(df["algorithm"])
    paths: list[Path] = []
    filtered = view(df, "filtered_recall@10")
    for workload in sorted(df["workload"].unique()):
        for k in ks:
            recall = f"recall@{k}"
            d = view(df, recall)
            if recall not in d or not d.loc[d["workload"] == workload, recall].notna().any():
                continue
            for qps in PLOTTED_QPS:
                dq, basis = choose(d, qps)
                y = basis.column
                if y in dq and dq.loc[dq["workload"] == workload, y].notna().any():
                    paths += tradeoff_plot(dq, workload, recall, y, style, out_dir, ylabel=f"{basis.label} (log)",
                                           reference=exact_qps(dq, workload, y), reference_label="exact search",
                                           gpu_reference=exact_qps(dq, workload, y, gpu=True),
                                           subtitle=f"k = {k}: the index asked for the top {k}", scope=basis.scope)
        d10 = view(df, "recall@10")
        paths += tradeoff_plot(d10, workload, "recall@10", "build_s", style, out_dir, ylabel="build time, s (log)", minimize_y=True)
        paths += tradeoff_plot(d10, workload, "recall@10", "index_mb", style, out_dir, ylabel="index memory, MB (RSS growth, log)", minimize_y=True)
        fw = filtered[filtered["workload"] == workload]
        if "rec_recall@10" in fw and fw["rec_recall@10"].notna().any():
            exact_rec = fw["rec_recall@10_exact"].dropna()
            paths += tradeoff_plot(filtered, workload, "filtered_recall@10", "rec_recall@10", style, out_dir, log_y=False,
                                   ylabel="recommendation Recall@10 (seen items excluded)",
                                   reference=float(exact_rec.iloc[0]) if len(exact_rec) else None,
                                   reference_label="with exact search")
        if "filtered_recall@10" in fw and fw["filtered_recall@10"].notna().any():
            fq, basis = choose(filtered, "qps_filtered")
            paths += tradeoff_plot(fq, workload, "filtered_recall@10", "qps_filtered", style, out_dir,
                                   ylabel=f"{basis.label} (log)",
                                   reference=exact_qps(fq, workload, "qps_filtered"), reference_label="exact search",
                                   gpu_reference=exact_qps(fq, workload, "qps_filtered", gpu=True),
                                   label_column="filter_method", scope=basis.scope)
    return [p for p in paths if p.suffix == ".png"] + [p for p in paths if p.suffix == ".svg"]
