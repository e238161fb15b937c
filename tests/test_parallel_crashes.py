"""A worker that dies (SIGKILL, segfault, out of memory) raises WorkerCrashedError naming the
items it held, within seconds; the pool replaces it and stays usable."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from parlearn.errors import WorkerCrashedError
from parlearn.parallel import Pool
from tests import tasks

CRASHERS = [
    pytest.param(tasks.kill_self_on_five, "SIGKILL", id="sigkill"),
    pytest.param(tasks.segfault_on_five, "SIGSEGV", id="segfault"),
]


@pytest.fixture
def pool() -> Iterator[Pool]:
    with Pool("processes", workers=2) as p:
        yield p


@pytest.mark.parametrize(("task", "signal_name"), CRASHERS)
def test_crash_raises_within_seconds_and_names_items(
    pool: Pool, task: Callable[[int], int], signal_name: str
) -> None:
    started = time.monotonic()
    with pytest.raises(WorkerCrashedError) as info:
        pool.map(task, range(20), chunksize=4)
    assert time.monotonic() - started < 5.0
    error = info.value
    # The chunk [4, 5, 6, 7] died; its items ran again one by one, and item 5 died alone.
    assert error.running == 5
    assert error.items == [5]
    assert signal_name in str(error)
    assert "item 5" in str(error)


def test_crash_with_a_timeout_names_the_running_item_at_once(pool: Pool) -> None:
    # With a timeout the worker records each item as it starts: no rerun is needed.
    with pytest.raises(WorkerCrashedError) as info:
        pool.map(tasks.kill_self_on_five, range(20), chunksize=4, timeout=30)
    assert info.value.running == 5
    assert info.value.items == [4, 5, 6, 7]


def test_a_crash_that_does_not_recur_loses_nothing(pool: Pool, tmp_path: Path) -> None:
    marker = tmp_path / "crashed-once"

    def crash_once(x: int) -> int:
        if x == 5 and not marker.exists():
            marker.touch()
            os.kill(os.getpid(), signal.SIGKILL)
        return x

    assert pool.map(crash_once, range(20), chunksize=4) == list(range(20))


@pytest.mark.parametrize(("task", "signal_name"), CRASHERS)
def test_collect_keeps_all_other_results(
    pool: Pool, task: Callable[[int], int], signal_name: str
) -> None:
    out = pool.map(task, range(20), chunksize=4, errors="collect")
    assert [f.index for f in out.failures] == [5]
    assert isinstance(out[5].exception, WorkerCrashedError)
    assert [v for i, v in enumerate(out) if i != 5] == [i for i in range(20) if i != 5]


def test_results_delivered_before_a_crash_stand(pool: Pool) -> None:
    got: list[Any] = []
    with pytest.raises(WorkerCrashedError):
        for value in pool.imap(tasks.kill_self_on_five, range(20), chunksize=1):
            got.append(value)
    assert got == list(range(len(got)))  # what arrived is intact and in order


def test_pool_is_usable_after_a_crash_and_leaves_no_zombie(pool: Pool) -> None:
    me = psutil.Process()
    earlier = {c.pid for c in me.children(recursive=True)}  # other tests' (Ray's) processes
    with pytest.raises(WorkerCrashedError):
        pool.map(tasks.kill_self_on_five, range(10), chunksize=1)
    assert pool.map(tasks.square, range(10)) == [x * x for x in range(10)]
    zombies = [
        c
        for c in me.children(recursive=True)
        if c.pid not in earlier and c.status() == psutil.STATUS_ZOMBIE
    ]
    assert zombies == []


@pytest.mark.slow
def test_memory_limit_kills_the_worker() -> None:
    with Pool("processes", workers=2, max_worker_memory=200 * 2**20) as pool:
        started = time.monotonic()
        with pytest.raises(WorkerCrashedError, match="max_worker_memory") as info:
            pool.map(tasks.hog_memory_on_two, range(6), chunksize=1)
        assert time.monotonic() - started < 8.0
        assert info.value.running == 2
        # The replacement worker carries on.
        assert pool.map(tasks.square, range(4)) == [0, 1, 4, 9]


def test_closing_the_pool_stops_every_worker() -> None:
    pool = Pool("processes", workers=2)
    pool.map(tasks.square, range(10))
    pids = pool.backend.worker_pids()  # type: ignore[attr-defined]
    assert len(pids) == 2
    pool.close()
    for pid in pids:
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
