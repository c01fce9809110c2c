from pathlib import Path

import pytest

from ann_bench.threads import set_threads

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "movielens"

set_threads(1)  # tests share a 2-core machine; keep every library to one thread


@pytest.fixture
def shared_movielens() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared/movielens is not present")
    return SHARED
