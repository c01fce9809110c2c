"""Small HDF5 helpers shared by every stage: atomic writes, JSON attributes, string columns."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Iterator

import h5py
import numpy as np
import pandas as pd

from .errors import NO_ROOM, DataError, write_error
from .files import temporary

STR = h5py.string_dtype("utf-8")


@contextlib.contextmanager
def atomic_h5(path: Path) -> Iterator[h5py.File]:
    """Write to ``<path>.tmp-<pid>`` and rename on success: a crash never leaves a half file."""
    path = Path(path)
    tmp = temporary(path)
    try:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            f = h5py.File(tmp, "w")
        except OSError as exc:  # not writable, or full before the first byte (the file may exist by now)
            raise write_error(path, exc) from None
        try:
            with f:
                yield f
            os.replace(tmp, path)
        except OSError as exc:  # the disk filled or went read-only mid-write (HDF5 reports it as OSError)
            if exc.errno in NO_ROOM:
                raise write_error(path, exc) from None
            raise
    finally:
        with contextlib.suppress(OSError):  # on a read-only disk there is nothing to remove
            tmp.unlink(missing_ok=True)


def _owner_alive(pid_text: str) -> bool:
    import psutil

    return pid_text.isdigit() and psutil.pid_exists(int(pid_text))


def remove_stale_temporaries(root: Path) -> list[Path]:
    """Half-written files of killed writers under ``root`` (``*.tmp-<pid>`` whose pid is gone)."""
    removed = []
    for tmp in Path(root).rglob("*.tmp-*") if Path(root).is_dir() else []:
        if not _owner_alive(tmp.name.rsplit(".tmp-", 1)[-1]):
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed


def job_dir_prefix() -> str:
    """Temporary job folders are named after their owner, so orphans can be recognised."""
    return f"ann-bench-run-{os.getpid()}-"


def remove_orphan_job_dirs(tmp_root: Path) -> list[Path]:
    """Job folders of sweeps that were killed (their owner's pid is gone)."""
    import shutil

    removed = []
    for d in Path(tmp_root).glob("ann-bench-run-*"):
        parts = d.name.split("-")
        if d.is_dir() and len(parts) >= 4 and not _owner_alive(parts[3]):
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d)
    return removed


def open_h5(path: Path, what: str) -> h5py.File:
    """Open for reading, turning a missing or corrupt file into a clear error."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{what} file {path} does not exist.")
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise DataError(f"{path} is not a readable HDF5 file ({exc}); delete it and rebuild it.") from None


def set_json(obj: h5py.HLObject, key: str, value) -> None:
    obj.attrs[key] = json.dumps(value, sort_keys=True, default=str)


def get_json(obj: h5py.HLObject, key: str, default=None):
    raw = obj.attrs.get(key)
    return default if raw is None else json.loads(raw)


def write_frame(group: h5py.Group, df: pd.DataFrame) -> None:
    """Store a DataFrame as one dataset per column (strings as UTF-8, nullable ints with -1)."""
    group.attrs["columns"] = json.dumps(list(df.columns))
    for col in df.columns:
        s = df[col]
        if pd.api.types.is_bool_dtype(s):
            group.create_dataset(col, data=s.to_numpy(dtype=bool))
        elif isinstance(s.dtype, pd.Int64Dtype):
            group.create_dataset(col, data=s.fillna(-1).to_numpy(dtype=np.int64), compression="gzip")
            group[col].attrs["nullable"] = True
        elif pd.api.types.is_integer_dtype(s):
            group.create_dataset(col, data=s.to_numpy(), compression="gzip")
        elif pd.api.types.is_float_dtype(s):
            group.create_dataset(col, data=s.to_numpy(), compression="gzip")
        else:
            group.create_dataset(col, data=s.fillna("").astype(str).to_numpy(dtype=object), dtype=STR, compression="gzip")


def read_frame(group: h5py.Group) -> pd.DataFrame:
    cols = {}
    for col, ds in group.items():
        data = ds[()]
        if ds.dtype.kind == "O":
            data = np.array([x.decode() if isinstance(x, bytes) else x for x in data], dtype=object)
        elif ds.attrs.get("nullable"):
            data = pd.array(np.where(data < 0, None, data), dtype="Int64")
        cols[col] = data
    order = group.attrs.get("columns")
    df = pd.DataFrame(cols)
    return df[list(json.loads(order))] if order is not None else df
