"""The streaming catalog (issue 15): the replay's order and retirement rule, recall over the live catalog."""

import numpy as np
import pytest

from ann_bench.errors import ConfigError
from ann_bench.stream.schedule import DAY_S, plan
from ann_bench.stream.truth import live_knn, live_recall


def test_replay_order_and_retirement_on_a_hand_made_catalog():
    # (first, last) rating day of each item; retired 5 days after the last rating; start at day 10,
    # weekly batches ending on days 17, 24, 31, 38 and 45 (the last rating is on day 40)
    days = [(1, 2), (3, 20), (12, 12), (11, 40), (-1, -1), (16, 30), (10, 10), (17, 18)]
    first = np.array([f * DAY_S if f >= 0 else -1 for f, _ in days])
    last = np.array([la * DAY_S if la >= 0 else -1 for _, la in days])
    r = plan(first, last, period_days=7, retire_after_days=5, start=10 * DAY_S)
    assert list(r.ends // DAY_S) == [17, 24, 31, 38, 45]
    # item 0 retired on day 7, before the start; item 4 was never rated; item 6 arrived on the start day
    assert list(r.initial) == [1, 6]
    batches = list(r.batches())
    # item 2 arrives on day 12 and retires on day 17, within the first window: never live at a query
    assert [list(b.add) for b in batches] == [[3, 5, 7], [], [], [], []]
    assert [list(b.remove) for b in batches] == [[6], [7], [1], [5], [3]]
    assert [list(r.live_after(b)) for b in range(5)] == [[1, 3, 5, 7], [1, 3, 5], [3, 5], [3], []]


def test_batches_replayed_from_the_start_give_the_live_catalog_at_every_step():
    rng = np.random.default_rng(0)
    n = 3_000
    first = rng.integers(0, 1_000, n) * DAY_S
    last = first + rng.integers(0, 600, n) * DAY_S
    first[:50] = last[:50] = -1  # never rated
    r = plan(first, last, period_days=30, retire_after_days=365)
    retire_at = np.where(first >= 0, last + 365 * DAY_S, -1)
    live = set(r.initial)
    assert live == set(np.flatnonzero((first >= 0) & (first <= r.start) & (retire_at > r.start)))
    for b, batch in enumerate(r.batches()):
        assert not (set(batch.add) & live) and set(batch.remove) <= live
        assert list(first[batch.add]) == sorted(first[batch.add]) and list(retire_at[batch.remove]) == sorted(retire_at[batch.remove])
        live = (live | set(batch.add)) - set(batch.remove)
        # live at the batch's query time: arrived by then and not yet retired, by the times alone
        t = batch.end
        assert live == set(np.flatnonzero((first >= 0) & (first <= t) & (retire_at > t))) == set(r.live_after(b))
    assert not live & set(range(50))
    # the default start: half of the rated items had arrived by then
    assert np.mean(first[first >= 0] <= r.start) == pytest.approx(0.5, abs=0.01)


@pytest.mark.parametrize("kwargs, match", [
    ({"period_days": 0}, "must be above 0"),
    ({"start_share": 1.0}, "between 0 and 1"),
    ({"start": 10**10}, "choose an earlier start"),
])
def test_bad_replay_settings_are_clear_errors(kwargs, match):
    first, last = np.array([0, DAY_S]), np.array([DAY_S, 2 * DAY_S])
    with pytest.raises(ConfigError, match=match):
        plan(first, last, **kwargs)
    with pytest.raises(ConfigError, match="no item was ever rated"):
        plan(np.array([-1]), np.array([-1]))


def test_recall_against_the_live_catalog_on_a_hand_made_case():
    # five items on a line, the query at 0: items 0 and 1 are the nearest but 1 has retired
    base = np.array([[1.0], [0.5], [2.0], [3.0], [4.0]], np.float32)
    live = np.array([0, 2, 3, 4])
    ids, dist = live_knn(np.zeros((1, 1), np.float32), base, live, 2, "l2")
    assert ids.tolist() == [[0, 2]] and dist.round(4).tolist() == [[1.0, 2.0]]
    assert live_recall([[0, 2]], ids) == 1.0
    assert live_recall([[1, 0]], ids) == 0.5  # the retired item 1 is a miss
    assert live_recall([[3]], ids) == 0.0
    # fewer live items than k: the exact answer is padded and only the live ones count
    ids, _ = live_knn(np.zeros((1, 1), np.float32), base, np.array([4]), 3, "l2")
    assert ids.tolist() == [[4, -1, -1]] and live_recall([[4, 1, 2]], ids) == 1.0
