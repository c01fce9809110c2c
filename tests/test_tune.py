"""The tuner: bisection on hand-made monotone curves, goals and limits on hand-made points, and
real tuning runs on a small generated workload (boundaries, resume, the command, the report)."""

import math

import numpy as np
import pytest
from sweep_fixtures import cfg, plugins, workload  # noqa: F401  (pytest fixtures)

from ann_bench.sweep.bisect import Curve, smallest_reaching


def saturating(scale):
    """A hand-made monotone recall curve: 1 - exp(-v / scale)."""
    return lambda v: 1 - math.exp(-v / scale)


@pytest.mark.parametrize("target", [0.5, 0.9, 0.95, 0.99])
def test_bisection_finds_the_boundary_of_a_monotone_integer_curve(target):
    curve = Curve(saturating(40))
    found = smallest_reaching(curve, target, 1, 4096, ratio=1.0)  # ratio 1: down to neighbouring integers
    boundary = math.ceil(-40 * math.log(1 - target) - 1e-9)  # the smallest v with 1 - exp(-v/40) >= target
    assert found.reached and found.value == boundary
    assert found.recall >= target and curve.points[boundary - 1] < target
    assert len(curve.points) <= 14  # log2(4096) + the end checked


def test_bisection_stops_within_the_ratio_and_never_below_target():
    curve = Curve(saturating(40))
    found = smallest_reaching(curve, 0.95, 1, 4096, ratio=1.15)
    exact = -40 * math.log(0.05)
    assert found.recall >= 0.95 and exact <= found.value <= exact * 1.15 + 1
    assert len(curve.points) <= 8


def test_targets_on_one_index_share_their_points():
    curve = Curve(saturating(40))
    smallest_reaching(curve, 0.9, 1, 4096)
    before = len(curve.points)
    found = smallest_reaching(curve, 0.95, 1, 4096)
    assert found.reached and len(curve.points) - before <= 3


def test_float_parameter_and_answer_at_the_lower_end():
    curve = Curve(lambda e: min(1.0, 0.8 + e), integer=False)  # NGT-like epsilon, recall 0.8 at 0
    found = smallest_reaching(curve, 0.9, 0.0, 1.0, ratio=1.01, log=False)
    assert found.value == pytest.approx(0.1, abs=0.011) and found.recall >= 0.9
    before = len(curve.points)
    assert smallest_reaching(curve, 0.5, 0.0, 1.0, log=False).value == 0.0  # the cheapest value is already enough
    assert len(curve.points) - before <= 8, list(curve.points)  # closing on 0: stops at 1% of the range
    # every value tried has the few digits its bracket needs (readable in tables), not float noise
    assert all(v == round(v, 6) for v in curve.points), list(curve.points)


def test_unreachable_target_gives_the_best_recall_seen():
    curve = Curve(lambda v: min(0.9, v / 100))  # saturates at 0.9
    found = smallest_reaching(curve, 0.95, 1, 1000)
    assert not found.reached and found.value is None
    assert found.recall == pytest.approx(0.9) and found.best_value <= 1000
    assert len(curve.points) == 1  # only the upper end was needed to know


def test_a_point_measured_for_another_index_is_not_reused():
    a, b = Curve(saturating(10)), Curve(saturating(100))
    assert smallest_reaching(a, 0.9, 1, 4096, ratio=1.0).value == 24
    assert smallest_reaching(b, 0.9, 1, 4096, ratio=1.0).value == 231


def test_a_guess_gallops_to_a_bracket_instead_of_starting_at_the_top():
    curve = Curve(saturating(40))  # the boundary for 0.95 is 120
    found = smallest_reaching(curve, 0.95, 1, 4096, guess=100)
    assert found.value >= 120 and found.value <= 120 * 1.15 + 1
    assert 4096 not in curve.points and len(curve.points) <= 5
    down = Curve(saturating(40))
    assert smallest_reaching(down, 0.95, 1, 4096, guess=1000, ratio=1.0).value == 120
    assert smallest_reaching(Curve(saturating(40)), 0.95, 1, 100, guess=50).value is None  # galloped to the top: unreachable


def _capped(cap):
    """A hand-made recall over two monotone knobs: leaves (saturating) capped by what the re-scored
    candidates allow, ``cap(reorder_k)``."""
    return lambda q: min(1 - math.exp(-q["leaves"] / 40), cap(q["reorder_k"]))


def _plan(targets, start, top, ratio=1.0):
    from ann_bench.sweep.query_plan import Bisection, Raise

    return Bisection("leaves", 1, 1000, tuple(targets), 10, ratio=ratio, fixed={"reorder_k": start},
                     raises=(Raise("reorder_k", top),))


def _measured(plan, recall):
    from ann_bench.sweep import query_plan

    seen = []
    query_plan.run(plan.to_json(), lambda q: seen.append(q) or recall(q))
    assert len({tuple(sorted(q.items())) for q in seen}) == len(seen), "every configuration measured once"
    assert len(seen) <= plan.max_configs(), (len(seen), plan.max_configs())
    return seen


