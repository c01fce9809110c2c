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


# --- the replay itself: real adapters in worker processes, on a small generated catalog -------------------

from ann_bench.stream import config as stream_config, store  # noqa: E402
from ann_bench.stream.run import replay_all  # noqa: E402
from ann_bench.sweep import config as sweep_config, registry  # noqa: E402
from ann_bench.workloads import format as wformat  # noqa: E402
from ann_bench.workloads.groundtruth import exact_knn  # noqa: E402

from sweep_fixtures import plugins  # noqa: E402,F401  (the misbehaving adapters reach the workers)

BATCHES = 12


@pytest.fixture
def catalog(tmp_path):
    """1,500 items on the unit sphere's neighbourhood with arrival and last-rating days."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1_500, 12)).astype(np.float32)
    q = rng.standard_normal((30, 12)).astype(np.float32)
    first = rng.integers(0, 1_000, len(x)) * DAY_S
    last = first + rng.integers(0, 400, len(x)) * DAY_S
    first[:20] = last[:20] = -1  # never rated: never live
    ids, d = exact_knn(q, x, 10, "ip")
    w = wformat.Workload("gen.u2i.ip", "ip", x, q, ids, d, item_first_rated=first, item_last_rated=last)
    return wformat.write(w, tmp_path / "gen.u2i.ip.hdf5")


def stream_cfg(algorithms: dict, **settings):
    cfg = sweep_config.parse({"algorithms": {"faiss-flat": {}}, "stream": {
        "batches": BATCHES, "queries": 30, "fresh_every": 5, "rebuild_every": 4, "retire_after_days": 120,
        "build_threads": 1, **settings, "algorithms": algorithms}})
    return stream_config.from_sweep_config(cfg), cfg.settings


def test_a_replay_keeps_exact_books_every_step_against_an_independent_live_catalog(catalog, tmp_path, monkeypatch):
    # exact search that updates in place must find every live neighbour at every step: the replay's
    # mapping of index ids to items, its live set and its ground truth all have to be right
    scfg, settings = stream_cfg({"test-exact-updates": {}})
    [out] = replay_all(scfg, [catalog], tmp_path / "res", settings, progress=False)
    assert out.status == "complete", out.summary
    attrs, steps = store.read(out.path)
    assert len(steps) == BATCHES + 1 and (steps["recall"] == 1).all() and (steps["retired_share"] == 0).all()
    assert steps["fresh_recall"].dropna().eq(1).all() and steps["fresh_recall"].notna().sum() == 3  # after 5, 10, 12
    # the live catalog after each batch, by the times alone: arrived by the batch's end, last rating
    # within 120 days before it (an arrive-and-retire-within-one-window item is never counted)
    w = wformat.read(catalog)
    first, retire_at = w.item_first_rated, w.item_last_rated + 120 * DAY_S
    for _, s in steps.iterrows():
        t = int(s["end"])
        live = np.flatnonzero((first >= 0) & (first <= t) & (retire_at > t))
        assert s["n_live"] == len(live)
    assert steps["added"].sum() > 0 and steps["removed"].sum() > 0 and (steps["pending"] == 0).all()
    # the exact answers the recall was scored against, checked by plain numpy at the last step
    with store.open_h5(next((tmp_path / "res" / w.name).glob("truth-*.h5")), "truth") as f:
        truth = f["neighbors"][-1]
    t = int(steps["end"].iloc[-1])
    live = np.flatnonzero((first >= 0) & (first <= t) & (retire_at > t))
    order = np.argsort(-(w.test @ w.train[live].T), axis=1, kind="stable")[:, :10]
    assert (np.sort(live[order], axis=1) == np.sort(truth, axis=1)).all()
    # the answers: exact search serves brand-new items exactly as often as exact search does
    from ann_bench.analysis.report import _stream_section
    from ann_bench.analysis.stream import summary

    [row] = summary(store.read_all(tmp_path / "res")).to_dict("records")
    assert row["updates"] == "in place" and row["recall_start"] == row["recall_end"] == row["fresh_recall_end"] == 1
    assert row["retired_returned"] == 0 and row["new_share"] == row["new_share_exact"] > 0
    assert row["items_start"] == steps["n_live"].iloc[0] and row["batches"] == BATCHES and row["insert_per_s"] > 0
    html = "".join(_stream_section(tmp_path / "res", tmp_path / "plots"))
    assert "which index keeps up" in html and (tmp_path / "plots" / "stream__gen.u2i.ip.png").is_file()
    # a second run keeps the complete result; a changed setting replays again
    assert [o.status for o in replay_all(scfg, [catalog], tmp_path / "res", settings, progress=False)] == ["kept"]
    scfg2, _ = stream_cfg({"test-exact-updates": {}}, new_within=2)
    assert [o.status for o in replay_all(scfg2, [catalog], tmp_path / "res", settings, progress=False)] == ["complete"]
    # so does an adapter whose behaviour changed (a raised revision)
    monkeypatch.setattr(registry.get("test-exact-updates"), "revision", 1)
    assert [o.status for o in replay_all(scfg2, [catalog], tmp_path / "res", settings, progress=False)] == ["complete"]


def test_every_way_of_taking_changes_never_serves_a_retired_item(catalog, tmp_path):
    scfg, settings = stream_cfg({
        "hnswlib": {"build": {"M": 16, "ef_construction": 100}, "query": {"ef": 64}},  # in place
        "faiss-hnsw": {"build": {"M": 16, "ef_construction": 100}, "query": {"ef_search": 64}},  # add only: filtered
        "annoy": {"build": {"n_trees": 20}, "query": {"search_k": 4000}},  # rebuilt every 4 batches
    })
    outcomes = replay_all(scfg, [catalog], tmp_path / "res", settings, progress=False)
    assert [o.status for o in outcomes] == ["complete"] * 3, [o.summary for o in outcomes]
    by = {}
    for o in outcomes:
        attrs, steps = store.read(o.path)
        by[attrs["meta"]["updates"]] = steps
    assert set(by) == {"in place", "add only", "rebuild"}
    for updates, steps in by.items():
        assert (steps["retired_share"] == 0).all(), updates
    hn, fh, an = by["in place"], by["add only"], by["rebuild"]
    assert hn["recall"].min() > 0.8 and fh["recall"].min() > 0.8
    # the rebuilt index is as good as new right after each rebuild, and falls behind in between
    assert an.loc[an["step"].isin([0, 4, 8]), "recall"].min() > 0.8 and an["recall"].min() < hn["recall"].min()
    assert (hn["filtered"] == 0).all() and fh["filtered"].iloc[-1] == fh["removed"].sum()  # add only: every retired id filtered
    # rebuilt after every 4th batch (steps 4, 8, 12): nothing waits right after, arrivals wait in between
    assert (an.loc[an["step"].isin([4, 8, 12]), ["pending", "filtered"]] == 0).all().all()
    assert list(an.loc[an["rebuild_s"].notna(), "step"]) == [4, 8, 12] and (an["pending"] > 0).any()
    # waiting arrivals cannot be found: the rebuilt index serves fewer brand-new items than exact search would
    assert an["new_share"].sum() < an["new_share_exact"].sum()


def test_size_relative_values_are_taken_at_the_items_the_index_is_built_on(catalog, tmp_path):
    scfg, settings = stream_cfg({"faiss-ivf": {"build": {"nlist": "sqrt(N)"}, "query": {"nprobe": 4}}})
    [out] = replay_all(scfg, [catalog], tmp_path / "res", settings, progress=False)
    attrs, steps = store.read(out.path)
    items_at_start = int(steps["n_live"].iloc[0])  # about half the 1,500 items, not all of them
    assert items_at_start < 1_000 and attrs["definition"]["build"]["nlist"] == round(items_at_start ** 0.5)


def test_a_replay_that_crashes_midway_is_recorded_and_replayed_next_time(catalog, tmp_path):
    scfg, settings = stream_cfg({"crashy": {"adapter": "test-exact-updates", "build": {"abort_at_add": 6}}})
    [out] = replay_all(scfg, [catalog], tmp_path / "res", settings, progress=False)
    assert out.status == "failed" and "SIGABRT" in out.summary
    attrs, steps = store.read(out.path)  # a whole, readable file with the steps done before the crash
    assert attrs["status"] == "failed" and "SIGABRT" in attrs["reason"]
    assert len(steps) == 6 and list(steps["step"]) == list(range(6))  # the start and batches 1-5; add 6 aborted
    scfg, _ = stream_cfg({"crashy": {"adapter": "test-exact-updates", "build": {"abort_at_add": 0}}})
    [out] = replay_all(scfg, [catalog], tmp_path / "res", settings, progress=False)
    assert out.status == "complete" and len(store.read(out.path)[1]) == BATCHES + 1


def test_a_workload_without_rating_times_says_how_to_get_them(tmp_path):
    rng = np.random.default_rng(0)
    x, q = rng.standard_normal((50, 4)).astype(np.float32), rng.standard_normal((3, 4)).astype(np.float32)
    ids, d = exact_knn(q, x, 10, "ip")
    path = wformat.write(wformat.Workload("old.u2i.ip", "ip", x, q, ids, d), tmp_path / "old.u2i.ip.hdf5")
    scfg, settings = stream_cfg({"hnswlib": {}})
    with pytest.raises(ConfigError, match=r"old.u2i.ip.hdf5 has no item rating times .*ann-bench data prepare"):
        replay_all(scfg, [path], tmp_path / "res", settings, progress=False)


def _replay(algorithm, updates, recall, fresh, new_share=0.05):
    """Three steps of a made-up replay: recall per step, a fresh build's recall per step (or None)."""
    import pandas as pd

    return pd.DataFrame({
        "workload": "w", "algorithm": algorithm, "adapter": algorithm, "updates": updates, "status": "complete",
        "step": [0, 1, 2], "end": [0, 1, 2], "n_live": 100, "n_initial": 100, "added": [0, 10, 10], "removed": [0, 5, 5],
        "add_s": 0.01, "remove_s": 0.01, "recall": recall, "fresh_recall": fresh, "fresh_build_s": 1.0,
        "retired_share": 0.0, "new_share": new_share, "new_share_exact": 0.05, "index_mb": 10.0, "initial_build_s": 1.0,
        "qps": 1000.0, "p99_ms": 1.0})


