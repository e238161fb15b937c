"""One contract, every backend: the same semantics for ordering, errors, timeouts, empty
input, generators and large arrays (in the style of CPython's test_concurrent_futures)."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from parlearn.errors import PoolClosedError, TaskTimeoutError
from parlearn.parallel import Failure, Pool, Results
from tests import tasks

BACKENDS = [
    "serial",
    "threads",
    "processes",
    "async",
    pytest.param("ray", marks=[pytest.mark.ray, pytest.mark.slow]),
]


class Kit:
    """A pool plus the right flavour (plain or coroutine) of each test task."""

    def __init__(self, name: str, pool: Pool) -> None:
        self.name = name
        self.pool = pool

    def fn(self, f: Callable[[Any], Any]) -> Callable[[Any], Any]:
        return tasks.SYNC_TO_ASYNC[f] if self.name == "async" else f  # type: ignore[return-value]

    def map(self, f: Callable[[Any], Any], items: Any, **kwargs: Any) -> list[Any]:
        return self.pool.map(self.fn(f), items, **kwargs)


@pytest.fixture(scope="module", params=BACKENDS)
def kit(request: pytest.FixtureRequest) -> Iterator[Kit]:
    name = request.param
    if name == "ray":
        ray = pytest.importorskip("ray")
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    pool = Pool(name, workers=None if name in ("serial", "async") else 2)
    yield Kit(name, pool)
    pool.close()
    if name == "ray":
        ray.shutdown()


def test_results_in_input_order(kit: Kit) -> None:
    assert kit.map(tasks.square, range(500)) == [x * x for x in range(500)]


def test_unordered_gives_every_result(kit: Kit) -> None:
    out = kit.map(tasks.square, range(500), ordered=False)
    assert sorted(out) == [x * x for x in range(500)]


def test_empty_input(kit: Kit) -> None:
    assert kit.map(tasks.square, []) == []
    assert list(kit.pool.imap(kit.fn(tasks.square), iter(()))) == []


def test_fixed_chunksize(kit: Kit) -> None:
    assert kit.map(tasks.square, range(50), chunksize=7) == [x * x for x in range(50)]


def test_generator_is_read_lazily(kit: Kit) -> None:
    pulled = 0

    def source() -> Iterator[int]:
        nonlocal pulled
        for i in itertools.count():
            pulled += 1
            yield i

    stream = kit.pool.imap(kit.fn(tasks.square), source())
    first = list(itertools.islice(stream, 20))
    stream.close()  # type: ignore[attr-defined]
    assert first == [x * x for x in range(20)]
    # Bounded read-ahead: never the whole (infinite) generator.
    assert pulled < 200_000


def test_error_raises_original_type_with_index(kit: Kit) -> None:
    with pytest.raises(ValueError, match="bad item 7") as info:
        kit.map(tasks.fail_on_seven, range(20))
    notes = getattr(info.value, "__notes__", [])
    if notes:  # Python >= 3.11
        assert any("item 7" in note for note in notes)
    if kit.name in ("processes", "ray"):
        cause = info.value.__cause__
        assert cause is None or "fail_on_seven" in str(cause)


def test_errors_collect_keeps_every_other_result(kit: Kit) -> None:
    out = kit.map(tasks.fail_on_seven, range(20), errors="collect")
    assert isinstance(out, Results)
    assert len(out) == 20
    assert [f.index for f in out.failures] == [7]
    assert isinstance(out[7], Failure)
    assert isinstance(out[7].exception, ValueError)
    assert [v for i, v in enumerate(out) if i != 7] == [x * x for x in range(20) if x != 7]
    assert not out.ok


def test_timeout_fails_only_the_slow_item(kit: Kit) -> None:
    started = time.monotonic()
    out = kit.map(tasks.sleep_on_three, range(8), timeout=0.5, errors="collect")
    took = time.monotonic() - started
    assert [f.index for f in out.failures] == [3]
    assert isinstance(out[3].exception, TaskTimeoutError)
    assert isinstance(out[3].exception, TimeoutError)
    assert [v for i, v in enumerate(out) if i != 3] == [0, 1, 2, 4, 5, 6, 7]
    assert took < 5.0, f"timeout took {took:.1f} s to act"


def test_timeout_raises_by_default(kit: Kit) -> None:
    with pytest.raises(TaskTimeoutError):
        kit.map(tasks.sleep_on_three, range(5), timeout=0.5)


def test_large_arrays(kit: Kit) -> None:
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(300_000) for _ in range(4)]  # 2.4 MB each
    assert kit.map(tasks.array_sum, arrays) == pytest.approx([float(a.sum()) for a in arrays])


def test_same_seed_same_numbers_whatever_the_workers(kit: Kit) -> None:
    expected = [tasks.seeded_draw(s) for s in range(40)]
    assert kit.map(tasks.seeded_draw, range(40)) == expected


def test_progress_callback_counts_every_item(kit: Kit) -> None:
    seen: list[tuple[int, int | None]] = []
    kit.map(tasks.square, range(30), progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (30, 30)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_closed_pool_says_so() -> None:
    pool = Pool("threads", workers=2)
    pool.close()
    with pytest.raises(PoolClosedError, match="closed"):
        pool.map(tasks.square, [1])


def test_resident_function_serves_many_calls(kit: Kit) -> None:
    with kit.pool.resident(kit.fn(tasks.square)) as run:
        for start in (0, 100, 200):
            assert run.map(range(start, start + 50)) == [x * x for x in range(start, start + 50)]
        assert list(run.imap(range(5), chunksize=2)) == [0, 1, 4, 9, 16]
        outcome = run.map(range(10), errors="collect")
        assert outcome == [x * x for x in range(10)]
    with pytest.raises(PoolClosedError, match="resident"):
        run.map([1])
    assert kit.map(tasks.square, [3]) == [9]  # the pool itself stays open


def test_resident_function_errors_stay_per_call(kit: Kit) -> None:
    with kit.pool.resident(kit.fn(tasks.fail_on_seven)) as run:
        with pytest.raises(ValueError, match="bad item 7"):
            run.map(range(10))
        assert run.map(range(7)) == [x * x for x in range(7)]


# ``meanwhile``: the caller's own work, overlapping the workers'.


@pytest.mark.parametrize("count", [0, 2, 50])  # nothing, the scatter path, the scheduled path
def test_meanwhile_runs_once_in_the_calling_thread(kit: Kit, count: int) -> None:
    threads: list[int] = []

    def mine() -> None:
        threads.append(threading.get_ident())

    assert kit.map(tasks.square, range(count), meanwhile=mine) == [x * x for x in range(count)]
    assert threads == [threading.get_ident()]
    threads.clear()
    with kit.pool.resident(kit.fn(tasks.square)) as run:
        assert list(run.imap(range(count), meanwhile=mine)) == [x * x for x in range(count)]
    assert threads == [threading.get_ident()]


@pytest.mark.parametrize("count", [2, 50])
def test_meanwhile_runs_while_the_items_do(kit: Kit, count: int, tmp_path: Path) -> None:
    """Each item waits for a file that only ``meanwhile`` makes: had it run after the items
    (or before they were sent), they would have given up waiting."""
    if kit.name in ("serial", "async"):
        pytest.skip(f"the {kit.name} backend runs items in the caller's thread")
    marker = tmp_path / "made-meanwhile"
    items = [str(marker)] * count
    assert kit.map(tasks.saw_file, items, meanwhile=marker.touch) == [True] * count


def test_an_error_in_meanwhile_stops_the_call_and_the_pool_goes_on(kit: Kit) -> None:
    def broken() -> None:
        raise RuntimeError("the caller's own work failed")

    for count in (2, 50):
        with pytest.raises(RuntimeError, match="own work failed"):
            kit.map(tasks.square, range(count), meanwhile=broken)
    assert kit.map(tasks.square, range(10)) == [x * x for x in range(10)]


def test_meanwhile_must_be_callable(kit: Kit) -> None:
    with pytest.raises(TypeError, match="meanwhile must be a function"):
        kit.map(tasks.square, [1], meanwhile="later")  # type: ignore[arg-type]
