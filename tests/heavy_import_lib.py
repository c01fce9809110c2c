"""Stands in for a library with a heavy import (used by tests/plugin_adapters.py)."""

import time

import numpy as np

RUNTIME = np.ones(300 * 2**20, dtype=np.uint8)  # 300 MB, touched, so resident
_compiled = False


def compile() -> None:
    """A one-off warm-up (a JIT compilation): slow the first time only."""
    global _compiled
    if not _compiled:
        time.sleep(1.0)
        _compiled = True
