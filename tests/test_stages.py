"""The pipeline's stages depend one way (data -> embeddings -> workloads -> sweep -> results ->
analysis) and the stages that do not train never import torch. The capabilities built on them
sit where they read from: the streaming replay (stream) runs adapters like the sweep and is read
by the analysis; the tuner (tune) reads result files."""

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "ann_bench"
ORDER = ["data", "embeddings", "workloads", "sweep", "stream", "results", "tune", "analysis"]


def _imported_stages(path: Path, stage: str) -> set[str]:
    """Stages a module imports (absolute ``ann_bench.X`` or relative ``..X``/``from .. import X``)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            depth = path.relative_to(PACKAGE).parts.__len__() - 1  # packages between ann_bench and the module
            if node.level == 0 and node.module and node.module.startswith("ann_bench."):
                parts = node.module.split(".")[1:]
            elif node.level > depth:  # reaches ann_bench itself
                parts = (node.module or "").split(".") if node.module else [a.name for a in node.names]
            else:
                continue
            out.update(p for p in parts[:1] if p in ORDER)
            if not node.module:
                out.update(a.name for a in node.names if a.name in ORDER)
        elif isinstance(node, ast.Import):
            out.update(a.name.split(".")[1] for a in node.names if a.name.startswith("ann_bench.") and a.name.split(".")[1] in ORDER)
    return out - {stage}


def test_no_stage_imports_a_later_one():
    wrong = []
    for stage in ORDER:
        for path in (PACKAGE / stage).rglob("*.py"):
            for other in _imported_stages(path, stage):
                if ORDER.index(other) > ORDER.index(stage):
                    wrong.append(f"{path.relative_to(PACKAGE)} imports {other}")
    assert not wrong, wrong


def test_the_stages_that_do_not_train_never_import_torch():
    code = ("import sys, ann_bench.sweep.runner, ann_bench.sweep.worker, ann_bench.sweep.adapters, "
            "ann_bench.results.table, ann_bench.results.compare, ann_bench.analysis.report, ann_bench.cli, ann_bench.workloads, "
            "ann_bench.workloads.build, ann_bench.stream.run, ann_bench.stream.replay, ann_bench.analysis.stream; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
