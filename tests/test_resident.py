"""The processes backend's messages: resident functions shipped to each worker once and kept
until released, never lost when many jobs interleave on one pool, and large messages both
ways that never deadlock."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from parlearn.parallel import Pool
from tests import tasks


@pytest.fixture
def pool() -> Iterator[Pool]:
    with Pool("processes", workers=2) as p:
        yield p


def _rebuilt_per_worker(results: list[tuple[int, int, int]]) -> dict[int, set[int]]:
    seen: dict[int, set[int]] = {}
    for pid, rebuilt, _ in results:
        seen.setdefault(pid, set()).add(rebuilt)
    return seen


def test_resident_function_is_unpickled_once_per_worker(pool: Pool) -> None:
    with pool.resident(tasks.Unpickled()) as run:
        results = [r for _ in range(5) for r in run.map(range(20), chunksize=2)]
    assert [x for _, _, x in results] == list(range(20)) * 5
    # Every call on every worker saw the same, single copy of the function.
    assert all(counts == {1} for counts in _rebuilt_per_worker(results).values())


def test_plain_map_ships_the_function_on_every_call(pool: Pool) -> None:
    fn = tasks.Unpickled()
    results = [r for _ in range(5) for r in pool.map(fn, range(20), chunksize=2)]
    assert max(rebuilt for _, rebuilt, _ in results) > 1


def test_closing_a_resident_function_lets_a_new_one_ship(pool: Pool) -> None:
    with pool.resident(tasks.Unpickled()) as first:
        before = first.map(range(10), chunksize=1)
    with pool.resident(tasks.Unpickled()) as second:
        after = second.map(range(10), chunksize=1)
    # The second function is a new object in each worker: its count moved past the first's.
    assert min(r for _, r, _ in after) > min(r for _, r, _ in before)


def test_many_interleaved_jobs_on_one_pool(pool: Pool) -> None:
    # More concurrent jobs than a worker used to keep functions for: none may go missing.
    streams = [pool.imap(tasks.square, range(k, k + 40), chunksize=1) for k in range(8)]
    with pool.resident(tasks.square) as run:
        residents = [run.imap(range(k, k + 40), chunksize=1) for k in range(3)]
        results = [list(s) for s in itertools.chain(residents, streams)]
    expected = [[x * x for x in range(k, k + 40)] for k in (*range(3), *range(8))]
    assert results == expected


def test_resident_close_after_the_pool_is_harmless() -> None:
    pool = Pool("processes", workers=1)
    run = pool.resident(tasks.square)
    assert run.map([2, 3]) == [4, 9]
    pool.close()
    run.close()
    run.close()


@pytest.mark.timeout(60)
def test_large_items_and_large_results_never_deadlock(pool: Pool) -> None:
    # Messages larger than a pipe's buffer both ways: a worker blocked writing a big result
    # must never face a manager blocked writing the next big chunk to it.
    items = [bytes([i]) * 300_000 for i in range(12)]
    assert pool.map(tasks.double_bytes, items, chunksize=1) == [b * 2 for b in items]
    huge = [bytes([i]) * 3_000_000 for i in range(4)]  # past what a busy worker may be sent
    assert pool.map(tasks.double_bytes, huge, chunksize=1) == [b * 2 for b in huge]
    with pool.resident(tasks.double_bytes) as run:
        assert run.map(items[:6], chunksize=2) == [b * 2 for b in items[:6]]
