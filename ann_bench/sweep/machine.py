"""What a run needs to be compared across machines: CPU, cores, memory, versions, commit."""

from __future__ import annotations

import functools
import importlib.metadata
import platform
import subprocess
from pathlib import Path

import psutil

from ..host import cpu_model
from ..threads import available_cores

_DISTRIBUTIONS = ("numpy", "scipy", "h5py")  # plus the adapter's own library, recorded per run


def versions(extra: tuple[str, ...] = ()) -> dict[str, str]:
    out = {"python": platform.python_version()}
    for dist in (*_DISTRIBUTIONS, *extra):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            pass
    return out


@functools.cache
def git_commit() -> str | None:
    try:
        root = Path(__file__).resolve().parents[2]
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True, timeout=5)
        return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "") if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def describe(node: str | None = None) -> dict:
    """This machine; ``node``: its name in a cluster (default: the host name)."""
    return {
        "cpu": cpu_model(),
        "cores_available": available_cores(),
        "cores_logical": psutil.cpu_count(logical=True),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "platform": platform.platform(),
        "hostname": platform.node(),
        "node": node or platform.node(),
    }
