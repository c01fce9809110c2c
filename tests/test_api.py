"""The README's library example, run as written (on a small generated workload saved under
the example's name in a fresh project folder, since CI has no trained model)."""

import re
import shutil
from pathlib import Path

import pandas as pd

from sweep_fixtures import workload  # noqa: F401  (pytest fixture)

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_readme_library_example_runs(workload, tmp_path, monkeypatch, capsys):
    text = README.read_text()
    section = text[text.index("### Use it as a library"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    home = tmp_path / "project"
    (home / "datasets" / "workloads").mkdir(parents=True)
    shutil.copy(workload, home / "datasets" / "workloads" / "ml-latest-small.dot.u2i.ip.hdf5")
    monkeypatch.chdir(home)
    monkeypatch.delenv("ANN_BENCH_HOME", raising=False)
    scope = {}
    exec(compile(code, "README.md", "exec"), scope)
    w, rows, df = scope["w"], scope["rows"], scope["df"]
    assert w.metric == "ip" and w.base.shape == (1_000, 8) and len(w.queries) == 40
    assert isinstance(rows, pd.DataFrame) and list(rows["query_params"]) == ["ef=10", "ef=40", "ef=160"]
    assert rows["recall@10"].is_monotonic_increasing and (rows["qps_single"] > 0).all()
    assert len(df) == len(rows) and (home / "results" / "mine").is_dir()
    assert "ip (1000, 8) (40, 8)" in capsys.readouterr().out
