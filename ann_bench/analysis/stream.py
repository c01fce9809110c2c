"""The streaming catalog's answers: per library, how its index kept up with arrivals and
retirements (a table), and its recall and memory over the replay (plots)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

CHURN = 0.2  # the table reads recall after this much churn (items added + removed, over the initial catalog)


def _first_at(steps: pd.DataFrame, churn: float) -> pd.Series | None:
    reached = steps[steps["churn"] >= churn]
    return reached.iloc[0] if len(reached) else None


def _rate(n: pd.Series, seconds: pd.Series) -> float:
    s = seconds.sum()
    return float(n.sum() / s) if s > 0 and n.sum() else np.nan


def summary(steps: pd.DataFrame) -> pd.DataFrame:
    """One row per workload and library: how catalog changes reach it, insert and delete
    throughput, recall at the start, after ``CHURN`` churn and at the end (and a fresh build's
    at the end), retired items returned, brand-new items' share of the answers against their
    share of the exact answers, memory growth, the cost of a rebuild and the query speed."""
    rows = []
    for (workload, algorithm), s in steps.groupby(["workload", "algorithm"], sort=True):
        s = s.sort_values("step").assign(churn=lambda d: (d["added"] + d["removed"]).cumsum() / d["n_initial"])
        first, last, at = s.iloc[0], s.iloc[-1], _first_at(s, CHURN)
        native = s["updates"].iloc[0] != "rebuild"
        fresh = s.dropna(subset=["fresh_recall"])
        rows.append({
            "workload": workload, "algorithm": algorithm, "updates": first["updates"], "status": first["status"],
            "items_start": int(first["n_live"]), "items_end": int(last["n_live"]), "batches": int(last["step"]),
            "insert_per_s": _rate(s["added"], s["add_s"]) if native else np.nan,
            "delete_per_s": _rate(s["removed"], s["remove_s"]),
            "recall_start": first["recall"],
            f"recall_churn{CHURN:g}": at["recall"] if at is not None else np.nan,
            f"drift_churn{CHURN:g}": round(at["recall"] - first["recall"], 4) if at is not None else np.nan,
            "recall_end": last["recall"], "fresh_recall_end": fresh["fresh_recall"].iloc[-1] if len(fresh) else np.nan,
            "retired_returned": s["retired_share"].max(),
            "new_share": s["new_share"].mean(), "new_share_exact": s["new_share_exact"].mean(),
            "memory_growth_mb": last["index_mb"] - first["index_mb"],
            "build_s": first["initial_build_s"], "rebuild_s": fresh["fresh_build_s"].iloc[-1] if len(fresh) else np.nan,
            "qps_single": s["qps"].median(), "p99_ms": s["p99_ms"].median(),
        })
    return pd.DataFrame(rows)


GAP = 0.02  # an updated index keeps up when its recall stays within this of a fresh build's
NEW_SHARE = 0.9  # ... and it serves brand-new items at least this share as often as exact search does
CLAIMED = {"hnswlib": "updates well", "faiss-hnsw": "updates well", "usearch": "updates well", "voyager": "updates well",
           "nmslib-hnsw": "updates well", "faiss-ivfpq": "static", "scann": "static", "annoy": "static"}


def claims(steps: pd.DataFrame) -> pd.DataFrame:
    """The claim that HNSW updates well while IVF-PQ, ScaNN and Annoy are static, checked per
    library: it *keeps up* when it takes changes without a rebuild, its recall never falls more
    than ``GAP`` below a fresh build's on the same items, and it serves brand-new items at least
    ``NEW_SHARE`` as often as exact search; the verdict says whether that matches the claim."""
    rows = []
    table = summary(steps).set_index(["workload", "algorithm"])
    for (workload, algorithm), s in steps.groupby(["workload", "algorithm"], sort=True):
        said = CLAIMED.get(s["adapter"].iloc[0])
        if said is None:
            continue
        t = table.loc[(workload, algorithm)]
        worst_gap = (s["recall"] - s["fresh_recall"]).min()
        served = t["new_share"] / t["new_share_exact"] if t["new_share_exact"] > 0 else 1.0
        misses = [why for why, bad in (("rebuilt to take changes", t["updates"] == "rebuild"),
                                       (f"recall {worst_gap:+.3f} against a fresh build", worst_gap < -GAP),
                                       (f"serves new items {served:.0%} as often as exact search", served < NEW_SHARE)) if bad]
        rows.append({"workload": workload, "algorithm": algorithm, "updates": t["updates"], "claimed": said,
                     "measured": "keeps up" if not misses else "falls behind: " + "; ".join(misses),
                     "worst_gap_to_fresh": round(worst_gap, 4),
                     "verdict": "holds" if (said == "updates well") == (not misses) else "does not hold"})
    return pd.DataFrame(rows)


def plots(steps: pd.DataFrame, out_dir: Path) -> list[Path]:
    """Per workload: recall@k (solid) with each fresh build's recall (dots) and the index's
    memory over the replay, one colour per library."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for workload, w in steps.groupby("workload", sort=True):
        fig, (ax_r, ax_m) = plt.subplots(1, 2, figsize=(13, 4.5))
        for i, (algorithm, s) in enumerate(w.groupby("algorithm", sort=True)):
            s = s.sort_values("step")
            when = pd.to_datetime(s["end"], unit="s")
            colour = f"C{i % 10}"
            ax_r.plot(when, s["recall"], color=colour, label=f"{algorithm} ({s['updates'].iloc[0]})")
            fresh = s.dropna(subset=["fresh_recall"])
            ax_r.plot(pd.to_datetime(fresh["end"], unit="s"), fresh["fresh_recall"], "o", color=colour, markersize=4)
            ax_m.plot(when, s["index_mb"], color=colour, label=algorithm)
        ax_r.set_title(f"{workload}\nrecall@10 over the live catalog (dots: a fresh build)", fontsize=9)
        ax_m.set_title(f"{workload}\nindex memory (RSS growth since the build began)", fontsize=9)
        ax_r.set_ylabel("recall@10")
        ax_m.set_ylabel("MiB")
        ax_r.legend(fontsize=7)
        for ax in (ax_r, ax_m):
            ax.grid(alpha=0.3)
        fig.autofmt_xdate()
        fig.tight_layout()
        path = out_dir / f"stream__{workload}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths
