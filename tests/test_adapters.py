"""Conformance: every registered adapter, on every metric it declares, at its most
accurate settings, built with all cores as well as with one, finds the true neighbours,
returns valid ids, honours k (up to the whole base), takes float64 input, refuses to search
before it is built, reports the parameters the library really used, and keeps each of its
declared promises: a deterministic adapter gives the same answer twice from one-thread
builds, and a threaded batch search really runs in parallel. Like scikit-learn's
check_estimator: what the sweep does, checked against every adapter."""

import numpy as np
import pytest

from ann_bench.errors import ConfigError
from ann_bench.sweep import registry
from ann_bench.sweep.adapters.base import IN_PLACE, REBUILD, NotFittedError
from ann_bench.sweep.adapters.reduction import reduced_name
from ann_bench.threads import available_cores
from ann_bench.workloads.groundtruth import exact_knn

N, NQ, DIM, K = 2_000, 50, 16, 10


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    # clustered, with varied norms, so inner product and cosine differ
    centers = rng.standard_normal((20, DIM)) * 3
    x = centers[rng.integers(0, 20, N)] + rng.standard_normal((N, DIM))
    x *= rng.uniform(0.5, 2.0, (N, 1))
    q = centers[rng.integers(0, 20, NQ)] + rng.standard_normal((NQ, DIM))
    return x.astype(np.float32), q.astype(np.float32)


def cases():
    """Every adapter on every metric it declares, and on inner product through the reduction
    (via l2 for each adapter that has it, via cosine for one)."""
    native = [pytest.param(n, m, id=f"{n}-{m}") for n in registry.names() for m in registry.get(n).metrics]
    via_l2 = [reduced_name(n, "l2") for n in registry.names() if "l2" in registry.get(n).metrics]
    return native + [pytest.param(n, "ip", id=n) for n in via_l2 + [reduced_name("hnswlib", "cosine")]]


def recall(ids, truth):
    return np.mean([len(set(a[a >= 0]) & set(b)) / len(b) for a, b in zip(ids, truth)])


@pytest.mark.parametrize("name, metric", cases())
def test_adapter_conformance(name, metric, data):
    if not registry.installed(name):
        pytest.skip(f"{name}'s library is not installed")
    x, q = data
    cls = registry.get(name)
    build, query = cls.accurate_params(N)
    truth, _ = exact_knn(q, x, K, metric)

    index = cls(metric, DIM, threads=max(2, available_cores()), **build)  # a build with all cores
    index.fit(x)
    index.set_query_params(**query)
    pq = index.prepare_queries(q)
    batch = index.search_batch(pq, K, threads=1)
    assert batch.shape == (NQ, K), "k not honoured"
    assert ((batch >= 0) & (batch < N)).all(), "invalid or padded ids"
    assert all(len(set(row)) == K for row in batch), "duplicate ids in one answer"
    assert recall(batch, truth) >= 0.95, f"recall@{K} {recall(batch, truth):.3f} < 0.95"

    singles = index.split_queries(pq)
    one = np.array([np.asarray(index.search_one(v, K))[:K] for v in singles])
    assert recall(one, truth) >= 0.95
    assert len(index.search_batch(pq, 3, threads=1)[0]) == 3
    if cls.threaded_batch:
        multi = index.search_batch(pq, K, threads=2)
        assert recall(multi, truth) >= 0.95
    # filtered search: each query excludes its 5 true nearest and 20 random ids
    rng = np.random.default_rng(1)
    exclude = [np.unique(np.concatenate([t[:5], rng.choice(N, 20, replace=False)])).astype(np.int64) for t in truth]
    f_truth, _ = exact_knn(q, x, K, metric, exclude=exclude)
    filtered = [np.asarray(index.search_one_filtered(v, K, ex), dtype=np.int64) for v, ex in zip(singles, exclude)]
    assert all(len(row) <= K and not np.isin(row, ex).any() for row, ex in zip(filtered, exclude)), "excluded id returned"
    assert recall(filtered, f_truth) >= 0.95, f"filtered recall@{K} {recall(filtered, f_truth):.3f} < 0.95"
    # the parameters the library reports having used give exactly the same answers
    for k in (1, K):
        eff = index.effective_query(k)
        assert set(eff) <= set(cls.query_params), f"effective parameters {eff} are not query parameters"
        index.set_query_params(**query)
        asked = index.search_batch(pq, k, threads=1)
        index.set_query_params(**eff)
        np.testing.assert_array_equal(index.search_batch(pq, k, threads=1), asked, err_msg=f"effective {eff} at k={k}")
    # one-thread builds from float64 input (the sweep's reproducible builds): the same answers
    # twice where the adapter says it is deterministic, good answers in any case
    one = cls(metric, DIM, threads=1, **build)
    one.fit(x.astype(np.float64))
    one.set_query_params(**query)
    first = one.search_batch(one.prepare_queries(q.astype(np.float64)), K, threads=1)
    assert recall(first, truth) >= 0.95, "float64 input"
    if cls.deterministic:
        again = cls(metric, DIM, threads=1, **build)
        again.fit(x)
        again.set_query_params(**query)
        np.testing.assert_array_equal(again.search_batch(pq, K, threads=1), first, err_msg="declared deterministic")
        # and where the build shows: accurate settings search (nearly) everything, the cheapest
        # setting of each monotone query parameter only what this build put near the query
        cheap = query | {n: lowest(p) for n, p in cls.query_params.items() if p.monotone}
        one.set_query_params(**cheap)
        again.set_query_params(**cheap)
        np.testing.assert_array_equal(again.search_batch(pq, K, threads=1), one.search_batch(pq, K, threads=1),
                                      err_msg=f"declared deterministic, at {cheap}")


