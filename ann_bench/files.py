"""Plain files written whole: under ``<name>.tmp-<pid>``, then renamed, so neither a kill nor a
full disk leaves half a file under the final name (HDF5 files: ``h5util.atomic_h5``)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from .errors import NO_ROOM, NOT_ALLOWED, write_error


def temporary(path: Path) -> Path:
    """Where ``path`` is written before it is renamed: ``<name>.tmp-<pid>``, so the temporaries
    of a writer that is gone can be told from a live one's."""
    path = Path(path)
    return path.with_name(f"{path.name}.tmp-{os.getpid()}")


def atomic_write(path: Path, write) -> None:
    """``write(file object)`` into ``path`` under a temporary name, then rename. OS errors pass
    through (the sweep worker turns a full disk into its exit code)."""
    tmp = temporary(path)
    try:
        with open(tmp, "wb") as fh:
            write(fh)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def write_bytes(path: Path, data: bytes) -> None:
    """``data`` into ``path`` whole, or one clear error naming it (a full or read-only disk)."""
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda fh: fh.write(data))
    except OSError as exc:
        if exc.errno in NO_ROOM | NOT_ALLOWED:
            raise write_error(path, exc) from None
        raise
