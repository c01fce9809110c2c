"""Exact top-k search in PyTorch, on the CPU or a GPU: ground truth on an accelerator
(``workloads build --device cuda``) and the ``torch-exact`` adapter.

The base is copied to the device once. A block of queries is multiplied by one tile of the base
at a time (full float32: TF32 is turned off, so a GPU product rounds like a CPU one, only in
another order) and each tile's best ``k`` are folded into a running top-k on the device, so
memory stays at one tile of scores per block. Scores are :mod:`~ann_bench.exact_search`'s:
larger is nearer, ``ip`` the inner product, ``l2`` ``2<q, x> - |x|^2``.

Imported only where torch is wanted (it is slow to import, and the stages that do not train
never import it otherwise).
"""

from __future__ import annotations

import subprocess

import numpy as np
import torch

from .errors import ConfigError
from .exact_search import SPACES, excluded_cells, query_bar
from .host import cpu_model

# one block's tile of scores: cache-sized on a CPU; on a GPU large, as each tile's top-k selection
# costs more than its product, and the tile is sized by the block's real rows (benchmarks/gpu_tiles.py
# on an H100: 601 queries x 1M items in 10.4 ms at these defaults, 18.2 ms at 4,096 x 32,768)
SCORE_BYTES = {"cpu": 8 << 20, "cuda": 2 << 30}
QUERY_BLOCK = {"cpu": 512, "cuda": 1024}


def device(name: str) -> torch.device:
    """``name`` as a torch device ('cpu', 'cuda', 'cuda:1'), or a one-line error saying why it
    cannot be used here."""
    try:
        dev = torch.device(name)
    except (RuntimeError, TypeError):
        raise ConfigError(f"device '{name}' is not a torch device: use cpu, cuda or cuda:N.") from None
    if dev.type not in ("cpu", "cuda"):
        raise ConfigError(f"device '{name}': only cpu and cuda are supported.")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            build = f"built for CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU-only build"
            raise ConfigError(f"device '{name}': no CUDA GPU is usable here (torch {torch.__version__}, {build}); "
                              "run on a machine with a GPU and a CUDA build of torch, or use --device cpu.")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ConfigError(f"device '{name}': this machine has {torch.cuda.device_count()} CUDA device(s).")
    return dev


def _driver() -> str | None:
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=10)
        return out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else None
    except (OSError, subprocess.SubprocessError):
        return None


def facts(dev: torch.device) -> dict:
    """What a result measured on ``dev`` needs to be compared: torch, and the GPU, its memory,
    CUDA and the driver, or the CPU, the width of torch's kernels on it (``AVX2``, ``AVX512``: they
    round differently) and torch's threads."""
    out = {"device": str(dev), "torch": torch.__version__}
    if dev.type == "cpu":
        out |= {"cpu": cpu_model(), "cpu_kernels": torch.backends.cpu.get_cpu_capability(), "threads": torch.get_num_threads()}
    if dev.type == "cuda":
        props = torch.cuda.get_device_properties(dev)
        out |= {"gpu": props.name, "gpu_memory_gb": round(props.total_memory / 2**30, 1),
                "gpu_multiprocessors": props.multi_processor_count, "cuda": torch.version.cuda, "driver": _driver()}
    return out


def synchronize(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


class Base:
    """The base vectors on ``dev``, searched exactly in ``space`` ('ip' or 'l2')."""

    def __init__(self, base: np.ndarray, space: str, dev: torch.device):
        if space not in SPACES:
            raise ValueError(f"space must be one of {SPACES}, not {space!r}")
        torch.set_float32_matmul_precision("highest")  # no TF32: full float32 products on a GPU
        self.space, self.dev = space, dev
        self.x = torch.from_numpy(np.ascontiguousarray(base, dtype=np.float32)).to(dev)
        self.n = len(base)
        self.sq = (self.x * self.x).sum(dim=1) if space == "l2" else None
        synchronize(dev)

    def memory_mb(self) -> float:
        """What the base takes on its device."""
        extra = self.sq.numel() if self.sq is not None else 0
        return (self.x.numel() + extra) * 4 / 2**20

    def _scores(self, q: torch.Tensor, start: int, stop: int) -> torch.Tensor:
        s = q @ self.x[start:stop].T
        if self.sq is not None:
            s = s.mul_(2).sub_(self.sq[start:stop])  # 2<q, x> - |x|^2
        return s

    def search(self, queries: np.ndarray, k: int, *, exclude=None, query_block: int | None = None,
               tile: int | None = None, progress: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` ids (int64) and scores (float32) per query, best first; rows with fewer than
        ``k`` candidates (``exclude``: per query one id, -1 for none, or an array of ids) end in
        -1 ids and -inf scores. Exact ties come in the library's order, not by id."""
        kind = self.dev.type
        k = min(k, self.n)
        nq = len(queries)
        query_block = max(1, query_block or QUERY_BLOCK[kind])
        tile = max(k, tile or SCORE_BYTES[kind] // (4 * min(query_block, max(1, nq))))
        ids = np.empty((nq, k), dtype=np.int64)
        out = np.empty((nq, k), dtype=np.float32)
        with torch.inference_mode(), query_bar(nq, progress) as bar:
            for start in range(0, nq, query_block):
                stop = min(start + query_block, nq)
                q = torch.from_numpy(np.ascontiguousarray(queries[start:stop], dtype=np.float32)).to(self.dev)
                cells = None
                if exclude is not None:
                    rows, cols = excluded_cells(exclude, start, stop)
                    cells = (torch.from_numpy(rows).to(self.dev), torch.from_numpy(cols).to(self.dev))
                best_s = torch.full((stop - start, 0), -torch.inf, device=self.dev)
                best_i = torch.zeros((stop - start, 0), dtype=torch.int64, device=self.dev)
                for b in range(0, self.n, tile):
                    e = min(b + tile, self.n)
                    s = self._scores(q, b, e)
                    if cells is not None and len(cells[0]):
                        inside = (cells[1] >= b) & (cells[1] < e)
                        s[cells[0][inside], cells[1][inside] - b] = -torch.inf
                    ts, ti = torch.topk(s, min(k, e - b), dim=1)
                    best_s, pick = torch.topk(torch.cat([best_s, ts], dim=1), min(k, best_s.shape[1] + ts.shape[1]), dim=1)
                    best_i = torch.gather(torch.cat([best_i, ti + b], dim=1), 1, pick)
                best_i[best_s == -torch.inf] = -1  # excluded cells: fewer than k answers
                ids[start:stop], out[start:stop] = best_i.cpu().numpy(), best_s.cpu().numpy()
                bar.update(stop - start)
        return ids, out

    def search_one(self, v: torch.Tensor, k: int) -> np.ndarray:
        """Ids of one query (a 1-D float32 tensor in host memory), best first: moved to the
        device, scored against the whole base, and the answer brought back."""
        with torch.inference_mode():
            q = v.to(self.dev)
            s = self.x @ q
            if self.sq is not None:
                s = s.mul_(2).sub_(self.sq)
            return torch.topk(s, min(k, self.n)).indices.cpu().numpy()
