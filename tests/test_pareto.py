import numpy as np
import pandas as pd

from ann_bench.analysis.pareto import frontier, frontier_mask


def test_dominated_points_are_dropped():
    recall = [0.5, 0.9, 0.7, 0.9, 0.99]
    qps = [1000, 500, 400, 600, 100]
    # (0.7, 400) is beaten by (0.9, 500); (0.9, 500) by (0.9, 600)
    assert frontier_mask(recall, qps).tolist() == [True, False, False, True, True]


def test_ties_and_duplicates():
    # equal recall: only the faster survives; exact duplicates: only the first
    assert frontier_mask([0.8, 0.8], [100, 200]).tolist() == [False, True]
    assert frontier_mask([0.8, 0.8, 0.8], [100, 100, 100]).tolist() == [True, False, False]
    # equal qps: only the more accurate survives
    assert frontier_mask([0.7, 0.9], [100, 100]).tolist() == [False, True]


def test_single_point_all_dominated_and_nan():
    assert frontier_mask([0.5], [10]).tolist() == [True]
    # one point beats all others
    assert frontier_mask([0.1, 0.2, 0.99], [1, 2, 100]).tolist() == [False, False, True]
    assert frontier_mask([0.5, np.nan], [10, 20]).tolist() == [True, False]
    assert frontier_mask([], []).tolist() == []


def test_frontier_rows_sorted_and_costs_minimised():
    df = pd.DataFrame({"recall": [0.9, 0.5, 0.95, 0.6], "build_s": [10.0, 1.0, 5.0, 2.0]})
    out = frontier(df, "recall", "build_s", minimize_y=True)
    # (0.9, 10 s) is beaten by (0.95, 5 s)
    assert out["recall"].tolist() == [0.5, 0.6, 0.95]