def test_a_second_knob_is_raised_when_the_first_falls_short():
    """ScaNN-like: 0.9 and 0.95 need only leaves at reorder_k 100; 0.99 is out of reach there
    (capped at 0.98) and needs reorder_k 200 (cap 0.99), where the smallest leaves reaching it is
    185. Nothing is raised further than needed, and the lower targets stay at the start."""
    recall = _capped(lambda r: 1 - 2 / r)
    seen = _measured(_plan([0.9, 0.95, 0.99], 100, 2000), recall)
    assert max(q["reorder_k"] for q in seen) == 200
    at = {t: min((q["leaves"] for q in seen if q["reorder_k"] == r and recall(q) >= t), default=None)
          for t, r in ((0.9, 100), (0.95, 100), (0.99, 200))}
    assert at == {0.9: 93, 0.95: 120, 0.99: 185}  # ceil(-40 ln(1 - t)): each boundary exact at ratio 1
    assert {"leaves": 184, "reorder_k": 200} in seen  # the value below the answer was tried and missed
    assert not any(q["reorder_k"] == 200 and q["leaves"] > 1000 for q in seen)


def test_raising_to_the_top_and_still_short_is_unreachable_with_the_top_measured():
    from ann_bench.sweep import query_plan

    recall = _capped(lambda r: 0.985)  # the second knob cannot help either
    plan = _plan([0.99], 100, 400, ratio=1.15)
    seen = _measured(plan, recall)
    assert [q["reorder_k"] for q in seen if q["leaves"] == seen[0]["leaves"]] == [100, 200, 400]  # raised in turn, at one point
    assert {"leaves": 1000, "reorder_k": 400} in seen  # the whole range searched at the top: unreachable stands on it
    assert "raising reorder_k up to 400 when short" in query_plan.describe(plan.to_json())
    # a plan without raises never measures the second knob elsewhere than where it was given
    assert {q["reorder_k"] for q in _measured(_plan([0.99], 100, 100), recall)} == {100}


def test_a_plan_without_raises_is_written_as_before_raises_existed():
    """Earlier tuned result files keep matching their run definition (not measured again)."""
    from ann_bench.sweep.query_plan import Bisection

    plain = Bisection("nprobe", 1, 64, (0.9,), 10, fixed={}, guesses=((0.9, 4),))
    assert plain.to_json() == {"bisect": {"param": "nprobe", "lo": 1, "hi": 64, "targets": [0.9], "k": 10, "integer": True,
                                          "log": True, "ratio": 1.15, "fixed": {}, "guesses": [[0.9, 4]]}}
    assert Bisection.from_json(plain.to_json()) == plain
    raised = _plan([0.99], 100, 400)
    assert Bisection.from_json(raised.to_json()) == raised


def test_a_budget_stops_the_plan_and_the_answer_stands_on_what_was_measured():
    """Three targets need more configurations than a budget of 6 allows: the worker measures 6
    (the same first 6 as without a budget), stops, and the smallest of them reaching each target
    is a bracket's end: at or above the true boundary, never below the target."""
    from ann_bench.sweep.query_plan import Bisection

    recall = _capped(lambda r: 1.0)  # leaves alone: 1 - exp(-leaves / 40)
    free = Bisection("leaves", 1, 1000, (0.9, 0.95, 0.99), 10, ratio=1.0, fixed={"reorder_k": 100})
    unbudgeted = _measured(free, recall)
    assert len(unbudgeted) > 6
    plan = Bisection(**(vars(free) | {"budget": 6}))
    seen = _measured(plan, recall)
    assert seen == unbudgeted[:6] and plan.max_configs() == 6
    for t in (0.9, 0.95, 0.99):
        reach = [q["leaves"] for q in seen if recall(q) >= t]
        assert reach and min(reach) >= math.ceil(-40 * math.log(1 - t) - 1e-9)
    assert Bisection.from_json(plan.to_json()) == plan and plan.to_json()["bisect"]["budget"] == 6


def _recorded(table):
    """A recall curve through points recorded on a real index, linear in log(value) between them."""
    xs = sorted(table)
    return lambda v: float(np.interp(math.log(v), np.log(xs), [table[x] for x in xs]))


# recorded at 1M items (ml-latest-small.dot.u2i.ip.synthetic1M), nprobe -> recall@10: faiss IVF-Flat
# with nlist=8000, and IVF-PQ with refine (m=16, nlist=8000) at k_factor 8 and 16
IVF_1M = {1: 0.05, 9: 0.5238, 43: 0.8684, 51: 0.8927, 54: 0.9040, 78: 0.9489, 89: 0.9602, 130: 0.9842,
          144: 0.9872, 152: 0.9897, 255: 0.99917, 8000: 1.0}
IVFPQ_K8_1M = {1: 0.05, 9: 0.5231, 54: 0.8912, 58: 0.9003, 89: 0.9424, 106: 0.9516, 214: 0.97155, 8000: 0.97238}
IVFPQ_K16_1M = {1: 0.05, 125: 0.97637, 197: 0.98919, 207: 0.99002, 219: 0.99018, 250: 0.99085, 500: 0.99135,
                8000: 0.99135}


def test_a_curve_flattening_toward_its_top_is_bracketed_from_both_sides_within_the_budget():
    """Recorded at 1M with a budget of 11 configurations for three targets: steps along the line
    through the bracket's ends kept landing just past its low end (130, 144, 152 for 0.99), the
    budget ran out with 0.99's answer at 255 probes, 1.6x its boundary (~153). Kept half a ratio
    from either end, and with the end left standing counted for less, each answer is within the
    ratio of its boundary inside the same budget."""
    _within_budget_on_ivf_1m(ratio=1.2, allowed=1.2)


