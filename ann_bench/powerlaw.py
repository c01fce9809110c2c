"""Power laws ``y = a * N^b`` fitted by least squares in log-log space.

Shared by the sweep budget (predicting a build's time at a larger catalog) and the scaling
analysis (how QPS, latency, build time and memory grow with the catalog).
"""

from __future__ import annotations

import math

import numpy as np


def fit(sizes, values) -> tuple[float, float]:
    """``(b, log a)`` of the least-squares line through ``(log N, log y)``; NaN exponent for
    fewer than two distinct sizes. Values must be positive."""
    n = np.log(np.asarray(sizes, dtype=float))
    y = np.log(np.asarray(values, dtype=float))
    if len(np.unique(n)) < 2:
        return math.nan, float(np.mean(y - n)) if len(y) else math.nan
    b, log_a = np.polyfit(n, y, 1)
    return float(b), float(log_a)


def exponent_label(b: float) -> str:
    """'N^1.10', or '' when there is no exponent."""
    return "" if not math.isfinite(b) else f"N^{b:.2f}"
