"""Where each stage reads and writes by default.

Everything lives under one project root (the current directory unless ``ANN_BENCH_HOME``
says otherwise) so that a run is self-contained and easy to delete or archive.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

# what a name may be before it becomes part of a path: no separators, no "..", no leading
# dot, nothing unprintable (letters of any script are fine)
_NAME = re.compile(r"[^\W][\w.,=+@-]*", re.UNICODE)
_MAX_NAME = 200


def safe_name(name, what: str) -> str:
    """``name`` if it can be one file or folder name inside its folder, else a ConfigError
    naming ``what``. Every name that becomes part of a path goes through here."""
    from .errors import ConfigError

    text = str(name)
    if not _NAME.fullmatch(text) or ".." in text or len(text) > _MAX_NAME:
        raise ConfigError(f"{what} {text!r} cannot name a file: use letters, digits and . , = + @ - _ "
                          f"(no '/', '\\', '..', leading dot or spaces; at most {_MAX_NAME} characters).")
    return text


def under(root: Path, *names: str, what: str = "name", suffix: str = "") -> Path:
    """``root/name1/name2...`` + ``suffix`` with every name checked by :func:`safe_name`:
    the path stays inside ``root``."""
    out = Path(root)
    for i, name in enumerate(names):
        out = out / (safe_name(name, what) + (suffix if i == len(names) - 1 else ""))
    return out


def home() -> Path:
    return Path(os.environ.get("ANN_BENCH_HOME", ".")).resolve()


def datasets_dir() -> Path:
    return home() / "datasets"


def movielens_dir() -> Path:
    """Cache of MovieLens archives: downloads land here; drop a zip or folder here to skip one."""
    return datasets_dir() / "movielens"


def prepared_dir() -> Path:
    return datasets_dir() / "prepared"


def models_dir() -> Path:
    return datasets_dir() / "models"


def results_dir() -> Path:
    return home() / "results"


def workloads_dir() -> Path:
    return datasets_dir() / "workloads"


def workload_files() -> list[Path]:
    """Built workloads, plus ann-benchmarks files dropped straight into ``datasets/``."""
    return sorted(workloads_dir().glob("*.hdf5")) + sorted(datasets_dir().glob("*.hdf5"))


def find_workload(name: str) -> Path:
    from .errors import DataError

    direct = Path(name)
    if direct.suffix in (".hdf5", ".h5") and direct.is_file():
        return direct
    for cand in (workloads_dir() / f"{name}.hdf5", datasets_dir() / f"{name}.hdf5"):
        if cand.is_file():
            return cand
    known = ", ".join(p.stem for p in workload_files()) or "none yet (run `ann-bench workloads build`)"
    raise DataError(f"no workload '{name}' in {workloads_dir()} or {datasets_dir()}. Known: {known}.")