def _within_budget_on_ivf_1m(ratio: float, allowed: float):
    """The recorded 1M IVF curve, three targets, 11 configurations: each answer within ``allowed`` of its boundary."""
    from ann_bench.sweep.query_plan import Bisection

    recall = _recorded(IVF_1M)
    plan = Bisection("nprobe", 1, 8000, (0.9, 0.95, 0.99), 10, ratio=ratio, fixed={}, budget=11)
    seen = [q["nprobe"] for q in _measured(plan, lambda q: recall(q["nprobe"]))]
    assert len(seen) <= 11
    for t in (0.9, 0.95, 0.99):
        boundary = next(v for v in range(1, 8001) if recall(v) >= t)
        answer = min(v for v in seen if recall(v) >= t)
        assert boundary <= answer <= boundary * allowed, (t, boundary, answer, seen)


def test_a_budget_brackets_every_target_before_narrowing_any():
    """The curve recorded at 1M, 11 configurations, bisection to 1.1x: narrowing 0.9 and 0.95 to
    1.1x first left 0.99 answered far above its boundary (~153) when the budget ran out; each
    target bracketed to 1.21x first, then narrowed with what is left, every answer is within
    1.21x of its boundary."""
    _within_budget_on_ivf_1m(ratio=1.1, allowed=1.21)


# recorded at 9,742 items (ml-latest-small.dot.u2i.ip), faiss IVF-Flat nlist=141, nprobe -> recall@10 (1: a floor
# for the interpolation, not measured)
IVF_SMALL = {1: 0.40, 3: 0.7281, 5: 0.8471, 6: 0.8892, 7: 0.9181, 8: 0.9391, 9: 0.9526, 10: 0.9649, 21: 0.9990,
             141: 1.0}


def test_a_guess_gallops_no_further_than_a_point_already_known_to_miss():
    """Recorded on ml-latest-small with a budget of 8 and the answers of earlier builds as
    guesses (7, 10, 21): 0.9 measured 7, 3 and 6; 0.95's guess 10 reached it and the gallop
    down went on to 5, though 7 was known to miss 0.95 already. That configuration was the one
    0.99 lacked: the budget ran out with its answer at the guess, 21 probes (recall 0.999),
    nothing measured between it and 10 (0.965)."""
    from ann_bench.sweep import query_plan
    from ann_bench.sweep.query_plan import Bisection

    recall = _recorded(IVF_SMALL)
    plan = Bisection("nprobe", 1, 141, (0.9, 0.95, 0.99), 10, ratio=1.2, fixed={}, budget=8,
                     guesses=((0.9, 7), (0.95, 10), (0.99, 21)))
    seen = [q["nprobe"] for q in _measured(plan, lambda q: recall(q["nprobe"]))]
    assert 5 not in seen, seen
    assert any(10 < v < 21 for v in seen), seen  # the configuration saved went to 0.99's bracket


def test_a_target_the_index_cannot_win_is_given_up_at_its_first_miss_slower_than_the_bar():
    """Hand-made: recall 1 - exp(-v / 40), speed 1e6 / v (boundaries: 0.9 at 93, 0.99 at 185).
    An earlier build met 0.9 at 1.1x this index's best speed for it, so once a value misses 0.9
    while already slower than that, every value reaching 0.9 here is slower still: 0.9's search
    stops there, the rest of the plan goes on unchanged, and with raises (a second knob could
    reach the target faster) the bars are not used."""
    from ann_bench.sweep import query_plan
    from ann_bench.sweep.query_plan import Bisection

    def recall(q):
        return 1 - math.exp(-q["v"] / 40)

    def speed(q):
        return 1e6 / q["v"]

    def measured(plan):
        seen = []
        query_plan.run(plan.to_json(), lambda q: seen.append(q["v"]) or recall({"v": q["v"]}), speed)
        return seen

    free = Bisection("v", 1, 1000, (0.9, 0.99), 10, ratio=1.05, fixed={})
    bar = 1.1 * speed({"v": 93})
    barred = Bisection(**(vars(free) | {"bars": ((0.9, bar),)}))
    before, after = measured(free), measured(barred)
    first = next(i for i, v in enumerate(before) if recall({"v": v}) < 0.9 and speed({"v": v}) < bar)
    assert after[: first + 1] == before[: first + 1] and len(after) < len(before), (before, after)
    assert 185 <= min(v for v in after if recall({"v": v}) >= 0.99) <= 185 * 1.05  # 0.99's answer as before
    assert Bisection.from_json(barred.to_json()) == barred and "bars" not in free.to_json()["bisect"]
    # a plan with raises keeps searching
    raised = _plan([0.9, 0.99], 100, 400)
    recall2 = _capped(lambda r: 0.95 if r < 200 else 1.0)
    seen = []
    query_plan.run(Bisection(**(vars(raised) | {"bars": ((0.9, 1e12), (0.99, 1e12))})).to_json(),
                   lambda q: seen.append(q) or recall2(q), lambda q: 1.0)
    assert seen == _measured(raised, recall2)


def test_a_curve_capped_just_above_the_target_is_not_crept_down_from_the_top():
    """IVF-PQ with refine at k_factor 16, recorded at 1M: recall reaches 0.99 near nprobe 205 and
    stops at 0.9914 from 500 on. The line through the ends (nprobe 89 and 8,000) crosses 0.99
    near the top, step after step, so the bracket crept down by a tenth at a time (18
    configurations); the end left standing counting for less brings it down in about as many as
    halving takes."""
    curve = Curve(_recorded(IVFPQ_K16_1M))
    found = smallest_reaching(curve, 0.99, 1, 8000, ratio=1.2)
    assert 205 <= found.value <= 205 * 1.2 and len(curve.points) <= 10, list(curve.points)


