"""What this machine is, for records compared across machines: its CPU model and instruction sets."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def _cpuinfo_field(name: str) -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.split(":", 1)[0].strip() == name:
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def cpu_model() -> str:
    return _cpuinfo_field("model name") or platform.processor() or platform.machine()


def cpu_flags() -> frozenset[str]:
    """The instruction-set flags Linux reports for the first CPU (empty elsewhere)."""
    return frozenset((_cpuinfo_field("flags") or "").split())


def x86_avx2() -> bool:
    """An x86-64 CPU with AVX2 and FMA: one that runs the kernels written for Intel's Haswell,
    which every x86-64 server of the last decade has."""
    return platform.machine().lower() in ("x86_64", "amd64") and {"avx2", "fma"} <= cpu_flags()


def pins_to_set(pins: dict[str, str]) -> dict[str, str]:
    """Of the environment variables ``pins`` (pinning libraries to Haswell-class kernels), those to
    set: none where the CPU cannot run AVX2 code, none the user set already."""
    return {k: v for k, v in pins.items() if k not in os.environ} if x86_avx2() else {}


def pins_in_effect(pins: dict[str, str]) -> dict[str, str]:
    """The variables of ``pins`` set in this process, by a pin or by the user."""
    return {k: os.environ[k] for k in pins if k in os.environ}
