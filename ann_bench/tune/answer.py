"""The tuner's answer: per workload, algorithm and goal, the fastest configuration that met it,
and what finding it cost (builds, query configurations measured)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .study import best_meeting, points
from .targets import Goal


def answer(workload: str, algorithm: str, files: list[Path], goals, qps: str, cost: dict | None = None) -> list[dict]:
    """One row per goal from the result files a study made (each a build); ``cost``: what else
    finding it took (screening's builds and query configurations), as columns."""
    files = sorted(set(files))
    k = goals[0].k
    df = pd.concat([points(f, k) for f in files], ignore_index=True) if files else pd.DataFrame()
    rows = []
    for goal in goals:
        row = {"workload": workload, "algorithm": algorithm, "goal": str(goal), "builds": len(files), "query_configs": len(df),
               **(cost or {})}
        best = best_meeting(df, goal, qps)
        if best is None:
            row["answer"] = _unreached(df, goal)
        else:
            row |= {"answer": "met", "build_params": best["build_params"], "query_params": best["query_params"],
                    qps: best[qps], goal.recall_column: best[goal.recall_column], "latency_p99_ms": best.get("latency_p99_ms"),
                    "index_mb": best.get("index_mb"), "build_s": best.get("build_s")}
        rows.append(row)
    return rows


def _unreached(df: pd.DataFrame, goal: Goal) -> str:
    """'no configuration reached <goal>', with the best recall seen (and, when some reached the
    recall but broke a limit, which limits)."""
    col = goal.recall_column
    if df.empty or col not in df:
        return f"no configuration reached {goal}: nothing was measured"
    text = f"no configuration reached {goal} (best {col} seen {df[col].max():.3f})"
    reached = df[df[col] >= goal.recall]
    if len(reached):
        broken = sorted({c for r in reached.to_dict("records") for c in goal.violations(r)})
        text += f"; {len(reached)} reached the recall but broke {', '.join(broken)}"
    return text

