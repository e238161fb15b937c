"""The processes backend's fast path for a call of at most ``workers`` items, one per chunk
(``Backend.scatter``): every item straight to an idle worker, results read in order. It must
give what the scheduled path gives -- values, errors, crashes -- and step aside when it cannot."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psutil
import pytest

from parlearn.errors import WorkerCrashedError
from parlearn.parallel import Pool
from parlearn.parallel._processes import ProcessesBackend
from tests import tasks


@pytest.fixture
def pool() -> Iterator[Pool]:
    with Pool("processes", workers=2) as p:
        yield p


@pytest.fixture
def scatters(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Each scatter call: True when it ran the items, False when it stepped aside."""
    calls: list[bool] = []
    original = ProcessesBackend.scatter

    def spy(self: ProcessesBackend, job: Any, chunks: Any, meanwhile: Any = None) -> Any:
        outcomes = original(self, job, chunks, meanwhile)
        calls.append(outcomes is not None)
        return outcomes

    monkeypatch.setattr(ProcessesBackend, "scatter", spy)
    return calls


@pytest.mark.parametrize("items", [[3, 4], [4, 3], [7]])
def test_a_call_of_at_most_workers_items_is_scattered_and_ordered(
    pool: Pool, scatters: list[bool], items: list[int]
) -> None:
    assert pool.map(tasks.square, items) == [x * x for x in items]
    assert list(pool.imap(tasks.square, items, chunksize=1)) == [x * x for x in items]
    assert scatters == [True, True]


def test_results_come_back_whichever_worker_finishes_last(pool: Pool) -> None:
    """The slow item first, then second: the wait order (last finisher first) never decides
    which results are returned or in what order."""
    with pool.resident(tasks.sleep_then_echo) as run:
        for delays in ([0.2, 0.0], [0.0, 0.2], [0.0, 0.0], [0.1, 0.1]):
            assert run.map(delays) == delays


def test_a_crash_in_a_scattered_item_names_it_and_the_pool_goes_on(
    pool: Pool, scatters: list[bool]
) -> None:
    zombies_before = _zombies()  # others' (a Ray test's) are not this pool's to reap
    started = time.monotonic()
    with pytest.raises(WorkerCrashedError) as info:
        pool.map(tasks.kill_self_on_five, [1, 5], chunksize=1)
    assert time.monotonic() - started < 5.0
    assert info.value.items == [1] and info.value.running == 1
    out = pool.map(tasks.kill_self_on_five, [5, 2], errors="collect")
    assert out[1] == 2 and isinstance(out.failures[0].exception, WorkerCrashedError)
    assert pool.map(tasks.square, [2, 3]) == [4, 9]
    assert scatters[0] is True
    assert _zombies() <= zombies_before


def _zombies() -> set[int]:
    found = set()
    for child in psutil.Process().children(recursive=True):
        try:
            if child.status() == psutil.STATUS_ZOMBIE:
                found.add(child.pid)
        except psutil.NoSuchProcess:
            continue
    return found


def test_an_error_in_a_scattered_item_is_raised_or_collected(pool: Pool) -> None:
    with pytest.raises(ValueError, match="bad item 7"):
        pool.map(tasks.fail_on_seven, [7, 1])
    out = pool.map(tasks.fail_on_seven, [1, 7], errors="collect")
    assert out[0] == 1 and isinstance(out.failures[0].exception, ValueError)


def test_it_steps_aside_for_a_timeout_or_a_busy_pool(pool: Pool, scatters: list[bool]) -> None:
    assert pool.map(tasks.square, [1, 2], timeout=30) == [1, 4]
    assert scatters == [False]  # a timeout needs per-item tracking: the scheduled path
    with ThreadPoolExecutor(1) as other_caller:
        slow = other_caller.submit(pool.map, tasks.sleep_then_echo, [0.5, 0.5, 0.5])
        time.sleep(0.2)  # its items are running: no worker is idle
        assert pool.map(tasks.square, [5]) == [25]
        assert slow.result(timeout=30) == [0.5, 0.5, 0.5]
    assert scatters == [False, False]


def test_bigger_calls_and_chunked_calls_take_the_scheduled_path(
    pool: Pool, scatters: list[bool]
) -> None:
    assert pool.map(tasks.square, range(3)) == [0, 1, 4]
    assert pool.map(tasks.square, [1, 2], chunksize=2) == [1, 4]
    assert scatters == []
