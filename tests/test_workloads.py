import os
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from ann_bench.data import TEST, TRAIN, VAL, PrepConfig, fetch, load, prepare
from ann_bench.data import store as prepared_store
from ann_bench.embeddings.run import train_and_evaluate
from ann_bench.embeddings.config import TrainConfig
from ann_bench.embeddings.config import TowerConfig
from ann_bench.errors import AnnBenchError, DataError
from ann_bench.host import x86_avx2
from ann_bench.workloads import format as wformat
from ann_bench.workloads import kernels, scale
from ann_bench.workloads.build import WorkloadSpec, build
from ann_bench.workloads.groundtruth import exact_knn
from ann_bench.workloads.inspect import difficulty, info

from movielens_fixtures import variant_for, write_release, zip_release


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wl")
    folder = write_release(tmp, "csv", n_users=80, n_items=50, per_user=15)
    p = prepare(load(fetch(variant_for(zip_release(folder), "csv"), cache_dir=tmp / "c", source=folder)), PrepConfig())
    path = prepared_store.save(p, tmp / "prepared.h5")
    cfg = TrainConfig(tower=TowerConfig(dim=8, hidden=16), max_epochs=2)  # the default dot model
    out, _ = train_and_evaluate(p, path, cfg, tmp / "models", baselines=False, progress=False)
    return out, p


def test_builds_u2i_and_i2i_with_exact_ground_truth(bundle, tmp_path):
    out, p = bundle
    paths = build(out, WorkloadSpec(), tmp_path, progress=False)
    names = sorted(x.name for x in paths)
    assert names == [f"ml-test.dot.{k}.hdf5" for k in ("i2i.cosine", "u2i.cosine", "u2i.ip", "u2i.l2")]
    ip = wformat.read(tmp_path / "ml-test.dot.u2i.ip.hdf5")
    assert ip.metric == "ip" and ip.train.shape == (p.n_items, 8) and ip.attrs["kind"] == "u2i"
    ids, _ = exact_knn(ip.test, ip.train, 100, "ip")
    np.testing.assert_array_equal(ip.neighbors, ids)
    # relevant = the user's test positives, seen = train + validation positives (base rows)
    row = 0
    user_idx = np.searchsorted(p.users["user_id"].to_numpy(), ip.query_ids[row])
    inter = p.interactions[p.interactions["user_idx"] == user_idx]
    assert set(ip.relevant[row]) == set(inter[inter.split == TEST].item_idx)
    assert set(ip.seen[row]) == set(inter[inter.split.isin((TRAIN, VAL))].item_idx)
    assert ip.attrs["synthetic"] is False and "two-tower" in ip.attrs["quality"]
    # when each movie was first and last rated, row for row (what a streaming replay orders arrivals by)
    np.testing.assert_array_equal(ip.item_first_rated, p.items["first_rated"])
    np.testing.assert_array_equal(ip.item_last_rated, p.items["last_rated"])
    # filtered ground truth: the exact top 100 among the movies each user has not seen
    f_ids, _ = exact_knn(ip.test, ip.train, 100, "ip", exclude=[ip.seen[i] for i in range(len(ip.test))])
    np.testing.assert_array_equal(ip.filtered_neighbors, f_ids)
    assert not np.isin(ip.filtered_neighbors[row], ip.seen[row]).any()
    i2i = wformat.read(tmp_path / "ml-test.dot.i2i.cosine.hdf5")
    own = np.searchsorted(i2i.item_ids, i2i.query_ids)
    assert not (i2i.neighbors == own[:, None]).any(), "an item is its own neighbour"


def test_the_bundle_says_which_model_made_its_vectors(bundle):
    out, _ = bundle
    with h5py.File(out / "embeddings.h5") as f:  # the dot model's vectors are not unit-norm
        assert f.attrs["model"] == "dot" and not f.attrs["normalized"]
        assert not np.allclose(np.linalg.norm(f["items"][()], axis=1), 1)


