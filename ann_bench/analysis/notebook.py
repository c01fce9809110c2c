"""Execute the trade-off notebook headless (``make notebook``), outputs kept in a copy."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import AnnBenchError


def execute(src: Path, dst: Path, *, home: Path, timeout: int = 600) -> Path:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(src, as_version=4)
    os.environ["ANN_BENCH_HOME"] = str(home)  # the kernel inherits it
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(home)}})
    try:
        client.execute()
    except CellExecutionError as exc:
        raise AnnBenchError(f"{src} failed while executing: {str(exc).strip().splitlines()[-1]}") from None
    finally:
        dst.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, dst)
    return dst
