"""Which speed a report may compare: QPS within one CPU model, or speed-up over exact search
measured on the same node.

QPS measured on two CPU models says as much about the CPUs as about the indexes. Every run
also times a plain exact search on its own node (:mod:`ann_bench.sweep.reference`), so
``speedup_single = qps_single / exact_qps`` compares across nodes. :func:`choose` keeps raw
QPS when every measured run came from one CPU model; otherwise it switches single-query QPS to
``speedup_single`` and, for the other QPS modes (no per-node yardstick), keeps only the CPU
model with the most runs. The returned :class:`Basis` says which, for tables, plots and the
report's text.

Exact search on a GPU (``torch-exact`` on cuda) has no such yardstick: its speed is the GPU's,
not its host CPU's. Its rows are compared in raw QPS beside CPU runs of the same machine, and
left out, with a sentence saying so, where they came from a machine no CPU run came from, or
where single-query QPS is normalised per node.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

QPS_MODES = {"qps_single": "single-query QPS, 1 thread", "qps_batch_1t": "batch QPS, 1 thread",
             "qps_batch_nt": "batch QPS, all cores", "qps_filtered": "filtered single-query QPS, 1 thread"}
SPEEDUP = "speedup_single"
LABELS = QPS_MODES | {SPEEDUP: "single-query speed-up over exact search on the same node, 1 thread"}


@dataclass(frozen=True)
class Basis:
    column: str  # the column tables rank by and plots draw
    scope: str   # a few words for a plot title: the CPU model, or how runs were made comparable
    note: str    # one sentence for a report: what is compared, and why

    @property
    def label(self) -> str:
        return LABELS.get(self.column, self.column)

    @property
    def normalised(self) -> bool:
        return self.column == SPEEDUP


def on_gpu(row) -> bool:
    """The row was searched on a GPU (its ``device`` names one; CPU rows say 'cpu' or nothing)."""
    device = row.get("device")
    return isinstance(device, str) and device not in ("", "cpu")


def gpu_rows(df: pd.DataFrame) -> pd.Series:
    """Which rows were searched on a GPU."""
    if "device" not in df:
        return pd.Series(False, index=df.index)
    return df["device"].map(lambda d: on_gpu({"device": d})).astype(bool)


def cpu_models(df: pd.DataFrame) -> list[str]:
    """The distinct CPU models that measured runs came from (unknown ones left out)."""
    if "cpu" not in df:
        return []
    ok = df[df["status"] == "ok"] if "status" in df else df
    return sorted(str(c) for c in ok["cpu"].dropna().unique())


def _without_gpu(df: pd.DataFrame, keep: pd.Series, why: str) -> tuple[pd.DataFrame, str]:
    """``df`` less its GPU rows outside ``keep``, and a sentence saying how many files went and why."""
    gone = gpu_rows(df) & ~keep
    files = df.loc[gone, "file"].nunique() if "file" in df else int(gone.sum())
    if not files:
        return df, ""
    return df[~gone], f" {files} result file(s) of search on a GPU are left out: {why}."


def choose(df: pd.DataFrame, qps: str = "qps_single") -> tuple[pd.DataFrame, Basis]:
    """The rows and the column that compare ``qps`` fairly (see the module docstring). Rows of
    runs that did not succeed are kept, so failures are still reported."""
    hosts = cpu_models(df[~gpu_rows(df)])
    on_hosts = df["cpu"].isin(hosts) if "cpu" in df and hosts else pd.Series(True, index=df.index)
    df, gone = _without_gpu(df, on_hosts, "no CPU index ran on their machine, so nothing measured "
                                          "there compares with them; sweep gpu.yaml where the CPU indexes ran")
    df, basis = _choose(df, qps)
    if basis.normalised:
        df, more = _without_gpu(df, pd.Series(False, index=df.index),
                                "a GPU's QPS over its host CPU's exact search measures neither")
        gone += more
    return df, Basis(basis.column, basis.scope, basis.note + gone)


def _choose(df: pd.DataFrame, qps: str) -> tuple[pd.DataFrame, Basis]:
    models = cpu_models(df)
    if len(models) <= 1:
        cpu = models[0] if models else "unknown CPU"
        return df, Basis(qps, cpu, f"{LABELS.get(qps, qps)}: every run was measured on one CPU model ({cpu}).")
    listed = "; ".join(models)
    measured = df["status"] == "ok"
    if qps == "qps_single":
        has = df[SPEEDUP].notna() if SPEEDUP in df else pd.Series(False, index=df.index)
        left = df.loc[measured & ~has, "file"].nunique()
        note = (f"Runs were measured on {len(models)} CPU models ({listed}): single-query QPS is compared as the "
                f"speed-up over a plain exact search timed on the same node ({SPEEDUP}).")
        if left:
            note += f" {left} result file(s) recorded no exact-search timing and are left out."
        return df[~measured | has], Basis(SPEEDUP, f"{len(models)} CPU models, normalised per node", note)
    counts = df[measured].groupby("cpu")["file"].nunique()
    top = str(counts.idxmax())
    left = int(counts.sum() - counts[top])
    note = (f"Runs were measured on {len(models)} CPU models ({listed}); {LABELS.get(qps, qps)} has no per-node "
            f"yardstick, so only the {counts[top]} result file(s) from {top} are compared ({left} from other CPU "
            "models left out).")
    return df[~measured | (df["cpu"] == top)], Basis(qps, f"{top} only", note)