def test_a_project_moved_after_training_still_finds_its_split(bundle, tmp_path):
    out, _ = bundle
    moved = tmp_path / "datasets"
    shutil.copytree(out, moved / "models" / out.name)
    with h5py.File(out / "embeddings.h5", "r") as f:
        recorded = Path(str(f.attrs["prepared_file"]))
    (moved / "prepared").mkdir()
    shutil.copy(recorded, moved / "prepared" / recorded.name)
    with h5py.File(moved / "models" / out.name / "embeddings.h5", "r+") as f:  # as written on the old machine
        f.attrs["prepared_file"] = f"/nonexistent/old-home/datasets/prepared/{recorded.name}"
    (path,) = build(moved / "models" / out.name, WorkloadSpec(kinds=("u2i",), u2i_metrics=("ip",)), tmp_path / "w", progress=False)
    assert wformat.read(path).attrs["provenance"]["prepared_file"] == str(moved / "prepared" / recorded.name)


def test_round_trip_and_content_hash(bundle, tmp_path):
    out, _ = bundle
    (path,) = build(out, WorkloadSpec(kinds=("u2i",), u2i_metrics=("l2",)), tmp_path, progress=False)
    w = wformat.read(path)
    again = wformat.write(w, tmp_path / "copy.hdf5")
    w2 = wformat.read(again)
    for key in ("train", "test", "neighbors", "distances", "item_ids", "query_ids"):
        np.testing.assert_array_equal(getattr(w, key), getattr(w2, key))
    np.testing.assert_array_equal(w.relevant.ids, w2.relevant.ids)
    np.testing.assert_array_equal(w.filtered_neighbors, w2.filtered_neighbors)
    assert w.content_hash() == w2.content_hash() == wformat.attr(path, "content_hash")
    with h5py.File(path) as f:  # ann-benchmarks attributes are present
        assert f.attrs["distance"] == "euclidean" and f.attrs["point_type"] == "float" and f.attrs["dimension"] == 8


def test_scale_up_keeps_real_items_and_is_marked_synthetic(bundle, tmp_path):
    out, p = bundle
    (path,) = build(out, WorkloadSpec(kinds=("u2i",), u2i_metrics=("ip",), scale=2_000), tmp_path, progress=False)
    assert path.name == "ml-test.dot.u2i.ip.synthetic2k.hdf5"
    w = wformat.read(path)
    real = wformat.read(build(out, WorkloadSpec(kinds=("u2i",), u2i_metrics=("ip",)), tmp_path / "r", progress=False)[0])
    assert len(w.train) == 2_000 and w.attrs["synthetic"] is True and w.attrs["synthetic_items"] == 2_000 - p.n_items
    np.testing.assert_array_equal(w.train[: p.n_items], real.train)
    assert (w.item_ids[p.n_items :] == -1).all()
    # synthetic items get the first and last rating times of real rated movies, pair by pair
    np.testing.assert_array_equal(w.item_first_rated[: p.n_items], real.item_first_rated)
    real_pairs = set(zip(real.item_first_rated[real.item_first_rated >= 0], real.item_last_rated[real.item_first_rated >= 0]))
    synthetic_pairs = list(zip(w.item_first_rated[p.n_items :], w.item_last_rated[p.n_items :]))
    assert set(synthetic_pairs) <= real_pairs and len(set(synthetic_pairs)) > 1
    # the norm distribution is preserved (inner-product search depends on it)
    rn, sn = np.linalg.norm(real.train, axis=1), np.linalg.norm(w.train[p.n_items :], axis=1)
    assert sn.min() >= rn.min() - 1e-4 and sn.max() <= rn.max() + 1e-4
    ids, _ = exact_knn(w.test, w.train, 100, "ip")
    np.testing.assert_array_equal(w.neighbors, ids)
    by_origin = info(path)["difficulty_by_origin"]
    assert set(by_origin) == {"real items as queries", "synthetic items as queries"}
    assert all(d["relative_contrast_median"] > 1 and d["lid_median"] > 0 for d in by_origin.values())


GROW_WITH_HASWELL_KERNELS = """
import sys, numpy as np
from ann_bench.workloads import scale
items = np.load(sys.argv[1]); out = np.empty((int(sys.argv[3]), items.shape[1]), np.float32)
scale.grow(items, seed=0, out=out); np.save(sys.argv[2], out)
"""