def test_a_raise_is_tried_where_the_first_knob_stopped_paying_not_at_the_top():
    """IVF-PQ with refine, recorded at 1M: at k_factor 8 recall creeps from 0.9716 (nprobe 214) to
    0.9724 (nprobe 8,000, the top), short of 0.99; k_factor 16 reaches it from about nprobe 205.
    The raise is tried at 214, where more probes stopped paying, and the bisection for 0.99 stays
    near it; tried at the top, the worker halved down from 8,000 probes, spending 7 of the slowest
    configurations on the way."""
    pq = {8: _recorded(IVFPQ_K8_1M), 16: _recorded(IVFPQ_K16_1M)}
    from ann_bench.sweep.query_plan import Bisection, Raise

    plan = Bisection("nprobe", 1, 8000, (0.9, 0.95, 0.99), 10, ratio=1.2, fixed={"k_factor": 8},
                     raises=(Raise("k_factor", 64),))
    seen = _measured(plan, lambda q: pq[q["k_factor"]](q["nprobe"]))
    raised = [q["nprobe"] for q in seen if q["k_factor"] == 16]
    assert raised[0] == 214 and max(raised) == 214, raised
    assert min(v for v in raised if pq[16](v) >= 0.99) <= 207 * 1.2
    assert max(q["k_factor"] for q in seen) == 16 and len(seen) <= 11, seen


def test_the_first_builds_are_the_adapters_recommended_one_the_richest_then_the_middle():
    """faiss IVF starts at the middle of faiss's 4-16 sqrt(N) guideline, 8 sqrt(N) lists, unless
    k-means would get under 39 points per list; HNSW at ann-benchmarks' ef_construction; each kept
    within a range the file narrows. A graph's second build is the richest the space allows (M and
    ef_construction at the top: the build the 0.99 target wanted at 1M items, which the middle of
    the space, M=16 again, never tried); IVF, whose nlist does not raise recall, has none."""
    from ann_bench.sweep import config
    from ann_bench.tune.space import space_for

    def starts(entry, n, name="faiss-ivf"):
        return space_for(config.parse({"algorithms": {name: entry}}).algorithms[0], n).starts()

    assert starts({}, 1_000_000) == [{"build.nlist": 8000}, {"build.nlist": 1414}]  # 8 * 1000; sqrt(250 * 8000)
    assert starts({}, 9_742) == [{"build.nlist": 250}, {"build.nlist": 141}]  # 9742 / 39 < 8 * 98.7
    assert starts({"build": {"nlist": [16, 64]}}, 1_000_000) == [{"build.nlist": 64}, {"build.nlist": 32}]
    assert starts({"build": {"nlist": [64]}}, 1_000_000) == []  # nothing searched
    assert starts({}, 1_000_000, "annoy") == [{"build.n_trees": 32}]  # more trees do not raise recall at every search_k
    for name in ("hnswlib", "faiss-hnsw"):  # ann-benchmarks' ef_construction (500) at M's middle, the top of both, the middle
        assert starts({}, 1_000_000, name) == [{"build.M": 16, "build.ef_construction": 500},
                                               {"build.M": 64, "build.ef_construction": 512},
                                               {"build.M": 16, "build.ef_construction": 128}]
    narrowed = starts({"build": {"M": [4, 8, 32], "ef_construction": [40, 100]}}, 10, "hnswlib")
    assert narrowed[:2] == [{"build.M": 11, "build.ef_construction": 100},  # within the ranges the file gives
                            {"build.M": 32, "build.ef_construction": 100}]
    assert starts({"build": {"M": [8], "ef_construction": [100]}}, 10, "hnswlib") == []


# --- goals, and choosing among measured points ------------------------------------------------

def test_goals_parse_and_bad_ones_are_named():
    from ann_bench.errors import ConfigError
    from ann_bench.tune.targets import goals

    g = goals(["recall@10 >= 0.95", "recall@10>=0.9"], ["p99_ms <= 5", "index_mb<=2048"])
    assert [x.recall for x in g] == [0.95, 0.9] and g[0].limits == (("latency_p99_ms", 5.0), ("index_mb", 2048.0))
    assert str(g[0]) == "recall@10 >= 0.95 and p99_ms <= 5 and index_mb <= 2048"
    for bad, named in ((["recall@10 > 0.9"], "recall@10 > 0.9"), (["recall@10 >= 1.5"], "R in (0, 1]"),
                       (["recall@10 >= 0.9", "recall@100 >= 0.9"], "one depth")):
        with pytest.raises(ConfigError, match=named.replace("(", r"\(").replace(")", r"\)").replace("]", r"\]")):
            goals(bad)
    with pytest.raises(ConfigError, match="'qps >= 5'"):
        goals(["recall@10 >= 0.9"], ["qps >= 5"])


def _point(recall, qps, p99=1.0, mb=10.0):
    return {"recall@10": recall, "qps_single": qps, "latency_p99_ms": p99, "index_mb": mb, "build_s": 1.0,
            "build_params": f"b{qps}", "query_params": "q"}


