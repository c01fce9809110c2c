"""The replay of a catalog's life: which items are live at each step, in time order.

An item enters the catalog at its first rating and retires ``retire_after`` after its last
one (the documented rule: a movie nobody has rated for a year is taken down; a movie never
rated is never live). The replay starts at ``start`` (by default the time by which half of the
rated items had arrived): the index is built on the items live then. Every ``period`` after it
one batch is applied, its arrivals (first rating within the batch's time window, in arrival
order) added and its retirements (retirement time within the window) removed, and then the
queries run against the live catalog. An item that would arrive and retire within the same
window is never live when queries run and is left out. The last window ends at or after the
last rating.

Each item's step of arrival ``a`` (-1: live at the start) and of retirement ``r`` (the number of
batches: never within the replay) decide everything: it is live after batch ``b`` when
``a <= b < r``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError

DAY_S = 86_400


@dataclass(frozen=True)
class Batch:
    end: int  # unix seconds: the batch's window is (the previous batch's end, end]
    add: np.ndarray  # rows arriving, in arrival order
    remove: np.ndarray  # rows retiring, in retirement order


@dataclass(frozen=True)
class Replay:
    start: int  # unix seconds: the index is built on the items live then
    period_s: int
    retire_after_s: int
    arrive: np.ndarray  # per row: the batch it arrives in (-1: live at the start)
    retire: np.ndarray  # per row: the batch it retires in (the number of batches: not within the replay)
    ends: np.ndarray  # per batch: the end of its window
    arrive_at: np.ndarray  # per row: its first rating (unix seconds)
    retire_at: np.ndarray  # per row: its retirement time

    @property
    def initial(self) -> np.ndarray:
        """The rows live at the start, in row order."""
        return self.live_after(-1)

    def live_after(self, b: int) -> np.ndarray:
        """The rows live once batch ``b`` is applied (-1: at the start), in row order."""
        return np.flatnonzero((self.arrive <= b) & (b < self.retire))

    def batches(self):
        """Every batch in order, its arrivals and retirements each in time order (ties by row),
        grouped in one pass over the catalog rather than one per batch."""
        n = len(self.ends)
        adds = _group(self.arrive, self.arrive_at, (self.arrive >= 0) & (self.retire > self.arrive), n)
        removes = _group(self.retire, self.retire_at, (self.retire < n) & (self.arrive < self.retire), n)
        for b in range(n):
            yield Batch(int(self.ends[b]), adds[b], removes[b])


def _group(step: np.ndarray, when: np.ndarray, keep: np.ndarray, n: int) -> list[np.ndarray]:
    """The rows with ``keep``, split by ``step`` (0..n-1), each group ordered by ``when`` then row."""
    rows = np.flatnonzero(keep)
    rows = rows[np.lexsort((rows, when[rows], step[rows]))]
    return np.split(rows, np.searchsorted(step[rows], np.arange(1, n)))


def plan(first: np.ndarray, last: np.ndarray, *, period_days: float = 7, retire_after_days: float = 365,
         start: int | None = None, start_share: float = 0.5, batches: int | None = None) -> Replay:
    """The replay of a catalog whose items were first and last rated at ``first`` and ``last``
    (unix seconds, -1 for never), one batch per ``period_days`` (or, with ``batches``, the span
    from the start to the last rating cut into that many equal windows, whole seconds); the start
    is ``start`` or the time by which ``start_share`` of the rated items had arrived."""
    first, last = np.asarray(first, np.int64), np.asarray(last, np.int64)
    if first.shape != last.shape or first.ndim != 1:
        raise ConfigError(f"first and last rating times must be two lists of one time per item; got {first.shape} and {last.shape}.")
    if period_days <= 0 or retire_after_days <= 0:
        raise ConfigError(f"period ({period_days:g} days) and retirement ({retire_after_days:g} days) must be above 0.")
    if batches is not None and batches < 1:
        raise ConfigError(f"batches {batches} must be at least 1.")
    if not 0 < start_share < 1:
        raise ConfigError(f"start_share {start_share:g} must be between 0 and 1 (the share of items live at the start).")
    rated = first >= 0
    if not rated.any():
        raise ConfigError("no item was ever rated: there is no arrival order to replay.")
    period, after = int(round(period_days * DAY_S)), int(round(retire_after_days * DAY_S))
    if start is None:
        start = int(np.sort(first[rated])[int(start_share * (rated.sum() - 1))])
    end = int(last[rated].max())
    if end <= start:
        raise ConfigError(f"the replay would start at {start}, at or after the last rating ({end}): choose an earlier start.")
    if batches is None:
        ends = start + period * np.arange(1, math.ceil((end - start) / period) + 1, dtype=np.int64)
    else:  # cut the span into ``batches`` windows of whole seconds, the last ending at the last rating
        if end - start < batches:
            raise ConfigError(f"{batches} batches do not fit in the {end - start} s between the start and the last rating.")
        ends = start + (end - start) * np.arange(1, batches + 1, dtype=np.int64) // batches
        period = (end - start) // batches
    n = len(ends)
    retire_at = np.where(rated, last + after, -1)

    def step(t: np.ndarray) -> np.ndarray:  # the batch whose window holds time t; -1 at or before the start
        return np.where(t <= start, -1, np.searchsorted(ends, t, side="left"))

    arrive = np.where(rated, step(first), n)  # never rated: never live
    retire = np.where(rated, np.minimum(step(retire_at), n), n)
    return Replay(start, period, after, arrive, retire, ends, first, retire_at)
