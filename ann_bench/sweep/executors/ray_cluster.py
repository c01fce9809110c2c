"""A Ray cluster: every run is a Ray task that runs the same isolated worker on its node.

- Each node measures ``runs_per_node`` runs at a time (default 1: benchmarks on a busy node
  are noise), each pinned to its share of the node's cores when there are several. Nodes that
  offer Ray no CPU (a head node kept for scheduling) measure nothing.
- Workloads reach the nodes through Ray's object store, put there once per sweep and fetched
  at most once per node, which keeps them in a cache folder by content hash. A node that sees
  the driver's path with the same stored content hash (a shared filesystem: asked once per
  node and workload) reads it there, and when every node does, nothing is put at all.
- A node lost mid-run (its raylet gone) sends the run to another node, up to
  ``max_node_losses`` times; a run that fails inside its build (crash, timeout, memory) comes
  back as a failed run, as it does locally, and is not retried.
- The worker's files come back to the driver, which alone writes result files.

Ray is an optional extra: ``pip install 'ann-bench[ray]'``. Every node needs this package
and the same library versions as the driver (a node that differs refuses the run, saying so).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections import Counter, deque
from dataclasses import replace
from pathlib import Path

from ...errors import AnnBenchError, ConfigError
from ...workloads import format as wformat
from .. import machine, registry
from . import Done, Task, new_job_dir, run_task
from .local import core_sets

NODE_CACHE_ENV = "ANN_BENCH_NODE_CACHE"


def _ray():
    try:
        import ray
    except ImportError:
        raise AnnBenchError("--ray needs Ray: pip install 'ann-bench[ray]' (or `make install-ray`).") from None
    return ray


def node_cache(node_id: str) -> Path:
    """Where a node keeps the workloads shipped to it (``$ANN_BENCH_NODE_CACHE``, else the
    temporary folder), one folder per node so that raylets sharing a host do not share it."""
    root = Path(os.environ.get(NODE_CACHE_ENV) or Path(tempfile.gettempdir()) / "ann-bench-node-cache")
    return root / node_id[:16]


def sees(path: str, whash: str) -> bool:
    """Whether this node reads the driver's workload at the driver's path (a shared filesystem)."""
    return Path(path).is_file() and wformat.stored_hash(Path(path)) == whash


def _local_workload(path: str, whash: str, shipped: list, node_id: str) -> str:
    """A path to the workload on this node: the driver's when nothing was shipped (the node sees
    it), else the cached copy, or one fetched from the object store now (written whole, then
    renamed into place)."""
    import ray

    if not shipped:
        return path
    cached = node_cache(node_id) / f"{whash}.hdf5"
    if not cached.is_file():
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(f".tmp-{os.getpid()}")
        tmp.write_bytes(ray.get(shipped[0]))
        os.replace(tmp, cached)
    return str(cached)


def on_node(task: Task, slot: int, runs_per_node: int, shipped: list) -> dict:
    """The Ray task: measure ``task`` on this node; return the worker's files and its outcome."""
    import ray

    node_id = ray.get_runtime_context().get_node_id()
    cls = registry.get(task.job["algorithm"])
    here = machine.versions((cls.distribution,))
    if here != task.versions:
        differ = ", ".join(f"{k} {here.get(k)} (driver {v})" for k, v in task.versions.items() if here.get(k) != v)
        return {"files": {}, "code": None, "node": node_id,
                "reason": f"node {node_id[:12]} ({machine.describe()['hostname']}) has {differ}: install the driver's versions there"}
    job = dict(task.job, workload=_local_workload(task.job["workload"], task.workload_hash, shipped, node_id))
    cpus = core_sets(sorted(os.sched_getaffinity(0)), runs_per_node)[slot] if runs_per_node > 1 else None
    job_dir, code, reason = run_task(replace(task, job=job), {"node": node_id} | ({"cpus": cpus} if cpus else {}))
    try:
        files = {p.name: p.read_bytes() for p in job_dir.iterdir() if p.is_file() and p.name not in ("job.json", "status.json")}
    finally:
        shutil.rmtree(job_dir, ignore_errors=True)
    return {"files": files, "code": code, "reason": reason, "node": node_id}