def test_limits_exclude_violating_points_and_unreached_goals_say_why():
    import pandas as pd

    from ann_bench.tune.answer import _unreached
    from ann_bench.tune.study import best_meeting
    from ann_bench.tune.targets import goals

    df = pd.DataFrame([_point(0.96, 9000, p99=7.0), _point(0.97, 5000, p99=2.0, mb=3000), _point(0.95, 4000), _point(0.9, 20000)])
    plain, = goals(["recall@10 >= 0.95"])
    assert best_meeting(df, plain, "qps_single")["qps_single"] == 9000
    latency, = goals(["recall@10 >= 0.95"], ["p99_ms <= 5"])
    assert best_meeting(df, latency, "qps_single")["qps_single"] == 5000  # the 9,000 QPS point's p99 is 7 ms
    both, = goals(["recall@10 >= 0.95"], ["p99_ms <= 5", "index_mb <= 2048"])
    assert best_meeting(df, both, "qps_single")["qps_single"] == 4000
    strict, = goals(["recall@10 >= 0.95"], ["p99_ms <= 0.5"])
    assert best_meeting(df, strict, "qps_single") is None
    assert _unreached(df, strict) == ("no configuration reached recall@10 >= 0.95 and p99_ms <= 0.5 (best recall@10 seen "
                                      "0.970); 3 reached the recall but broke latency_p99_ms")
    high, = goals(["recall@10 >= 0.99"])
    assert _unreached(df, high) == "no configuration reached recall@10 >= 0.99 (best recall@10 seen 0.970)"


def test_a_query_parameter_is_not_searched_when_the_build_turns_off_what_it_needs():
    """IVF-PQ's k_factor only matters with refine: fixed when the file fixes refine off, searched otherwise."""
    from ann_bench.sweep import config
    from ann_bench.tune.space import space_for

    def k_factor(build):
        return space_for(config.parse({"algorithms": {"faiss-ivfpq": {"build": build}}}).algorithms[0], 100_000).dim("k_factor")

    assert k_factor({"refine": [False]}).choices == (1,)
    assert not k_factor({"refine": [True]}).fixed
    assert not k_factor({"refine": [False, True]}).fixed

    # raised when nprobe falls short, on a build with refine only
    space = space_for(config.parse({"algorithms": {"faiss-ivfpq": {"build": {"refine": [False, True]}}}}).algorithms[0], 100_000)
    assert space.raised == ("k_factor",) and "k_factor raised when short" in space.describe()
    raises = {refine: space.bisection({"nlist": 64, "refine": refine}, {"k_factor": 4}, (0.9,), 10).raises for refine in (False, True)}
    assert raises[False] == () and [(r.param, r.hi) for r in raises[True]] == [("k_factor", 64)]
    assert space_for(config.parse({"algorithms": {"faiss-ivfpq": {"build": {"refine": [False]}}}}).algorithms[0], 100_000).raised == ()


# --- a real tuning run on a small generated workload -------------------------------------------

def _tune(workload, results, trials, goals_text=("recall@10 >= 0.9", "recall@10 >= 0.99"), limits=(), algorithms=None,
          query_configs=None):
    from ann_bench.sweep.executors.local import LocalExecutor
    from ann_bench.tune.answer import answer
    from ann_bench.tune.study import Tuning, run_study
    from ann_bench.tune.targets import goals

    c = cfg(algorithms or {"hnswlib": {"build": {"M": [4, 16], "ef_construction": [40]}}, "faiss-ivf": {}})
    g = goals(list(goals_text), list(limits))
    tuning = Tuning(tuple(g), trials=trials, seed=0, query_configs=query_configs, min_time_s=0.0)  # quick: passes as the file sets them
    rows, logged = [], []
    executor = LocalExecutor(threads=1)
    try:
        for alg in c.algorithms:
            space, files, name = run_study(c, alg, workload, results, tuning, executor, log=logged.append)
            rows += answer(name, alg.name, files, g, "qps_single")
    finally:
        executor.close()
    return rows, logged