@pytest.mark.skipif(not x86_avx2(), reason="OpenBLAS's kernels are pinned on x86-64 CPUs with AVX2 only")
def test_the_scale_up_runs_on_haswell_kernels_whatever_the_cpu(bundle, tmp_path, monkeypatch):
    """Kernels of other widths round otherwise (README, "Two-tower model"): the synthetic items are
    those a fresh process started on OpenBLAS's Haswell kernels draws, the workload says so, and a
    user's own choice of kernels is kept."""
    monkeypatch.delenv("OPENBLAS_CORETYPE", raising=False)
    out, _ = bundle
    (path,) = build(out, WorkloadSpec(kinds=("u2i",), u2i_metrics=("ip",), scale=3_000), tmp_path, progress=False)
    w = wformat.read(path)
    n_real = w.attrs["n_real_items"]
    np.save(tmp_path / "items.npy", w.train[:n_real])
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"} | {"OPENBLAS_CORETYPE": "Haswell"}
    subprocess.run([sys.executable, "-c", GROW_WITH_HASWELL_KERNELS, str(tmp_path / "items.npy"), str(tmp_path / "haswell.npy"),
                    str(3_000 - n_real)], env=env, check=True)
    np.testing.assert_array_equal(w.train[n_real:], np.load(tmp_path / "haswell.npy"))
    facts = w.attrs["scaled_on"]
    assert facts["pinned"] == {"OPENBLAS_CORETYPE": "Haswell"} and facts["cpu"]
    assert len(facts["openblas"]) == 2 and {lib["kernels"].lower() for lib in facts["openblas"]} == {"haswell"}  # numpy's, faiss's
    assert not list(tmp_path.glob(".scale-*"))  # the child's scratch file is gone
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Zen")
    _, facts = kernels.fill(scale.grow, np.empty((10, w.dimension), np.float32), w.train[:n_real], scratch=tmp_path)
    assert facts["pinned"] == {"OPENBLAS_CORETYPE": "Zen"}


def _killed(*args, out):
    os._exit(9)  # as the kernel's out-of-memory killer ends a process: no exception, no cleanup


@pytest.mark.skipif(not x86_avx2(), reason="the scale-up runs in a child process on x86-64 CPUs with AVX2 only")
def test_a_scale_up_child_that_dies_is_one_line_that_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENBLAS_CORETYPE", raising=False)
    with pytest.raises(AnnBenchError, match=r"drawing 5 synthetic items .* died, out of memory or killed .* "
                                            r"with OPENBLAS_CORETYPE=Haswell set in the environment"):
        kernels.fill(_killed, np.empty((5, 4), np.float32), scratch=tmp_path)
    assert not list(tmp_path.iterdir())  # no scratch file left behind


def test_difficulty_on_a_hand_made_line_in_any_chunking():
    # one query at the origin, base points at distances 1..100 on a line
    base = np.stack([np.arange(1, 101, dtype=np.float32), np.zeros(100, np.float32)], axis=1)
    q = np.zeros((1, 2), np.float32)
    lid = -1 / np.mean(np.log(np.arange(1, 20) / 20))  # MLE over the 20 nearest: d_i = i, d_20 = 20
    for chunk in (7, 100_000):
        d = difficulty(base, q, "l2", k=20, chunk=chunk)
        assert d["relative_contrast_median"] == pytest.approx(50.5, rel=1e-5)  # mean 50.5 / nearest 1
        assert d["lid_median"] == pytest.approx(lid, rel=1e-4)


def test_difficulty_leaves_an_item_query_out_of_its_own_neighbours():
    """Item queries (i2i, a grown catalog's items) are base rows: each one's distance to itself,
    computed as 1e-4 or as 0 by the float32 expansion, is not its nearest neighbour (it made the
    relative contrast 1e12 and the LID 0.7 in `workloads info`). Against float64 brute force
    without the query's own row."""
    rng = np.random.default_rng(3)
    base = rng.standard_normal((3_000, 32)).astype(np.float32)
    rows = rng.choice(len(base), size=50, replace=False)
    for metric in ("l2", "cosine"):
        x = base / np.linalg.norm(base, axis=1, keepdims=True) if metric == "cosine" else base
        rc, lid = [], []
        for r in rows:
            d = np.sort(np.delete(np.linalg.norm(x.astype(np.float64) - x[r].astype(np.float64), axis=1), r))
            rc.append(d.mean() / d[0])
            lid.append(-1 / np.mean(np.log(d[:19] / d[19])))
        for chunk in (1_000, 100_000):
            got = difficulty(base, base[rows], metric, self_rows=rows, sample=len(rows), chunk=chunk)
            assert got["relative_contrast_median"] == pytest.approx(np.median(rc), rel=1e-3)
            assert got["lid_median"] == pytest.approx(np.median(lid), rel=1e-3)


