"""Row blocks, tiles, shared-memory placement, read-ahead."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest

from parlearn import parallel
from parlearn.learn._blocks import placed, plan_blocks, tiles, to_shared
from parlearn.learn._execution import resolve_backend
from parlearn.learn._prefetch import prefetch


def test_blocks_cover_rows_in_order_whatever_the_size() -> None:
    for n in (0, 1, 7, 1000, 12345):
        blocks = plan_blocks(n, 800, block_bytes=8000)
        flat = [i for start, stop in blocks for i in range(start, stop)]
        assert flat == list(range(n))
        assert all(stop - start <= 10 for start, stop in blocks)


def test_tiles_cover_a_block() -> None:
    covered = [i for t in tiles(5, 1005, 80, tile_bytes=800) for i in range(t.start, t.stop)]
    assert covered == list(range(5, 1005))


def test_to_shared_copies_once_and_keeps_shared_arrays() -> None:
    X = np.arange(12.0).reshape(4, 3)
    shared = to_shared(X)
    try:
        assert shared.segment_name is not None
        np.testing.assert_array_equal(shared, X)
        assert to_shared(shared) is shared
    finally:
        shared.close()


def test_to_shared_finds_nan_and_removes_its_segment() -> None:
    X = np.ones((100, 3))
    X[57, 1] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        to_shared(X, check_finite="X")
    # the conftest fixture checks that no segment is left behind


def test_placed_checks_x_on_every_backend() -> None:
    X = np.ones((5, 2))
    X[0, 0] = np.inf
    for backend in ("serial", "processes"):
        with pytest.raises(ValueError, match="infinity"), placed(backend, X, check_finite="X"):
            pass


def test_auto_backend_is_serial_for_small_data() -> None:
    assert resolve_backend("auto", None, 1000) == ("serial", 1)
    assert resolve_backend("auto", 1, 10**12) == ("serial", 1)
    assert resolve_backend("threads", 3, 10) == ("threads", 3)


@pytest.mark.parametrize(
    ("backend", "workers", "message"),
    [
        ("gpu", None, "backend must be one of 'auto', 'serial'"),
        ("async", None, "backend must be one of"),
        ("auto", 0, "workers must be an int >= 1 or None, got 0"),
        ("processes", 2.5, "workers must be an int >= 1 or None, got 2.5"),
    ],
)
def test_bad_backend_or_workers(backend: str, workers: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        resolve_backend(backend, workers, 10)


def test_prefetch_keeps_order_and_reads_ahead() -> None:
    produced: list[int] = []

    def slow() -> Iterator[int]:
        for i in range(5):
            produced.append(i)
            yield i

    got = []
    for item in prefetch(slow()):
        time.sleep(0.01)
        assert len(produced) >= item + 1
        got.append(item)
    assert got == list(range(5))


def test_prefetch_raises_the_producers_error_at_its_place() -> None:
    def broken() -> Iterator[int]:
        yield 1
        raise OSError("disk gone")

    items = prefetch(broken())
    assert next(items) == 1
    with pytest.raises(OSError, match="disk gone"):
        next(items)


def test_prefetch_stops_its_thread_when_closed_early() -> None:
    closed = threading.Event()

    def endless() -> Iterator[int]:
        try:
            i = 0
            while True:
                yield i
                i += 1
        finally:
            closed.set()

    items = prefetch(endless())
    assert next(items) == 0
    items.close()
    assert closed.wait(5)
    assert not any(t.name == "parlearn-prefetch" for t in threading.enumerate())


def test_shared_arrays_stay_readable_by_workers() -> None:
    with placed("processes", np.arange(10.0)) as (shared,):
        assert isinstance(shared, parallel.SharedArray)
        assert parallel.map(float, [shared[3]], backend="serial") == [3.0]
