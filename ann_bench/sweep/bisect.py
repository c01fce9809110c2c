"""The smallest value of a monotone query parameter that reaches a recall target, by bisection.

Recall grows with ``ef``, ``nprobe``, ``search_k``, ``leaves_to_search`` (more work per query,
never fewer true neighbours found, up to noise), and QPS falls with it, so the fastest value
reaching a target is the smallest one that does. Bisection over ``[lo, hi]`` (in log space:
these parameters span orders of magnitude) finds it in at most about
``log2(log(hi/lo)/log(ratio))`` evaluations instead of a grid's fixed list, and stops once the
bracket is narrower than ``ratio`` (consecutive candidates an index would barely tell apart).
Each step tries where the line through the bracket's measured ends crosses the target (recall
on a logit scale), safeguarded to the bracket's middle 80% and kept at least half a ``ratio``
from either end, which usually takes fewer steps than halving; an end left standing while the
other moved twice counts for less (the Illinois rule). Without these guards a curve that
flattens toward its top, as recall does, makes every step land just past one end: the bracket
creeps from that side and never narrows from the other, and a budget of configurations runs out
on steps that each move the answer by a few percent. Evaluations are cached, so several targets
searched on one index share their points.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable


@dataclass
class Curve:
    """One index's ``evaluate(value) -> recall``, remembered: every point is measured once."""

    evaluate: Callable[[float], float]
    integer: bool = True
    points: dict = field(default_factory=dict)  # value -> recall, in the order measured

    def __call__(self, value):
        value = int(value) if self.integer else float(value)
        if value not in self.points:
            self.points[value] = float(self.evaluate(value))
        return self.points[value]

    def best(self) -> tuple[float, float]:
        """The value with the highest recall seen (the smallest such value on a tie)."""
        return max(self.points.items(), key=lambda p: (p[1], -p[0]))

    def plateau(self, target: float):
        """Where growing the value stopped paying, for a ``target`` above every recall seen: the
        smallest value whose recall is within a tenth of the shortfall of the best (a curve
        creeping toward a cap, 0.9716 at nprobe 214 and 0.9724 at 8,000, plateaus at 214, not at
        the top of the range)."""
        best = self.best()[1]
        return min(v for v, r in self.points.items() if r >= best - (target - best) / 10)


@dataclass(frozen=True)
class Found:
    target: float
    value: float | None  # the smallest value found to reach the target; None: unreachable in [lo, hi]
    recall: float         # recall at ``value``, or the best recall seen when unreachable
    best_value: float     # where the best recall was seen

    @property
    def reached(self) -> bool:
        return self.value is not None


def _logit(r: float) -> float:
    r = min(max(r, 1e-4), 1 - 1e-4)
    return math.log(r / (1 - r))


def _mid(lo, hi, integer: bool, log: bool, curve: Curve | None = None, target: float | None = None,
         ratio: float = 1.0, damp: tuple[float, float] = (1.0, 1.0)):
    """The next value to try inside ``(lo, hi)``: where the line through the two measured ends
    (logit of recall against the value, log scale where the parameter has one) crosses the
    target, each end's distance from the target scaled by ``damp`` (the Illinois rule: an end
    kept while the other moved twice counts for half, then a quarter, ...), kept within the
    middle 80% of the bracket so it always shrinks, and at least half a ``ratio`` step from
    either end (on a log scale ``sqrt(ratio)`` times; on a linear one half the width
    :func:`_narrow` accepts), so that when the line's guess is close, one end or the other lands
    within the ratio of it; the plain middle when an end is not measured. A real value is
    rounded to the digits the bracket's width needs (``0.0523``, not ``0.052318...``)."""
    f = math.log if log and lo > 0 else float
    a, b = f(lo), f(hi)
    x = (a + b) / 2
    if curve is not None and lo in curve.points and hi in curve.points:
        t = _logit(target)
        fa, fb = (_logit(curve.points[lo]) - t) * damp[0], (_logit(curve.points[hi]) - t) * damp[1]
        if fb > fa:
            x = a - fa / (fb - fa) * (b - a)
            step = math.log(max(ratio, 1.0)) / 2 if log and lo > 0 else (ratio - 1) * abs(hi) / 2
            margin = max(0.1 * (b - a), min(step, (b - a) / 2))
            x = min(max(x, a + margin), b - margin)
    m = math.exp(x) if log and lo > 0 else x
    if integer:
        return min(max(round(m), lo + 1), hi - 1)
    short = round(m, -math.floor(math.log10((hi - lo) / 20)))  # a readable value, within 5% of the bracket
    return short if lo < short < hi else m