def test_ann_benchmarks_file_loads(tmp_path):
    rng = np.random.default_rng(0)
    x, q = rng.standard_normal((200, 10)).astype(np.float32), rng.standard_normal((5, 10)).astype(np.float32)
    ids, d = exact_knn(q, x, 10, "cosine")
    path = tmp_path / "glove-10-angular.hdf5"
    with h5py.File(path, "w") as f:  # the layout ann-benchmarks publishes
        f.attrs["type"] = "dense"
        f.attrs["distance"] = "angular"
        f.attrs["dimension"] = 10
        f.attrs["point_type"] = "float"
        f["train"], f["test"], f["neighbors"], f["distances"] = x, q, ids.astype(np.int64), d
    w = wformat.read(path)
    assert w.metric == "cosine" and w.name == "glove-10-angular" and w.relevant is None
    np.testing.assert_array_equal(w.neighbors, ids)


def test_broken_files_give_clear_errors(tmp_path):
    rng = np.random.default_rng(0)
    x, q = rng.standard_normal((50, 4)).astype(np.float32), rng.standard_normal((3, 4)).astype(np.float32)
    ids, d = exact_knn(q, x, 5, "l2")
    good = wformat.write(wformat.Workload("t", "l2", x, q, ids, d), tmp_path / "t.hdf5")
    data = good.read_bytes()
    trunc = tmp_path / "trunc.hdf5"
    trunc.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="trunc.hdf5"):
        wformat.read(trunc)
    with h5py.File(tmp_path / "shape.hdf5", "w") as f:
        f.attrs["distance"] = "euclidean"
        f["train"], f["test"], f["neighbors"], f["distances"] = x, q[:, :3], ids, d
    with pytest.raises(DataError, match="'train' has dimension 4 but 'test' has 3"):
        wformat.read(tmp_path / "shape.hdf5")
    with h5py.File(tmp_path / "missing.hdf5", "w") as f:
        f["train"] = x
    with pytest.raises(DataError, match="lacks dataset"):
        wformat.read(tmp_path / "missing.hdf5")
    with pytest.raises(DataError, match="does not exist"):
        wformat.read(tmp_path / "nope.hdf5")
    later = np.arange(50, dtype=np.int64)
    with pytest.raises(DataError, match="item 3 was first rated at 3 and last at 2"):
        wformat.write(wformat.Workload("t", "l2", x, q, ids, d, item_first_rated=later, item_last_rated=np.where(later == 3, 2, later)),
                      tmp_path / "times.hdf5")
    with pytest.raises(DataError, match="'item_first_rated' has 49 entries, expected 50"):
        wformat.write(wformat.Workload("t", "l2", x, q, ids, d, item_first_rated=later[1:], item_last_rated=later[1:]),
                      tmp_path / "times.hdf5")


def test_what_the_metric_costs_on_a_hand_made_case():
    from ann_bench.workloads.metric_compare import compare

    # user (1, 0.2); item 0 = (1, 0), item 1 = (3, 3): by inner product item 1 (3.6 > 1.0); by
    # cosine (0.98 > 0.83) and by L2 distance (0.04 < 11.84) item 0. The user will like item 1.
    users = np.array([[1.0, 0.2]], np.float32)
    items = np.array([[1.0, 0.0], [3.0, 3.0]], np.float32)
    out = compare(users, items, [np.zeros(0, np.int64)], [np.array([1])], k=1, ks=(1,))
    assert out["top1_overlap"] == {"ip~cosine": 0.0, "ip~l2": 0.0, "cosine~l2": 1.0}
    assert out["recommendation_of_exact_search"] == {"ip": {"recall@1": 1.0}, "cosine": {"recall@1": 0.0}, "l2": {"recall@1": 0.0}}
    assert out["item_norms"]["max"] == pytest.approx(np.sqrt(18))


