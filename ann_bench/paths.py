"""Where each stage reads and writes by default.

Everything lives under one project root (the current directory unless ``ANN_BENCH_HOME``
says otherwise) so that a run is self-contained and easy to delete or archive.
"""

from __future__ import annotations

import os
from pathlib import Path


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