def test_the_update_claim_is_checked_per_library_on_a_hand_made_replay():
    import pandas as pd

    from ann_bench.analysis.stream import claims

    steps = pd.concat([
        _replay("hnswlib", "in place", [0.9, 0.9, 0.9], [None, None, 0.91]),  # 0.01 short of fresh: keeps up
        _replay("faiss-hnsw", "add only", [0.9, 0.85, 0.83], [None, None, 0.9]),  # 0.07 short: falls behind
        _replay("faiss-ivfpq", "add only", [0.8, 0.8, 0.8], [None, None, 0.8]),  # claimed static, keeps up
        _replay("annoy", "rebuild", [0.9, 0.85, 0.9], [None, None, 0.9]),
        _replay("scann", "rebuild", [0.9, 0.85, 0.9], [None, None, 0.9], new_share=0.01),
        _replay("faiss-ivf", "in place", [0.9, 0.9, 0.9], [None, None, 0.9]),  # no claim about IVF-Flat
    ])
    got = claims(steps).set_index("algorithm")
    assert sorted(got.index) == ["annoy", "faiss-hnsw", "faiss-ivfpq", "hnswlib", "scann"]
    assert got.loc["hnswlib", ["measured", "verdict"]].tolist() == ["keeps up", "holds"]
    assert got.loc["faiss-hnsw", "verdict"] == "does not hold" and "-0.070 against a fresh build" in got.loc["faiss-hnsw", "measured"]
    assert got.loc["faiss-ivfpq", ["measured", "verdict"]].tolist() == ["keeps up", "does not hold"]
    assert got.loc["annoy", ["measured", "verdict"]].tolist() == ["falls behind: rebuilt to take changes", "holds"]
    assert "serves new items 20% as often as exact search" in got.loc["scann", "measured"]