def test_tuning_finds_each_target_boundary_in_ordinary_result_files(workload, tmp_path):
    import h5py
    import optuna

    from ann_bench.results.table import gather
    from ann_bench.tune.study import Tuning, _journal, study_path

    results = tmp_path / "tune"
    rows, logged = _tune(workload, results, trials=3)
    assert [r["answer"] for r in rows] == ["met"] * 4
    df = gather(results)  # ordinary result files: the report, tables and compare read them as they read a sweep's
    assert set(df["algorithm"]) == {"hnswlib", "faiss-ivf"} and (df["status"] == "ok").all()
    for r in rows:
        assert r["recall@10"] >= float(r["goal"].split(">= ")[1]) and r["builds"] == 3
    # the bisection steered by the recall the result file reports: on every build, the smallest
    # value reaching each target has the value tried just below it missing the target, within
    # the bisection's ratio (Tuning.ratio) of it; unless the build gave the target up, having missed it
    # at a speed below the best that met it on the builds before
    # builds in the order the study made them (its trial numbers: two builds of the tiny workload
    # can start within the same second, the resolution of the files' "started")
    order = {}
    for alg in ("hnswlib", "faiss-ivf"):
        for t in optuna.load_study(study_name=f"tiny.u2i.ip/{alg}", storage=_journal(study_path(results, "tiny.u2i.ip", alg))).trials:
            order.setdefault(t.user_attrs["file"], t.number)  # a file's first trial
    bars = {}
    ok = df[df["duplicate_of"] == ""]
    for (alg, build), g in sorted(ok.groupby(["algorithm", "build_params"]), key=lambda kv: (kv[0][0], order[kv[1]["file"].iloc[0]])):
        param = "query.ef" if alg == "hnswlib" else "query.nprobe"
        g = g.sort_values(param)
        for target in (0.9, 0.99):
            bar = bars.get((alg, target))
            reach = g[g["recall@10"] >= target]
            bars[(alg, target)] = max([bar or 0.0, *reach["qps_single"]])
            if bar is not None and ((g["recall@10"] < target) & (g["qps_single"] < bar)).any():
                continue  # given up: it could not beat the bar
            assert len(reach), (alg, build, target)
            found = reach[param].iloc[0]
            below = g[g[param] < found]
            if len(below):
                assert below["recall@10"].iloc[-1] < target
                # hnswlib runs ef as max(ef, k): a value under k is k, and those between are duplicates (left out above)
                lower = max(below[param].iloc[-1], 10) if alg == "hnswlib" else below[param].iloc[-1]
                assert found <= max(lower * Tuning.ratio, lower + 1) + 1e-9, (alg, build, list(g[param]))
    hnsw = df[df["algorithm"] == "hnswlib"]
    assert hnsw["build.ef_construction"].eq(40).all() and hnsw["build.M"].between(4, 16).all()  # the file's one value fixes, two values bound
    with h5py.File(df["file"].iloc[0], "r") as f:
        assert "bisect" in f.attrs["definition"]
    assert sorted(p.suffix for p in results.rglob("*.journal")) == [".journal", ".journal"]  # each study beside its results

    # more trials later: the finished builds are kept, not measured again
    before = {p: p.stat().st_mtime_ns for p in results.rglob("*.hdf5")}
    rows, logged = _tune(workload, results, trials=4)
    after = {p: p.stat().st_mtime_ns for p in results.rglob("*.hdf5")}
    assert all(after[p] == t for p, t in before.items()) and len(after) == len(before) + 2
    assert all(r["builds"] == 4 for r in rows)


def test_a_query_budget_is_shared_by_the_builds_and_never_exceeded(workload, tmp_path):
    """Three builds with 10 query configurations in all, three targets: the first build may use
    10 less 3 for each of the two builds after it (it takes more alone), the second what is left
    less 3 for the last, the last the rest; the first build is the adapter's recommended one
    (min(8 sqrt(1000), 1000 / 39) = 26 lists)."""
    from ann_bench.results.table import gather

    goals_text = ("recall@10 >= 0.9", "recall@10 >= 0.95", "recall@10 >= 0.99")
    rows, logged = _tune(workload, tmp_path / "free", trials=3, goals_text=goals_text, algorithms={"faiss-ivf": {}})
    free = gather(tmp_path / "free")
    alone = free[free["build_params"] == "nlist=26"]
    assert len(alone) > 4 and logged[0].startswith("tiny.u2i.ip faiss-ivf nlist=26:")
    rows, logged = _tune(workload, tmp_path / "tight", trials=3, goals_text=goals_text, algorithms={"faiss-ivf": {}},
                         query_configs=10)
    tight = gather(tmp_path / "tight")
    sizes = list(tight.sort_values("started", kind="stable").groupby("build_params", sort=False).size())
    assert sizes[0] == 4 and sizes[1] <= 3 and sum(sizes) <= 10, sizes
    assert all(r["query_configs"] == sum(sizes) and r["builds"] == 3 for r in rows)
    for r in rows:
        assert r["answer"] != "met" or r["recall@10"] >= float(r["goal"].split(">= ")[1])


