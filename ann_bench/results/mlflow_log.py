"""Results into an MLflow tracking store: one MLflow run per (workload, algorithm, build
configuration, query configuration), its build and query parameters as params, its measures
at every depth as metrics (``recall@10``, ``qps_single@10``, ...), and the machine it ran on,
the library versions and the result file as tags.

The store is any MLflow tracking URI; by default a SQLite file beside the results
(``sqlite:///<results>/mlflow.db``), which needs no server and works offline. Logging again
adds only configurations not logged before (each run carries its result file and query
configuration as the tag ``ann_bench.key``). MLflow is an optional extra:
``pip install 'ann-bench[mlflow]'``.
"""

from __future__ import annotations

import json
import math
import re
import time
from pathlib import Path

import pandas as pd

from ..errors import AnnBenchError
from ..sweep import registry
from .table import gather

EXPERIMENT = "ann-bench"
KEY = "ann_bench.key"
# measured per depth (logged as "qps_single@10"), besides recall@k and recall_rel@k; and once per build
PER_DEPTH = ("qps_single", "qps_batch_1t", "qps_batch_nt", "speedup_single", "latency_p50_ms", "latency_p95_ms", "latency_p99_ms")
PER_BUILD = ("build_s", "index_mb", "peak_rss_mb", "serialized_mb")
RECALL = re.compile(r"^recall(_rel)?@\d+$")
TAGS = ("workload", "algorithm", "adapter", "metric", "metric_handling", "cpu", "node", "git_commit", "file", "started")


def _mlflow():
    try:
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise AnnBenchError("--mlflow needs MLflow: pip install 'ann-bench[mlflow]' (or `make install-mlflow`).") from None
    return MlflowClient


def default_uri(results_dir: Path) -> str:
    return f"sqlite:///{Path(results_dir).resolve() / 'mlflow.db'}"


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _typed(cls, column: str, value):
    """A parameter's value as its adapter declares it (the wide table holds ints as floats)."""
    kind, name = column.split(".", 1)
    p = (cls.build_params if kind == "build" else cls.query_params).get(name)
    return p.type(value) if p is not None and p.type in (int, float, bool) else value


def runs(df: pd.DataFrame) -> list[dict]:
    """One entry per (result file, query configuration): params, metrics at each depth, tags."""
    df = df[(df["search"] == "knn") & (df["duplicate_of"] == "") & (df["status"] == "ok")]
    out = []
    for (file, requested), group in df.groupby(["file", "requested_params"], sort=True):
        first = group.iloc[0]
        cls = registry.get(first["adapter"])
        params = {c: _typed(cls, c, first[c]) for c in group.columns if c.startswith(("build.", "query.")) and pd.notna(first[c])}
        metrics = {m: first[m] for m in PER_BUILD if m in first and _finite(first[m])}
        for r in group.to_dict("records"):
            k = int(r["k"])  # each depth's own recall (a deeper search also records recall at smaller k)
            metrics |= {name: v for name, v in r.items() if RECALL.match(name) and name.endswith(f"@{k}") and _finite(v)}
            metrics |= {f"{m}@{k}": r[m] for m in PER_DEPTH if m in r and _finite(r[m])}
        tags = {t: str(first[t]) for t in TAGS if t in group.columns and pd.notna(first[t])}
        out.append({"key": f"{file}#{requested}", "name": f"{first['algorithm']} {first['build_params']} {requested}",
                    "params": params, "metrics": metrics, "tags": tags})
    return out


def log(results_dir: Path, uri: str | None = None, experiment: str = EXPERIMENT) -> tuple[int, int, str]:
    """Log every measured configuration under ``results_dir`` not logged before; returns (new,
    already there, the tracking URI)."""
    client_cls = _mlflow()
    from mlflow.entities import Metric, Param

    uri = uri or default_uri(results_dir)
    client = client_cls(tracking_uri=uri)
    exp = client.get_experiment_by_name(experiment)
    exp_id = exp.experiment_id if exp else client.create_experiment(experiment)
    logged, token = set(), None
    while True:  # the keys already there, page by page
        page = client.search_runs([exp_id], max_results=1000, page_token=token)
        logged |= {r.data.tags.get(KEY) for r in page}
        token = page.token
        if not token:
            break
    new = [r for r in runs(gather(results_dir)) if r["key"] not in logged]
    now = int(time.time() * 1000)
    for r in new:
        run = client.create_run(exp_id, run_name=r["name"], tags=r["tags"] | {KEY: r["key"]})
        params = [Param(k, json.dumps(v) if not isinstance(v, str) else v) for k, v in r["params"].items()]
        metrics = [Metric(k.replace("@", "_at_"), float(v), now, 0) for k, v in r["metrics"].items()]
        for i in range(0, max(len(params), len(metrics)), 100):
            client.log_batch(run.info.run_id, metrics=metrics[i:i + 100], params=params[i:i + 100])
        client.set_terminated(run.info.run_id)
    return len(new), len(logged), uri
