"""Replay result files: one HDF5 file per workload and algorithm, written whole and renamed.

``results/stream/<workload>/<algorithm>.h5`` holds the run's definition (what was replayed, on
which index: a changed definition means the file is replayed again), its status (``complete``,
or ``failed`` with the reason and the end of the worker's stderr, the steps done by then kept),
the worker's meta (library, machine, build) and one row per step (``steps``). Next to them,
``truth-<key>.h5`` caches the exact live answers every library is scored against.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..h5util import atomic_h5, get_json, open_h5, read_frame, set_json, write_frame

COMPLETE, FAILED = "complete", "failed"


def result_path(root: Path, workload: str, algorithm: str) -> Path:
    return Path(root) / workload / f"{algorithm.lower()}.h5"


def key(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def write(path: Path, definition: dict, meta: dict, steps: list[dict], status: str, reason: str | None = None,
          stderr: str = "") -> None:
    with atomic_h5(path) as f:
        set_json(f, "definition", definition)
        set_json(f, "meta", meta)
        f.attrs["status"] = status
        f.attrs["reason"] = reason or ""
        f.attrs["stderr_tail"] = stderr
        write_frame(f.create_group("steps"), pd.DataFrame(steps))


def _of(f, definition: dict) -> bool:
    return get_json(f, "definition") == json.loads(json.dumps(definition, sort_keys=True, default=str))


def state(path: Path, definition: dict) -> str | None:
    """``complete`` or ``failed`` for a file of this definition; None if absent, unreadable or of another."""
    try:
        with open_h5(path, "stream result") as f:
            return str(f.attrs["status"]) if _of(f, definition) else None
    except Exception:  # a missing, foreign or damaged file is replayed again, never trusted
        return None


def read(path: Path) -> tuple[dict, pd.DataFrame]:
    """A result file's attributes (definition, meta, status, reason) and its steps."""
    with open_h5(path, "stream result") as f:
        attrs = {"definition": get_json(f, "definition"), "meta": get_json(f, "meta"),
                 "status": str(f.attrs["status"]), "reason": str(f.attrs["reason"])}
        return attrs, read_frame(f["steps"])


def read_all(root: Path) -> pd.DataFrame:
    """Every step of every replay under ``root``, with workload, algorithm, strategy and status."""
    frames = []
    for path in sorted(Path(root).glob("*/*.h5")):
        if path.name.startswith("truth-"):
            continue
        attrs, steps = read(path)
        d = attrs["definition"]
        frames.append(steps.assign(workload=d["workload"], algorithm=d["algorithm"], adapter=d["adapter"],
                                   updates=attrs["meta"].get("updates", ""), status=attrs["status"],
                                   n_initial=attrs["meta"].get("n_initial", np.nan),
                                   initial_build_s=attrs["meta"].get("build_s", np.nan)))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def write_truth(path: Path, neighbors: np.ndarray, definition: dict) -> None:
    with atomic_h5(path) as f:
        set_json(f, "definition", definition)
        f.create_dataset("neighbors", data=neighbors, compression="gzip")


def truth_ok(path: Path, definition: dict) -> bool:
    """Whether ``path`` holds the exact answers of this definition (else they are computed again)."""
    try:
        with open_h5(path, "stream ground truth") as f:
            return _of(f, definition) and "neighbors" in f
    except Exception:
        return False
