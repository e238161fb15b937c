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


def parlearn_segments(pid: int | None = None) -> set[str]:
    """parlearn's segments in /dev/shm created by process ``pid`` (default: this one).

    Segment names carry the creator's pid, so other programs on the machine do not count."""
    if not os.path.isdir(SHM_DIR):
        return set()
    prefix = f"parlearn_{os.getpid() if pid is None else pid}_"
    return {name for name in os.listdir(SHM_DIR) if name.startswith(prefix)}


@pytest.fixture(autouse=True)
def no_leaked_segments() -> Iterator[None]:
    """Every test: no parlearn shared-memory segment of this process is left in /dev/shm."""
    before = parlearn_segments()
    yield
    gc.collect()
    leaked = parlearn_segments() - before
    assert not leaked, f"leaked shared-memory segments: {sorted(leaked)}"
