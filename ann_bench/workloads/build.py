"""Build search workloads from a trained model's exported vectors.

- ``u2i``: queries are users (vectors from their train + validation history), base is every
  catalog item: the retrieval step of a recommender. Metrics ip (what the dot-product model
  was trained with), cosine and l2; every u2i file records what each metric costs
  (:mod:`.metric_compare`).
- ``i2i``: "more like this": queries are items, base is every item, the query's own id
  excluded from its answers. Metric cosine.

Names say which model made the vectors: ``<variant>.<model>.<kind>.<metric>``, with model
``dot``, ``cos`` or ``raw`` (:class:`~ann_bench.embeddings.config.TowerConfig`; under ``cos``
ip, cosine and l2 rank alike).
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import __version__
from ..data import TEST, TRAIN, VAL, store as prepared_store
from ..embeddings.config import model_tag
from ..embeddings.evaluate import relevant_lists
from ..embeddings.store import load_vectors
from ..errors import ConfigError
from ..paths import under
from . import format as wformat
from . import kernels
from . import metric_compare
from . import scale as wscale
from .groundtruth import METRICS, exact_knn, row_norms
from .names import workload_name

KINDS = {"u2i": METRICS, "i2i": ("cosine",)}


@dataclass(frozen=True)
class WorkloadSpec:
    kinds: tuple[str, ...] = ("u2i", "i2i")
    u2i_metrics: tuple[str, ...] = ("ip", "cosine", "l2")
    i2i_metrics: tuple[str, ...] = ("cosine",)
    k: int = 100
    scale: int | None = None  # total base size after adding synthetic items
    max_i2i_queries: int = 10_000
    seed: int = 0
    device: str = "cpu"  # where the ground truth is computed: cpu (BLAS), or cuda / cuda:N (PyTorch on a GPU)

    def __post_init__(self) -> None:
        for kind in self.kinds:
            if kind not in KINDS:
                raise ConfigError(f"unknown workload kind '{kind}'; expected one of {', '.join(KINDS)}.")
        for kind, metrics in (("u2i", self.u2i_metrics), ("i2i", self.i2i_metrics)):
            for m in metrics:
                if m not in KINDS[kind]:
                    raise ConfigError(f"metric '{m}' is not available for {kind} (choose from {', '.join(KINDS[kind])}).")
        if self.k < 1:
            raise ConfigError("k must be >= 1.")

    def ground_truth_device(self) -> dict:
        """The device the ground truth will be computed on, as a result records it; a one-line
        error before any work where it cannot be used (no GPU, a CPU-only torch)."""
        if self.device == "cpu":
            return {"device": "cpu"}
        from .. import torch_search

        return torch_search.facts(torch_search.device(self.device))

    def jobs(self) -> list[tuple[str, str]]:
        return [(kind, m) for kind in self.kinds for m in (self.u2i_metrics if kind == "u2i" else self.i2i_metrics)]


def build(bundle: Path, spec: WorkloadSpec, out_dir: Path, *, progress: bool = True) -> list[Path]:
    """Write one workload file per (kind, metric) of ``spec``; returns their paths."""
    gt_device = spec.ground_truth_device()
    vec = load_vectors(bundle)
    p = prepared_store.load(Path(vec["prepared_file"]))
    items, users = vec["items"], vec["users"]
    n_real = len(items)
    item_ids = vec["item_ids"].astype(np.int64)
    titles = np.asarray(p.items["title"], dtype=object)
    # when each movie was first and last rated (a split prepared before they were recorded has none)
    first, last = (p.items[c].to_numpy(np.int64) if c in p.items else None for c in ("first_rated", "last_rated"))
    if first is None:
        warnings.warn(f"{vec['prepared_file']} was prepared before items carried their rating times: these workloads "
                      "cannot be replayed by `ann-bench stream`; run `ann-bench data prepare` again, then build them again.",
                      stacklevel=2)
    base_attrs: dict = {"synthetic": False, "n_real_items": n_real}
    if spec.scale:
        if spec.scale < n_real:
            raise ConfigError(f"--scale {spec.scale} is smaller than the real catalog ({n_real} items).")
        start = time.perf_counter()
        grown = np.empty((spec.scale, items.shape[1]), dtype=np.float32)  # one array: no second copy at 10M items
        grown[:n_real] = items
        out_dir.mkdir(parents=True, exist_ok=True)
        components, scaled_on = kernels.fill(wscale.grow, grown[n_real:], items, seed=spec.seed, scratch=out_dir)
        items = grown
        item_ids = np.concatenate([item_ids, np.full(spec.scale - n_real, -1, np.int64)])
        titles = np.concatenate([titles, np.full(spec.scale - n_real, "", dtype=object)])
        if first is not None:
            more = wscale.draw_times(first, last, spec.scale - n_real, seed=spec.seed)
            first, last = np.concatenate([first, more[0]]), np.concatenate([last, more[1]])
        base_attrs |= {
            "synthetic": True,
            "synthetic_items": spec.scale - n_real,
            "synthetic_model": f"{components}-component Gaussian mixture (k-means + full covariance), norms resampled per component",
            "synthetic_seconds": time.perf_counter() - start,
            # the BLAS kernels the mixture was fitted and sampled on: other kernels round otherwise
            "scaled_on": scaled_on,
        }

    users_q, relevant = relevant_lists(p, TEST)
    seen_df = p.interactions[p.interactions["split"].isin((TRAIN, VAL))]
    seen_groups = seen_df.groupby("user_idx")["item_idx"].apply(lambda s: np.sort(s.to_numpy()))
    seen = [seen_groups.get(u, np.zeros(0, np.int64)) for u in users_q]
    core = np.flatnonzero(p.items["in_core"].to_numpy())
    rng = np.random.default_rng(spec.seed)
    i2i_q = np.sort(rng.choice(core, size=min(spec.max_i2i_queries, len(core)), replace=False))

    unit = bool(np.allclose(row_norms(items), 1, atol=1e-4) and np.allclose(row_norms(users), 1, atol=1e-4))
    common = {
        "vectors_normalized": unit,
        "model": vec["train_config"],
        # where the vectors were trained: another CPU's kernels round otherwise, and the vectors differ
        "trained_on": vec["metrics"].get("device", {}),
        "quality": {m: {"val": r["val"], "test": r["test"]} for m, r in vec["metrics"]["models"].items()},
        "preprocessing": p.summary,
        "provenance": {"bundle": str(bundle), "prepared_file": vec["prepared_file"], "data": p.provenance},
        "ann_bench_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    } | base_attrs
    if "u2i" in spec.kinds:  # the same vectors under each metric: what the wrong one loses
        common["metric_comparison"] = metric_compare.compare(users[users_q], items, seen, relevant, seed=spec.seed)
    paths = []
    for kind, metric in spec.jobs():
        name = workload_name(p.name, model_tag(vec["train_config"]), kind, metric, spec.scale)
        if kind == "u2i":
            queries, query_ids, exclude, self_ids = users, vec["user_ids"], None, None
            queries = queries[users_q]
            query_ids = query_ids[users_q]
            rel, seen_r = wformat.Ragged.from_lists(relevant), wformat.Ragged.from_lists(seen)
        else:
            queries, query_ids, exclude, self_ids = items[i2i_q], item_ids[i2i_q], i2i_q, i2i_q
            rel = seen_r = None
        start = time.perf_counter()
        ids, dists = exact_knn(queries, items, spec.k, metric, exclude=exclude, progress=progress, device=spec.device)
        f_ids = f_dists = None
        if seen_r is not None:  # filtered search: the user's already-seen movies are never answers
            f_ids, f_dists = exact_knn(queries, items, spec.k, metric, exclude=seen_r, progress=progress, device=spec.device)
        w = wformat.Workload(
            name=name, metric=metric, train=items, test=queries, neighbors=ids, distances=dists,
            item_ids=item_ids, item_titles=titles, query_ids=query_ids, relevant=rel, seen=seen_r,
            filtered_neighbors=f_ids, filtered_distances=f_dists, self_ids=self_ids,
            item_first_rated=first, item_last_rated=last,
            attrs={k: v for k, v in common.items() if kind == "u2i" or k != "metric_comparison"} | {
                "kind": kind, "k": spec.k, "ground_truth_seconds": time.perf_counter() - start, "ground_truth_device": gt_device},
        )
        paths.append(wformat.write(w, under(out_dir, name, what="workload name", suffix=".hdf5")))
    return paths