class RayExecutor:
    """Runs on the nodes of the Ray cluster at ``address`` (``auto``, ``ray://host:port``, or
    ``local`` to start one on this machine)."""

    def __init__(self, address: str, *, runs_per_node: int = 1, threads: int | None = None, ship: str = "auto",
                 max_node_losses: int = 3, on_start=None):
        ray = _ray()
        self._ray = ray
        self._owned = not ray.is_initialized()
        if self._owned:  # plugin adapters are found on the nodes as they are here
            env = {"env_vars": {k: os.environ[k] for k in ("ANN_BENCH_PLUGINS",) if k in os.environ}}
            if address == "local":
                ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False, runtime_env=env)
            else:
                ray.init(address=address, log_to_driver=False, runtime_env=env)
        self._errors = ray.exceptions
        self._lost = (ray.exceptions.NodeDiedError, ray.exceptions.WorkerCrashedError, ray.exceptions.TaskUnschedulableError,
                      ray.exceptions.ObjectLostError, ray.exceptions.LocalRayletDiedError)
        self._fn = ray.remote(num_cpus=0, max_retries=0)(on_node)
        self._sees = ray.remote(num_cpus=0, max_retries=0)(sees)
        self.runs_per_node, self.ship, self.max_node_losses, self.on_start = runs_per_node, ship, max_node_losses, on_start
        nodes = self._alive()
        if not nodes:
            raise ConfigError(f"the Ray cluster at {address} has no node offering CPUs to run on.")
        if min(nodes.values()) < runs_per_node:
            raise ConfigError(f"--ray-runs-per-node {runs_per_node}: a node of this cluster has {min(nodes.values()):g} CPUs; "
                              "each run needs one at least.")
        self.threads_all = threads or max(1, int(min(nodes.values())) // runs_per_node)
        self._free: dict[str, list[int]] = {}
        self._refresh(nodes)
        self._running: dict = {}  # ObjectRef -> (task, node, slot, started)
        self._shipped: dict[str, object] = {}  # workload hash -> its bytes' ObjectRef
        self._seen: dict[tuple[str, str], bool] = {}  # (node, workload hash) -> the node reads the driver's path
        self._sent: dict[str, set] = {}  # workload hash -> the nodes it was shipped to
        self._sizes: dict[str, int] = {}  # workload hash -> bytes put
        self._retry: deque[Task] = deque()
        self._losses: Counter = Counter()
        self.ran_on: dict[int, list[str]] = {}  # task key -> the nodes it was sent to, in order

    def _alive(self) -> dict[str, float]:
        return {n["NodeID"]: n["Resources"].get("CPU", 0.0) for n in self._ray.nodes()
                if n["Alive"] and n["Resources"].get("CPU", 0.0) > 0}

    def _refresh(self, nodes: dict[str, float] | None = None) -> None:
        """Slots of nodes that joined; none for nodes that left."""
        nodes = self._alive() if nodes is None else nodes
        busy = Counter(node for _, node, _, _ in getattr(self, "_running", {}).values())
        for node in list(self._free):
            if node not in nodes:
                del self._free[node]
        for node in nodes:
            if node not in self._free and not busy[node]:
                self._free[node] = list(range(self.runs_per_node))

    def free(self) -> int:
        return max(0, sum(map(len, self._free.values())) - len(self._retry))

    def busy(self) -> bool:
        return bool(self._running or self._retry)

    def submit(self, task: Task) -> None:
        node = max(self._free, key=lambda n: len(self._free[n]))  # the least loaded node
        slot = self._free[node].pop()
        strategy = self._ray.util.scheduling_strategies.NodeAffinitySchedulingStrategy(node, soft=False)
        shipped = [] if self._node_sees(task, node, strategy) else [self._put(task)]
        if shipped:
            self._sent.setdefault(task.workload_hash, set()).add(node)
        ref = self._fn.options(scheduling_strategy=strategy).remote(task, slot, self.runs_per_node, shipped)
        self._running[ref] = (task, node, slot, time.time())
        self.ran_on.setdefault(task.key, []).append(node)
        if self.on_start:
            self.on_start(task, node)

    def _node_sees(self, task: Task, node: str, strategy) -> bool:
        """Whether ``node`` reads the workload at the driver's path (``ship='auto'``; asked once)."""
        if self.ship != "auto":
            return False
        key = (node, task.workload_hash)
        if key not in self._seen:
            try:
                self._seen[key] = self._ray.get(self._sees.options(scheduling_strategy=strategy).remote(
                    task.job["workload"], task.workload_hash), timeout=120)
            except self._errors.RayError:  # lost or slow: ship it; the run itself meets the loss
                return False
        return self._seen[key]

    def shipping(self) -> str:
        """How the workloads reached the nodes, in one line."""
        in_place = len({node for (node, _), seen in self._seen.items() if seen})
        sent = len(set().union(*self._sent.values()))
        size = sum(self._sizes.values()) / 2**20
        return (f"workloads read at the driver's path on {in_place} node(s), shipped through Ray's object store to {sent} "
                f"({len(self._shipped)} workload(s), {size:.1f} MB put)")

    def _put(self, task: Task):
        """The workload's bytes in the object store, put once per sweep."""
        if task.workload_hash not in self._shipped:
            data = Path(task.job["workload"]).read_bytes()
            self._shipped[task.workload_hash], self._sizes[task.workload_hash] = self._ray.put(data), len(data)
        return self._shipped[task.workload_hash]

    def wait(self, timeout: float) -> list[Done]:
        self._refresh()
        while self._retry and any(self._free.values()):
            self.submit(self._retry.popleft())
        if not self._running:
            time.sleep(min(timeout, 0.5))
            return []
        ready, _ = self._ray.wait(list(self._running), num_returns=1, timeout=timeout)
        out = []
        for ref in ready:
            task, node, slot, started = self._running.pop(ref)
            if node in self._free:
                self._free[node].append(slot)
            try:
                result = self._ray.get(ref)
            except self._lost as exc:
                self._losses[task.key] += 1
                if self._losses[task.key] < self.max_node_losses:
                    self._free.pop(node, None)  # gone; it gets slots again if it comes back
                    self._retry.append(task)
                    continue
                result = {"files": {}, "code": None,
                          "reason": f"its node was lost {self._losses[task.key]} times (last: {type(exc).__name__})"}
            except self._errors.RayError as exc:
                result = {"files": {}, "code": None, "reason": f"Ray could not run it on node {node[:12]}: {str(exc).strip().splitlines()[-1]}"}
            job_dir = new_job_dir(task.job)
            for name, data in result["files"].items():
                (job_dir / name).write_bytes(data)
            out.append(Done(task.key, job_dir, result["code"], result["reason"], started))
        return out

    def close(self) -> None:
        for ref in self._running:
            self._ray.cancel(ref, force=True)
        self._running.clear()
        if self._owned:
            self._ray.shutdown()
