"""Tiled exact search and its running top-k, against a full stable sort of the whole matrix."""

import numpy as np
import pytest

from ann_bench import exact_search
from ann_bench.topk import RunningTopK


def full_sort(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Reference: every row sorted by score descending, then column ascending."""
    cols = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return cols, np.take_along_axis(scores, cols, 1)


@pytest.mark.parametrize("seed", range(6))
def test_running_top_k_matches_a_full_sort_with_ties_across_tiles(seed):
    rng = np.random.default_rng(seed)
    rows, n, k = 13, 700, int(rng.integers(1, 60))
    scores = rng.integers(-5, 6, (rows, n)).astype(np.float32)  # 11 values: ties everywhere
    scores[rng.random((rows, n)) < 0.1] = -np.inf  # excluded cells
    edges = np.unique(np.concatenate([[0, n], rng.integers(1, n, 12)]))  # uneven tiles
    top = RunningTopK(rows, k)
    for a, b in zip(edges[:-1], edges[1:]):
        top.offer(scores[:, a:b], int(a))
    ids, vals = top.result()
    ref_ids, ref_vals = full_sort(scores, k)
    np.testing.assert_array_equal(ids, ref_ids)
    np.testing.assert_array_equal(vals, ref_vals)


def test_running_top_k_rows_short_of_k_end_in_sentinels():
    scores = np.full((2, 6), -np.inf, dtype=np.float32)
    scores[0, [1, 4]] = [2.0, 3.0]
    top = RunningTopK(2, 3)
    top.offer(scores[:, :2], 0)
    top.offer(scores[:, 2:], 2)
    ids, vals = top.result()
    assert ids[0].tolist() == [4, 1, RunningTopK.SENTINEL] and vals[0].tolist() == [3.0, 2.0, -np.inf]
    assert (ids[1] == RunningTopK.SENTINEL).all()


def test_running_top_k_refuses_tiles_out_of_order():
    top = RunningTopK(1, 2)
    top.offer(np.zeros((1, 4), np.float32), 0)
    with pytest.raises(ValueError, match="left to right"):
        top.offer(np.zeros((1, 4), np.float32), 2)


@pytest.mark.parametrize("space", exact_search.SPACES)
@pytest.mark.parametrize("threads", [1, 2])
def test_tiled_search_matches_the_untiled_product(space, threads):
    rng = np.random.default_rng(7)
    x = (rng.standard_normal((3000, 24)) * rng.uniform(0.2, 3.0, (3000, 1))).astype(np.float32)
    q = rng.standard_normal((101, 24)).astype(np.float32)
    ref_ids, ref_vals = full_sort(exact_search.scores(q, x, np.einsum("ij,ij->i", x, x), space), 50)
    ids, vals = exact_search.search(q, x, 50, space, threads=threads, query_block=16, tile=256)
    np.testing.assert_array_equal(ids, ref_ids)
    np.testing.assert_allclose(vals, ref_vals, rtol=1e-5, atol=1e-4)


def test_tiled_search_excludes_and_pads_with_minus_one():
    x = np.eye(4, dtype=np.float32)
    q = np.ones((2, 4), dtype=np.float32)
    ids, vals = exact_search.search(q, x, 4, "ip", exclude=[np.array([0, 2]), -1], tile=4, query_block=1)
    assert ids.tolist() == [[1, 3, -1, -1], [0, 1, 2, 3]]
    assert vals[0, 2:].tolist() == [-np.inf, -np.inf]
