"""The pure decisions: chunk sizes and the auto backend choice."""

from __future__ import annotations

import pytest

from parlearn.parallel._auto import choose_backend
from parlearn.parallel._chunking import MAX_STREAM_CHUNK, ChunkSizer


def test_first_chunks_are_single_items_then_sized_to_the_target() -> None:
    sizer = ChunkSizer(workers=2, target_seconds=0.05)
    assert sizer.next_size(1_000_000) == 1
    sizer.observe(1, 0.001)  # 1 ms per item
    assert sizer.next_size(1_000_000) == 50


def test_chunks_shrink_as_the_work_runs_out() -> None:
    sizer = ChunkSizer(workers=2, target_seconds=0.05)
    sizer.observe(10, 0.01)  # 1 ms per item: 50 on target
    assert sizer.next_size(1000) == 50
    assert sizer.next_size(200) == 25  # 200 / (2 workers * 4)
    assert sizer.next_size(40) == 5  # never below 5 ms of work


def test_tiny_items_go_in_a_few_chunks_per_worker() -> None:
    sizer = ChunkSizer(workers=2, target_seconds=0.05, total=100_000)
    sizer.observe(1000, 1e-4)  # 0.1 us per item
    assert sizer.next_size(100_000) == 12_500  # 4 chunks per worker: sending overlaps work
    assert sizer.next_size(10_000) == 12_500  # no guided shrinking below that


def test_streams_are_capped_so_memory_stays_bounded() -> None:
    sizer = ChunkSizer(workers=2, target_seconds=0.05)
    sizer.observe(10, 1e-9)
    assert sizer.next_size(None) == MAX_STREAM_CHUNK


def test_slow_items_go_one_at_a_time() -> None:
    sizer = ChunkSizer(workers=2, target_seconds=0.05)
    sizer.observe(1, 2.0)
    assert sizer.next_size(100) == 1


def test_fixed_chunksize_wins_and_is_checked() -> None:
    assert ChunkSizer(workers=2, target_seconds=0.05, fixed=7).next_size(10) == 7
    with pytest.raises(ValueError, match="chunksize must be a positive int, got -1"):
        ChunkSizer(workers=2, target_seconds=0.05, fixed=-1)


@pytest.mark.parametrize(
    ("situation", "expected"),
    [
        ({"is_coroutine": True}, "async"),
        ({"remaining": 0}, "serial"),
        ({"cores": 1}, "serial"),
        ({"remaining": 10, "per_item_seconds": 1e-3}, "serial"),  # 10 ms of work in all
        ({"per_item_seconds": 1e-7, "remaining": None}, "serial"),  # too cheap to ship
        ({"cpu_share": 0.05}, "threads"),  # waiting, not computing
        ({"cpu_share": 0.05, "remaining": 3, "per_item_seconds": 1e-3}, "serial"),
        ({}, "processes"),
        ({"remaining": None}, "processes"),
        ({"remaining": 20, "per_item_seconds": 0.01}, "processes"),  # 0.2 s, pool warm
        ({"remaining": 20, "per_item_seconds": 0.01, "processes_warm": False}, "serial"),
        ({"remaining": 200, "per_item_seconds": 0.01, "processes_warm": False}, "processes"),
    ],
)
def test_choose_backend(situation: dict[str, object], expected: str) -> None:
    args: dict[str, object] = {
        "is_coroutine": False,
        "cores": 2,
        "remaining": 200,
        "per_item_seconds": 0.01,
        "cpu_share": 1.0,
    }
    args.update(situation)
    assert choose_backend(**args) == expected  # type: ignore[arg-type]