def _narrow(lo, hi, integer: bool, ratio: float, log: bool, span: float) -> bool:
    """Whether the bracket is narrow enough: ``hi / lo <= ratio`` on a log scale; on a linear
    one, relatively as narrow, or within 1% of the whole range ``span`` (so a bracket closing
    on 0 stops instead of halving toward it forever)."""
    if integer and hi - lo <= 1:
        return True
    return hi <= lo * ratio if log and lo > 0 else hi - lo <= max((ratio - 1) * abs(hi), span / 100)


def max_steps(lo, hi, *, ratio: float, log: bool, integer: bool) -> int:
    """At most how many halvings bring ``[lo, hi]`` to a bracket :func:`_narrow` accepts."""
    if log and lo > 0:
        span = math.log(hi / lo) / math.log(max(ratio, 1 + 1e-9))
    else:
        span = (hi - lo) / max((ratio - 1) * abs(hi), (hi - lo) / 100, 1e-12)
    if integer:
        span = min(span, hi - lo)
    return math.ceil(math.log2(span)) if span > 1 else 0


def gallop(v, lo, hi, up: bool, log: bool, integer: bool, width: float):
    """The next value from ``v`` toward ``hi`` (``up``) or ``lo``: twice (half) the value on a log
    scale, ``width`` further on a linear one; clamped to the range, never ``v`` itself."""
    if log and lo > 0:
        n = v * 2 if up else v / 2
    else:
        n = v + width if up else v - width
    if integer:
        n = max(math.ceil(n), v + 1) if up else min(math.floor(n), v - 1)
    return min(max(n, lo), hi)


def smallest_reaching(curve: Curve, target: float, lo, hi, *, ratio: float = 1.15, log: bool = True,
                      guess=None) -> Found:
    """Bisect ``[lo, hi]`` for the smallest value whose recall is at least ``target``.

    Points the curve already holds narrow the bracket first. With a ``guess`` (the answer on a
    similar index) and no bracket yet, the search starts there and gallops (doubling, or
    halving) to a bracket, no further than a point already known to lie across the target.
    Otherwise, unless a known point reaches the target, ``hi`` is measured first: when it
    misses, the target is unreachable in the range (the answer says so, with the best recall
    seen) and nothing more is spent. ``lo`` is measured only when the bracket closes on it (is
    the cheapest value already enough?)."""
    if hi < lo:
        raise ValueError(f"empty range [{lo}, {hi}]")
    inside = {v: r for v, r in curve.points.items() if lo <= v <= hi}
    reach = [v for v, r in inside.items() if r >= target]
    below = [v for v, r in inside.items() if r < target and (not reach or v < min(reach))]
    if guess is not None and not (reach and below):
        v = min(max(guess, lo), hi)
        v = int(round(v)) if curve.integer else v
        up = curve(v) < target
        # no further than a point already known on the other side of the target (measured for another one)
        known = [u for u, r in curve.points.items() if lo <= u <= hi and (r >= target) == up]
        stop = min((u for u in known if u > v), default=hi) if up else max((u for u in known if u < v), default=lo)
        while (curve(v) < target) == up and v != stop:  # until the target is crossed
            v = gallop(v, lo, hi, up, log, curve.integer, (hi - lo) / 8)
            v = min(v, stop) if up else max(v, stop)
        reach = [v for v, r in curve.points.items() if lo <= v <= hi and r >= target]
    if not reach and curve(hi) < target:  # the most the range allows is not enough
        value, recall = curve.best()
        return Found(target, None, recall, value)
    good = min(v for v, r in curve.points.items() if lo <= v <= hi and r >= target)
    bad = max((v for v, r in curve.points.items() if lo <= v < good and r < target), default=lo)
    moved, streak = None, 0  # the end the last steps moved, and how many in a row
    while not _narrow(bad, good, curve.integer, ratio, log, hi - lo):
        kept = 0.5 ** max(0, streak - 1)  # the end left standing while the other moved twice and more
        m = _mid(bad, good, curve.integer, log, curve, target, ratio, (kept, 1.0) if moved == "good" else (1.0, kept))
        end = "good" if curve(m) >= target else "bad"
        streak, moved = (streak + 1 if end == moved else 1), end
        good, bad = (m, bad) if end == "good" else (good, m)
    if bad == lo and lo != good and lo not in curve.points and curve(lo) >= target:
        good = lo
    return Found(target, good, curve(good), good)