def test_bad_stream_sections_are_one_line_errors():
    with pytest.raises(ConfigError, match=r"stream.algorithms.hnswlib.query: a replay follows one index"):
        stream_cfg({"hnswlib": {"query": {"ef": [10, 20]}}})
    with pytest.raises(ConfigError, match=r"stream.batchs: unknown key. Did you mean 'batches'"):
        stream_cfg({"hnswlib": {}}, batchs=3)
    with pytest.raises(ConfigError, match=r"stream.algorithms.hnswlibb: unknown algorithm"):
        stream_cfg({"hnswlibb": {}})
    with pytest.raises(ConfigError, match=r"--algorithms annoy: not in"):
        stream_cfg({"hnswlib": {}})[0].narrowed(["annoy"])


def test_an_interrupted_replay_keeps_the_steps_it_finished(catalog, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    import yaml

    (tmp_path / "algorithms.yaml").write_text(yaml.safe_dump({"algorithms": {"faiss-flat": {}}, "stream": {
        "batches": BATCHES, "queries": 30, "algorithms": {"slow": {"adapter": "test-slow-exact-updates"}}}}))
    (tmp_path / "tmp").mkdir()
    env = dict(os.environ, TMPDIR=str(tmp_path / "tmp"), ANN_BENCH_HOME=str(tmp_path))
    proc = subprocess.Popen([sys.executable, "-m", "ann_bench.cli", "stream", "--config", str(tmp_path / "algorithms.yaml"),
                             "--workloads", str(catalog), "--results", str(tmp_path / "res")], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # until the worker has finished two steps (each takes 30 x 20 ms)
        done = [len(p.read_text().splitlines()) for p in (tmp_path / "tmp").glob("ann-bench-run-*/steps.jsonl")]
        if done and done[0] >= 2:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode != 0, out
    attrs, steps = store.read(tmp_path / "res" / "gen.u2i.ip" / "slow.h5")
    assert attrs["status"] == "failed" and attrs["reason"] == "interrupted" and 2 <= len(steps) < BATCHES + 1
    assert (steps["recall"] == 1).all()
    assert not list((tmp_path / "tmp").glob("ann-bench-run-*"))  # the job folder went with it
