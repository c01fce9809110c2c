from pathlib import Path

import pytest

from ann_bench.threads import set_threads

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "movielens"

import torch  # noqa: E402,F401  (imported first so set_threads pins its pool too)

set_threads(1)  # tests share a 2-core machine; keep every library to one thread


@pytest.fixture
def shared_movielens() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared/movielens is not present")
    return SHARED