def test_a_tuning_run_raises_k_factor_where_nprobe_alone_falls_short(workload, tmp_path):
    """IVF-PQ with refine, started at k_factor 8 (the middle of 1..64): even every list probed
    re-ranks too few candidates for recall 0.9, so k_factor is doubled until the top of nprobe's
    range reaches each target, and nprobe is bisected there; without raising, both goals would
    be answered "no configuration reached"."""
    from ann_bench.results.table import gather

    alg = {"faiss-ivfpq": {"build": {"nlist": [16], "m": [2], "nbits": [4], "refine": [True]}, "query": {"k_factor": [1, 64]}}}
    rows, _ = _tune(workload, tmp_path / "tune", trials=1, algorithms=alg)
    assert [r["answer"] for r in rows] == ["met", "met"]
    df = gather(tmp_path / "tune")
    start = df[df["query.k_factor"] == 8]
    assert len(start) and start["recall@10"].max() < 0.9  # where it started: short of both targets at any nprobe
    assert set(df["query.k_factor"]) <= {8, 16, 32, 64}  # doubled, from the sampled start
    for r in rows:
        k_factor = int(r["query_params"].split("k_factor=")[1].split(",")[0])
        assert k_factor > 8 and r["recall@10"] >= float(r["goal"].split(">= ")[1])
        # raised no further than needed: half of it, every list probed, missed the target
        half = df[(df["query.k_factor"] == k_factor // 2)]
        assert half["recall@10"].max() < float(r["goal"].split(">= ")[1])


def _one_build(workload, results, plan):
    """The points the sweep's worker measures for one faiss IVF build (16 lists) under ``plan``."""
    from ann_bench.sweep.executors.local import LocalExecutor
    from ann_bench.sweep.runner import execute, make_run
    from ann_bench.tune.study import points
    from ann_bench.workloads import format as wformat

    c = cfg({"faiss-ivf": {"build": {"nlist": [16]}}}, k=[10], filtered_k=0)
    w = wformat.read(workload)
    run = make_run(c, results, workload, w, c.algorithms[0], "faiss-ivf", {"nlist": 16}, plan.to_json(), written={},
                   repeat=0, threads_all=1, workload_hash=w.content_hash())
    executor = LocalExecutor(threads=1)
    try:
        execute([run], c, results, executor, progress=False)
    finally:
        executor.close()
    return points(run.path, 10)


def test_the_worker_gives_up_a_target_its_measured_speed_cannot_beat(workload, tmp_path):
    """The worker compares the speeds it measures with the plan's bars: a bar nothing reaches
    (1e12 queries per second) stops each target at its first miss, and the second target, below
    which a measured point already missed, is not searched at all; a bar of 0 changes nothing."""
    from ann_bench.sweep.query_plan import Bisection

    plan = Bisection("nprobe", 1, 16, (0.9, 0.99), 10, ratio=1.0, fixed={})
    free = _one_build(workload, tmp_path / "free", plan)
    low = _one_build(workload, tmp_path / "low", Bisection(**(vars(plan) | {"bars": ((0.9, 0.0), (0.99, 0.0))})))
    high = _one_build(workload, tmp_path / "high", Bisection(**(vars(plan) | {"bars": ((0.9, 1e12), (0.99, 1e12))})))
    assert list(low["query.nprobe"]) == list(free["query.nprobe"])
    misses = [i for i, r in enumerate(high["recall@10"]) if r < 0.9]
    assert misses == [len(high) - 1] and len(high) < len(free), (list(free["query.nprobe"]), list(high["query.nprobe"]))
    assert list(high["query.nprobe"]) == list(free["query.nprobe"])[: len(high)]


def test_unreachable_goal_is_answered_plainly(workload, tmp_path):
    rows, _ = _tune(workload, tmp_path / "tune", trials=1, goals_text=("recall@10 >= 0.9",), limits=("p99_ms <= 0.0001",),
                    algorithms={"faiss-ivf": {"build": {"nlist": [16]}}})
    (r,) = rows
    assert r["answer"].startswith("no configuration reached recall@10 >= 0.9 and p99_ms <= 0.0001 (best recall@10 seen 1.000)")
    assert r["answer"].endswith("reached the recall but broke latency_p99_ms")


def test_a_killed_tuning_run_resumes_with_the_build_it_was_measuring(workload, tmp_path):
    """A trial left running (as a killed run leaves it) is closed and its build proposed first."""
    import optuna

    from ann_bench.tune.study import study_path

    results = tmp_path / "tune"
    from ann_bench.tune.study import _journal

    study = optuna.create_study(study_name="tiny.u2i.ip/faiss-ivf", storage=_journal(study_path(results, "tiny.u2i.ip", "faiss-ivf")),
                                directions=["maximize"])
    killed = study.ask({"build.nlist": optuna.distributions.IntDistribution(8, 64, log=True)})
    killed_nlist = killed.suggest_int("build.nlist", 8, 64, log=True)
    rows, logged = _tune(workload, results, trials=1, goals_text=("recall@10 >= 0.9",), algorithms={"faiss-ivf": {"build": {"nlist": [8, 64]}}})
    assert logged[0].startswith(f"tiny.u2i.ip faiss-ivf nlist={killed_nlist}:")
    states = [t.state for t in optuna.load_study(study_name="tiny.u2i.ip/faiss-ivf", storage=_journal(study_path(results, "tiny.u2i.ip", "faiss-ivf"))).trials]
    assert states[0] == optuna.trial.TrialState.FAIL and states[-1] == optuna.trial.TrialState.COMPLETE


def test_the_tuner_times_each_query_mode_for_a_second_unless_the_file_asks_longer():
    """Its answer is the fastest of a few points: passes of a few milliseconds vary by a fifth
    (README, `min_time_s`), enough to pick the slower of two builds."""
    from ann_bench.tune.study import Tuning, settings_for
    from ann_bench.tune.targets import goals

    g = tuple(goals(["recall@10 >= 0.9"], []))
    base = cfg({"faiss-ivf": {}})
    assert base.settings["min_time_s"] == 0.0
    assert settings_for(base, Tuning(g)).settings["min_time_s"] == 1.0
    assert settings_for(base.with_settings(min_time_s=2.5), Tuning(g)).settings["min_time_s"] == 2.5
    assert settings_for(base, Tuning(g, min_time_s=0.0)).settings["min_time_s"] == 0.0


def test_tune_command_end_to_end_with_goals_from_the_file(workload, tmp_path, capsys):
    import h5py

    from ann_bench.cli import main
    from ann_bench.h5util import get_json

    conf = tmp_path / "tune.yaml"
    conf.write_text("settings: {repeats: 1}\n"
                    "tune: {targets: ['recall@10 >= 0.95'], limits: ['p99_ms <= 50'], trials: 2}\n"
                    "algorithms:\n  faiss-flat: {}\n  faiss-ivf: {build: {nlist: [8, 32]}}\n")
    out = tmp_path / "tuned"
    assert main(["tune", "--config", str(conf), "--workloads", str(workload), "--results", str(out), "--threads", "1",
                 "--min-time", "0.05"]) == 0
    text = capsys.readouterr().out
    assert "searched nlist in [8, 32] (log); nprobe by bisection" in text and "| faiss-flat |" not in text
    table = (out / "tuned.qps_single.csv").read_text().splitlines()
    files = sorted(out.rglob("*.hdf5"))
    with h5py.File(files[0], "r") as f:  # every query mode timed for at least --min-time, recorded with the run
        assert len(files) == 2 and get_json(f, "definition")["settings"]["min_time_s"] == 0.05
    assert len(table) == 2 and ",recall@10 >= 0.95 and p99_ms <= 50,2," in table[1] and ",met," in table[1]
    from ann_bench.analysis.report import build_report

    page = build_report(out, workload.parent, out / "report").read_text()
    assert "<h2>Tuned to a target</h2>" in page and "recall@10 &gt;= 0.95 and p99_ms &lt;= 50" in page
    # a bad goal is one line naming it, before anything runs
    assert main(["tune", "--config", str(conf), "--workloads", str(workload), "--target", "recall@10 > 0.9"]) == 2
    assert "target 'recall@10 > 0.9': expected recall@K >= R" in capsys.readouterr().err


# --- screening on a catalog sample ----------------------------------------------------------------

def test_screening_keeps_a_values_place_in_a_range_that_moves_with_the_catalog():
    """faiss IVF's nlist range is relative to N: a screened nlist at the range's low end, middle
    (geometric) or top lands at the same place at the full size; Annoy's n_trees range is the
    same at every size, so its value is kept; a grid's list keeps the place in the list."""
    from ann_bench.sweep import config
    from ann_bench.tune.screen import carry
    from ann_bench.tune.space import Dim, space_for

    def nlist(n):
        return space_for(config.parse({"algorithms": {"faiss-ivf": {}}}).algorithms[0], n).dim("nlist")

    small, full = nlist(62_500), nlist(1_000_000)
    assert (small.lo, small.hi) != (full.lo, full.hi) and small.log and full.log
    assert carry(small.lo, small, full) == full.lo and carry(small.hi, small, full) == full.hi
    assert carry(round((small.lo * small.hi) ** 0.5), small, full) == pytest.approx((full.lo * full.hi) ** 0.5, rel=0.02)
    trees = [space_for(config.parse({"algorithms": {"annoy": {}}}).algorithms[0], n).dim("n_trees") for n in (62_500, 10**6)]
    assert carry(4, *trees) == 4 and carry(90, *trees) == 90
    assert carry(0.3, Dim("x", float, 0.0, 1.0), Dim("x", float, 0.0, 10.0)) == pytest.approx(3.0)
    assert carry(250, Dim("x", int, choices=(125, 250)), Dim("x", int, choices=(1000, 2000))) == 2000


def test_screening_chooses_the_build_meeting_most_targets_then_fastest_across_them():
    """Per build, its best speed at each target (0: missed). The geometric mean of each build's
    speed over the best per target decides among builds meeting as many targets."""
    from ann_bench.tune.screen import choose

    assert choose([[200, 0, 0], [90, 60, 10], [100, 70, 0]]) == 1  # the only one meeting all three
    assert choose([[100, 60], [90, 70]]) == 1  # 0.9 * 1.0 > 1.0 * 0.857
    assert choose([[100, 50], [50, 100]]) == 0  # equal: the first
    assert choose([[0, 0], [0, 0]]) == 0


def test_a_screened_tuning_run_builds_the_samples_best_first(workload, tmp_path, capsys):
    """``ann-bench tune --screen``: the sample is written beside the workload, its builds are
    ordinary result files under screen/, and the full catalog's first build is the screened
    build that met both targets fastest (checked here from the sample's result files)."""
    import optuna

    from ann_bench.cli import main
    from ann_bench.results.table import gather
    from ann_bench.tune.study import _journal, study_path

    conf = tmp_path / "tune.yaml"
    conf.write_text("settings: {repeats: 1}\nalgorithms:\n  faiss-ivf: {build: {nlist: [4, 64]}}\n")
    out = tmp_path / "tuned"
    assert main(["tune", "--config", str(conf), "--workloads", str(workload), "--results", str(out), "--threads", "1",
                 "--min-time", "0", "--trials", "1", "--target", "recall@10 >= 0.9", "--target", "recall@10 >= 0.99",
                 "--screen", "0.5", "--screen-builds", "3"]) == 0
    sample = workload.with_name("tiny.u2i.ip.sample500.hdf5")
    assert sample.is_file()
    screened = gather(out / "screen")
    assert set(screened["workload"]) == {"tiny.u2i.ip.sample500"} and screened["build.nlist"].nunique() == 3
    best = {}
    for nlist, g in screened[(screened["duplicate_of"] == "") & (screened["status"] == "ok")].groupby("build.nlist"):
        speeds = [g.loc[g["recall@10"] >= t, "qps_single"].max() for t in (0.9, 0.99)]
        best[nlist] = (sum(s == s for s in speeds), math.prod(s for s in speeds if s == s))
    top = max(best.values())
    study = optuna.load_study(study_name="tiny.u2i.ip/faiss-ivf", storage=_journal(study_path(out, "tiny.u2i.ip", "faiss-ivf")))
    built = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]  # the starts after it wait
    assert len(built) == 1 and [n for n, v in best.items() if v == top] == [built[0].params["build.nlist"]]  # one range at both sizes
    table = (out / "tuned.qps_single.csv").read_text().splitlines()
    assert "screen_items,screen_builds,screen_query_configs,screen_build_s" in table[0] and ",500,3," in table[1]