def test_u2i_workloads_record_what_the_metric_costs(bundle, tmp_path):
    """Checked against numpy: argsorts of the three scores, seen items masked by hand."""
    out, _ = bundle
    (path,) = build(out, WorkloadSpec(kinds=("u2i",), u2i_metrics=("ip",)), tmp_path, progress=False)
    w = wformat.read(path)
    got = w.attrs["metric_comparison"]
    q, x = w.test.astype(np.float64), w.train.astype(np.float64)
    scores = {"ip": q @ x.T,
              "cosine": (q / np.linalg.norm(q, axis=1, keepdims=True)) @ (x / np.linalg.norm(x, axis=1, keepdims=True)).T,
              "l2": -((q[:, None, :] - x[None, :, :]) ** 2).sum(-1)}
    k = min(100, len(x))
    top = {m: np.argsort(-s, axis=1, kind="stable")[:, :k] for m, s in scores.items()}
    want = np.mean([len(set(a) & set(b)) / k for a, b in zip(top["ip"], top["l2"])])
    assert got[f"top{k}_overlap"]["ip~l2"] == pytest.approx(want, abs=0.02)  # ties aside
    for m, s in scores.items():
        recalls = []
        for i in range(len(q)):
            rel = w.relevant[i]
            if not len(rel):
                continue
            masked = s[i].copy()
            masked[w.seen[i]] = -np.inf
            recalls.append(np.isin(np.argsort(-masked, kind="stable")[:10], rel).sum() / min(10, len(rel)))
        assert got["recommendation_of_exact_search"][m]["recall@10"] == pytest.approx(np.mean(recalls), abs=0.01), m


def test_a_catalog_sample_keeps_its_items_queries_and_exact_ground_truth(tmp_path):
    """A hand-made item-to-item workload: every query is an item; on the sample, a query whose
    item was drawn points to its new row and never answers itself, one whose item was left out
    has none. The ground truth is checked against numpy's full sort of the sample's scores."""
    from ann_bench.errors import ConfigError
    from ann_bench.workloads.sample import catalog_sample

    rng = np.random.default_rng(3)
    x = rng.standard_normal((300, 6)).astype(np.float32)
    own = np.arange(0, 300, 15)  # 20 queries, each an item
    ids, d = exact_knn(x[own], x, 10, "ip", exclude=list(own))
    w = wformat.Workload("hand.i2i.ip", "ip", x, x[own], ids, d, item_ids=np.arange(1000, 1300), self_ids=own.astype(np.int32),
                         attrs={"kind": "i2i"})
    s = catalog_sample(w, 120, seed=1)
    rows = s.item_ids - 1000
    assert s.name == "hand.i2i.ip.sample120" and len(rows) == 120 and (np.diff(rows) > 0).all()
    assert np.array_equal(s.train, x[rows]) and np.array_equal(s.test, x[own]) and s.attrs["sample_of_hash"] == w.content_hash()
    drawn = np.isin(own, rows)
    assert drawn.any() and not drawn.all()
    assert (s.self_ids[~drawn] == -1).all() and np.array_equal(rows[s.self_ids[drawn]], own[drawn])
    for i in range(len(own)):
        scores = x[rows].astype(np.float64) @ x[own[i]].astype(np.float64)
        if drawn[i]:
            scores[s.self_ids[i]] = -np.inf
        top = np.argsort(-scores, kind="stable")[:10]
        assert np.array_equal(s.neighbors[i], top) and np.allclose(s.distances[i], -scores[top], atol=1e-5)
    back = wformat.read(wformat.write(s, tmp_path / "sample.hdf5"))  # a valid workload file
    assert back.attrs["kind"] == "i2i" and back.attrs["sample_items"] == 120
    with pytest.raises(ConfigError, match="hand.i2i.ip: a catalog sample needs 1 to 300 items, not 301"):
        catalog_sample(w, 301)
