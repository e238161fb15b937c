from __future__ import annotations

import gc
import os
from collections.abc import Iterator

import cloudpickle
import pytest

from tests import tasks

# Worker processes may not have tests/ on their path: ship the helpers by value.
cloudpickle.register_pickle_by_value(tasks)

SHM_DIR = "/dev/shm"


def parlearn_segments() -> set[str]:
    if not os.path.isdir(SHM_DIR):
        return set()
    return {name for name in os.listdir(SHM_DIR) if name.startswith("parlearn_")}


@pytest.fixture(autouse=True)
def no_leaked_segments() -> Iterator[None]:
    """Every test: no parlearn shared-memory segment is left behind in /dev/shm."""
    before = parlearn_segments()
    yield
    gc.collect()
    leaked = parlearn_segments() - before
    assert not leaked, f"leaked shared-memory segments: {sorted(leaked)}"
