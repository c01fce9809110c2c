"""The CPU kernels training runs on, pinned to AVX2 so that one seed gives the same vectors on
every x86-64 machine with AVX2.

Three libraries under torch pick their kernels by the CPU they find, and kernels of other widths
or blockings sum in other orders: torch's own (``ATEN_CPU_CAPABILITY``), oneDNN's
(``ONEDNN_MAX_CPU_ISA``) and MKL's matrix products (``MKL_CBWR``: its conditional numerical
reproducibility mode, one code path whatever the CPU). Measured on an AVX-512 machine
(``benchmarks/training_kernels.py``; README, "Two-tower model"), each of the three changed the
trained vectors when set alone; with all three, two runs gave the same vectors, as did runs with
the default kernels. Each is read when its library starts,
so they are set before torch is imported; where torch is already imported, the CPU is not x86-64
with AVX2, or the user set a variable already, that one is left as it is. The bundle records what
training ran with (``cpu_kernels`` and ``pinned`` in its device facts).
"""

from __future__ import annotations

import os
import sys

from ..host import pins_in_effect, pins_to_set

PINS = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_CBWR": "AVX2"}


def pin() -> dict[str, str]:
    """Pin this process's kernels to AVX2 where possible; returns the variables it set."""
    if "torch" in sys.modules:
        return {}
    new = pins_to_set(PINS)
    os.environ.update(new)
    return new


def pinned() -> dict[str, str]:
    """The kernel variables set in this process (by :func:`pin` or by the user)."""
    return pins_in_effect(PINS)