def lowest(p):
    """The bottom of a monotone query parameter's range: of its tuning range where that is a number."""
    lo = p.tune[0] if p.tune else p.min
    return p.type(lo if isinstance(lo, (int, float)) else p.min)


@pytest.mark.parametrize("name, metric", cases())
def test_a_changing_catalog_keeps_every_promise(name, metric, data):
    """What the streaming replay does: build on half of the items, add the other half, remove a
    third of all. An adapter that updates in place never returns a removed id from a plain search;
    an add-only one never from a search that filters the removed ids; both find the live items
    as exact search over them does; one that can do neither refuses, saying to rebuild."""
    if not registry.installed(name):
        pytest.skip(f"{name}'s library is not installed")
    x, q = data
    cls = registry.get(name)
    build, query = cls.accurate_params(N)
    index = cls(metric, DIM, threads=1, **build)
    if index.updates == REBUILD:  # said before anything is built
        with pytest.raises(NotImplementedError, match="rebuild"):
            index.add(x[N // 2 :])
        return
    index.fit(x[: N // 2])
    index.add(x[N // 2 : 3 * N // 4])
    index.add(x[3 * N // 4 :])  # twice: the ids run on from the last add
    removed = np.sort(np.random.default_rng(4).choice(N, N // 3, replace=False))
    live = np.setdiff1d(np.arange(N), removed)
    if index.updates == IN_PLACE:
        index.remove(removed[: len(removed) // 2])
        index.add(np.zeros((0, DIM), np.float32))  # nothing added between removals changes nothing
        index.remove(removed[len(removed) // 2 :])
    else:
        with pytest.raises(NotImplementedError, match="cannot remove"):
            index.remove(removed)
    index.set_query_params(**query)
    pq = index.prepare_queries(q)
    singles = index.split_queries(pq)
    if index.updates == IN_PLACE:
        found = [np.asarray(ids) for ids in index.search_batch(pq, K, threads=1)] + [np.asarray(index.search_one(v, K)) for v in singles]
    else:
        found = [np.asarray(index.search_one_filtered(v, K, removed), dtype=np.int64) for v in singles]
    assert not any(np.isin(ids, removed).any() for ids in found), "a removed id was returned"
    ids, _ = exact_knn(q, x[live], K, metric)
    truth = live[ids]
    assert recall([f[:K] for f in found[-NQ:]], truth) >= 0.9, "live items not found"


@pytest.mark.parametrize("name", registry.names())
def test_search_before_fit_and_k_up_to_the_whole_base(name):
    if not registry.installed(name):
        pytest.skip(f"{name}'s library is not installed")
    cls = registry.get(name)
    metric = next(iter(cls.metrics))
    build, query = cls.accurate_params(40)
    index = cls(metric, 8, threads=1, **build)
    q = np.random.default_rng(2).standard_normal((5, 8)).astype(np.float32)
    for call in (lambda: index.search_batch(q, 3, 1), lambda: index.search_one(q[0], 3), lambda: index.set_query_params(**query)):
        with pytest.raises(NotFittedError, match="before fit"):
            call()
    # the sweep asks for at most the whole base (depth + 1 for an item-to-item query, capped)
    x = np.random.default_rng(3).standard_normal((40, 8)).astype(np.float32)
    index.fit(x)
    index.set_query_params(**query)
    out = index.search_batch(index.prepare_queries(q), 40, threads=1)
    assert out.shape == (5, 40) and ((out >= -1) & (out < 40)).all()
    assert all(len(set(row[row >= 0])) == len(row[row >= 0]) >= 10 for row in out), "duplicate or too few ids"


HNSW_EF = {"hnswlib": "ef", "usearch": "ef", "voyager": "ef", "faiss-hnsw": "ef_search", "nmslib-hnsw": "ef"}


@pytest.mark.parametrize("name", sorted(HNSW_EF))
def test_ef_below_k_is_reported_as_the_ef_the_library_used(name, data):
    """hnswlib, USearch and Voyager search with max(ef, k); faiss and nmslib honour a small ef.
    Two settings give the same answers exactly when their effective parameters are equal."""
    if not registry.installed(name):
        pytest.skip(f"{name}'s library is not installed")
    x, q = data
    cls = registry.get(name)
    index = cls("l2", DIM, threads=1, M=8, ef_construction=100)
    index.fit(x)
    pq = index.prepare_queries(q)
    answers, effective = [], []
    for ef in (10, 100):
        index.set_query_params(**{HNSW_EF[name]: ef})
        answers.append(index.search_batch(pq, 100, threads=1))
        effective.append(index.effective_query(100))
    assert np.array_equal(answers[0], answers[1]) == (effective[0] == effective[1]), effective


def test_voyager_inner_product_does_not_depend_on_the_order_rows_come_in():
    """Voyager's ip space places each item with the largest norm inserted so far; the adapter
    inserts largest first, so the same items given in another order build the same graph, and
    items of mixed norms are found better than by Voyager fed in row order."""
    if not registry.installed("voyager"):
        pytest.skip("voyager is not installed")
    from voyager import Index, Space

    rng = np.random.default_rng(0)
    n, d = 10_000, 16
    x = rng.standard_normal((n, d)).astype(np.float32)
    x *= (rng.uniform(1, 1.5, n).astype(np.float32) / np.linalg.norm(x, axis=1))[:, None]  # norms in no order
    q = rng.standard_normal((200, d)).astype(np.float32)
    truth = np.argsort(-(q @ x.T), axis=1)[:, :10]
    answers = []
    for rows in (np.arange(n), np.arange(n)[::-1]):
        index = registry.get("voyager")("ip", d, threads=1, M=8, ef_construction=64)
        index.fit(x[rows])
        index.set_query_params(ef=20)
        answers.append(rows[index.search_batch(index.prepare_queries(q), 10, threads=1)])
    assert np.array_equal(answers[0], answers[1])
    plain = Index(Space.InnerProduct, num_dimensions=d, M=8, ef_construction=64, random_seed=1)
    plain.add_items(x, ids=np.arange(n), num_threads=1)
    in_row_order = recall(plain.query(q, k=10, query_ef=20)[0], truth)
    assert recall(answers[0], truth) > in_row_order + 0.02, in_row_order


NEEDS = [(n, k) for n in registry.names() for k, p in registry.get(n).query_params.items() if p.needs]


@pytest.mark.parametrize("name, param", NEEDS)
def test_a_query_parameter_whose_build_switch_is_off_changes_nothing_and_is_not_recorded(name, param, data):
    """IVF-PQ's k_factor without refine, ScaNN's reorder_k without reorder: two values give the
    same answers and the recorded parameters leave it out (the tuner does not search it)."""
    if not registry.installed(name):
        pytest.skip(f"{name}'s library is not installed")
    cls = registry.get(name)
    x, q = data
    build, query = cls.accurate_params(N)
    switch = cls.query_params[param].needs
    index = cls("l2", DIM, threads=1, **build | {switch: cls.build_params[switch].type(0)})
    index.fit(x)
    answers = []
    for value in (1, 50):
        index.set_query_params(**query | {param: value})
        answers.append(index.search_batch(index.prepare_queries(q), K, threads=1))
        assert param not in index.effective_query(K)
    assert np.array_equal(*answers)


@pytest.mark.skipif(available_cores() < 2, reason="needs 2 cores")
@pytest.mark.parametrize("name", [n for n in registry.names() if registry.get(n).threaded_batch])
def test_a_threaded_batch_search_runs_in_parallel(name):
    """An adapter that declares threaded batch search keeps more than one core busy and
    finishes sooner with all cores than with one (process CPU time over wall time)."""
    import time

    if not registry.installed(name):
        pytest.skip(f"{name}'s library is not installed")
    rng = np.random.default_rng(4)
    x = rng.standard_normal((10_000, 32)).astype(np.float32)
    q = rng.standard_normal((2_000, 32)).astype(np.float32)
    cls = registry.get(name)
    build, query = cls.accurate_params(len(x))
    index = cls(next(iter(cls.metrics)), 32, threads=2, **build)
    index.fit(x)
    index.set_query_params(**query)
    pq = index.prepare_queries(q)

    def timed(threads):
        w, c = time.perf_counter(), time.process_time()
        index.search_batch(pq, 10, threads)
        return time.perf_counter() - w, time.process_time() - c

    from ann_bench.sweep import load

    before = load.sample()
    best = {1: (np.inf, 0.0), 2: (np.inf, 0.0)}
    for _ in range(5):  # interleaved, so that a passing disturbance slows both sides alike
        for threads in (1, 2):
            best[threads] = min(best[threads], timed(threads))
    (w1, _), (w2, c2) = best[1], best[2]
    busy = load.between(before, load.sample())
    if load.contended(busy):  # another process had a core: neither the parallelism nor the speed-up can show
        pytest.skip(f"other processes used {busy['other_cores']:.2f} cores while timing")
    assert c2 / w2 > 1.3, f"{name}: all-cores batch kept {c2 / w2:.2f} cores busy"
    assert w2 < w1, f"{name}: all-cores batch {w2:.3f} s vs 1 thread {w1:.3f} s"


def test_every_parameter_says_what_it_does():
    """`ann-bench algorithms NAME` shows each parameter's help: none may be blank."""
    blank = [f"{n}.{kind}.{k}" for n in registry.names() for kind in ("build_params", "query_params")
             for k, p in getattr(registry.get(n), kind).items() if not p.help.strip()]
    assert not blank, blank


def test_unknown_algorithm_and_parameter_are_named():
    with pytest.raises(ConfigError, match="Did you mean 'hnswlib'"):
        registry.get("hnswlb")
    with pytest.raises(ConfigError, match=r"hnswlib.build.ef_constuction: unknown parameter. Did you mean 'ef_construction'"):
        registry.get("hnswlib")("ip", 8, ef_constuction=10)
    with pytest.raises(ConfigError, match="does not support metric"):
        registry.get("faiss-hnsw")("hamming", 8)


@pytest.mark.parametrize("name", [n for n in registry.names() if not registry.get(n).exact])
def test_tuning_declarations_hold(name, data):
    """What ``ann-bench tune`` reads from an adapter: valid ranges, and monotone query parameters
    whose recall really does not fall as they grow: the bisected one (the first declared) from
    the bottom to the top of its range with the others at their bottom, and each one raised when
    it falls short (ScaNN's reorder_k) with the bisected one at its top, where raising happens."""
    from ann_bench.sweep import config
    from ann_bench.tune.space import space_for

    if not registry.installed(name):
        pytest.skip(f"{name}'s library is not installed")
    cls = registry.get(name)
    monotone = [k for k, p in cls.query_params.items() if p.monotone]
    assert monotone and all(cls.query_params[k].tune for k in monotone), "a monotone query parameter to bisect, each with a range"
    for k, p in (cls.build_params | cls.query_params).items():
        assert p.needs is None or p.needs in cls.build_params, f"{k} needs {p.needs!r}, which is no build parameter"
    # every range resolved and checked at N, with what the raised parameters need switched on (IVF-PQ's refine)
    on = {p.needs: [True] for p in map(cls.query_params.get, monotone[1:]) if p.needs and cls.build_params[p.needs].type is bool}
    space = space_for(config.parse({"algorithms": {name: {"build": on} if on else {}}}).algorithms[0], N)
    for d in space.build + space.query:
        assert d.fixed or (d.lo < d.hi and (not d.log or d.lo > 0)), d
        assert d.start is None or d.lo <= d.start <= d.hi, d  # a declared first value resolves inside the range
    assert space.monotone == monotone[0] and space.raised == tuple(monotone[1:])
    x, q = data
    metric = next(iter(cls.metrics))
    build = cls.accurate_params(N)[0]
    bottom = {d.name: d.choices[0] if d.choices else d.type(d.lo) for d in space.query}
    plan = space.bisection(build, bottom, (0.9,), K)
    assert [r.param for r in plan.raises] == monotone[1:], "every raised parameter applies to the accurate build"
    index = cls(metric, DIM, threads=1, **build)
    index.fit(x)
    truth, _ = exact_knn(q, x, K, metric)

    def recalls_over(param, lo, hi, log, integer, others):
        values = np.unique(np.geomspace(max(lo, 1e-3), hi, 5) if log else np.linspace(lo, hi, 5))
        values = np.unique(values.round().astype(int)) if integer else values
        out = []
        for v in values:
            index.set_query_params(**(others | {param: int(v) if integer else float(v)}))
            out.append(recall(index.search_batch(index.prepare_queries(q), K, threads=1), truth))
        assert all(b >= a - 0.02 for a, b in zip(out, out[1:])), f"{param} {list(values)}: recall {out}"
        assert out[-1] > out[0] or out[0] >= 0.999, f"{param} over its range does not move recall: {out}"

    recalls_over(plan.param, plan.lo, plan.hi, plan.log, plan.integer, bottom)
    for r in plan.raises:
        d = space.dim(r.param)
        recalls_over(r.param, d.lo, r.hi, r.log, r.integer, plan.config(plan.hi))

    # a build parameter declared to raise recall does: the richest build (every one at the top of
    # its range) recalls at least as much as the poorest (every one at the bottom) at a cheap query
    rich = [d for d in space.build if d.raises_recall and not d.fixed]
    if rich:
        cheap = plan.config(plan.lo)
        got = {}
        for end, pick in (("poorest", lambda d: d.type(d.lo)), ("richest", lambda d: d.richest())):
            built = cls(metric, DIM, threads=1, **(build | {d.name: pick(d) for d in rich}))
            built.fit(x)
            built.set_query_params(**cheap)
            got[end] = recall(built.search_batch(built.prepare_queries(q), K, threads=1), truth)
        assert got["richest"] >= got["poorest"] - 0.02, f"{[d.name for d in rich]} declared to raise recall: {got} at {cheap}"
