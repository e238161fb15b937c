"""Functions the tests run in workers (pickled by value, see conftest)."""

from __future__ import annotations

import ctypes
import os
import signal
import time
from typing import Any

import numpy as np


def square(x: int) -> int:
    return x * x


def fail_on_seven(x: int) -> int:
    if x == 7:
        raise ValueError(f"bad item {x}")
    return x * x


def sleep_on_three(x: int) -> int:
    if x == 3:
        time.sleep(10)
    return x


def sleep_then_echo(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def kill_self_on_five(x: int) -> int:
    if x == 5:
        os.kill(os.getpid(), signal.SIGKILL)
    return x


def segfault_on_five(x: int) -> int:
    if x == 5:
        ctypes.string_at(0)  # reads address 0: SIGSEGV
    return x


def hog_memory_on_two(x: int) -> int:
    if x == 2:
        block = np.ones(400 * 2**20 // 8)  # 400 MiB, touched
        time.sleep(10)
        return int(block[0])
    return x


def saw_file(path: str) -> bool:
    """Whether ``path`` appears within 10 seconds (made by the caller while this item runs)."""
    deadline = time.monotonic() + 10
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def array_sum(a: np.ndarray) -> float:
    return float(a.sum())


def describe(a: Any) -> tuple[str, str | None]:
    return type(a).__name__, getattr(a, "segment_name", None)


def seeded_draw(seed: int) -> float:
    return float(np.random.default_rng(seed).standard_normal())


# Coroutine twins, for the async backend.


async def asquare(x: int) -> int:
    return square(x)


async def afail_on_seven(x: int) -> int:
    return fail_on_seven(x)


async def asleep_on_three(x: int) -> int:
    import asyncio

    if x == 3:
        await asyncio.sleep(10)
    return x


async def aarray_sum(a: np.ndarray) -> float:
    return array_sum(a)


async def aseeded_draw(seed: int) -> float:
    return seeded_draw(seed)


SYNC_TO_ASYNC = {
    square: asquare,
    fail_on_seven: afail_on_seven,
    sleep_on_three: asleep_on_three,
    array_sum: aarray_sum,
    seeded_draw: aseeded_draw,
}


class Unpickled:
    """Counts, per process, how many times an instance was rebuilt from a pickle; calling it
    returns (process id, that count, item): shows whether a worker got the function again.
    (The count lives in the environment: this module is pickled by value, so its class and
    globals are rebuilt with every pickle.)"""

    def __init__(self) -> None:
        self.tag = "state"  # pickle calls __setstate__ only for a non-empty state

    def __setstate__(self, state: dict[str, Any]) -> None:
        os.environ["PARLEARN_TEST_REBUILT"] = str(_rebuilt() + 1)
        self.__dict__.update(state)

    def __call__(self, x: int) -> tuple[int, int, int]:
        return os.getpid(), _rebuilt(), x


def _rebuilt() -> int:
    return int(os.environ.get("PARLEARN_TEST_REBUILT", "0"))


def double_bytes(b: bytes) -> bytes:
    return b * 2


def arrays_of_every_kind(seed: int) -> list[Any]:
    """Results a worker sends back: each dtype kind, order, shape and write flag."""
    rng = np.random.default_rng(seed)
    frozen = rng.random(4)
    frozen.flags.writeable = False
    return [
        rng.random((3, 4)),
        rng.random((3, 4)).astype(np.float32),
        rng.integers(-5, 5, size=6, dtype=np.int8),
        np.arange(6, dtype=np.uint64).reshape(2, 3),
        (rng.random(3) + 1j * rng.random(3)).astype(np.complex64),
        np.array([True, False, True]),
        np.asfortranarray(rng.random((3, 2))),
        rng.random((4, 6))[::2, ::3],  # not contiguous
        np.array(2.5),  # 0-d
        np.empty((0, 5)),
        np.array(["2026-11-22", "2027-01-01"], dtype="datetime64[D]"),
        np.array([(1, 2.0)], dtype=[("a", "i4"), ("b", "f8")]),
        np.array([{"x": 1}, None], dtype=object),
        frozen,
    ]


def rows_of(data: Any) -> Any:
    """A view of a shared input array: it goes back as a reference to the same segment."""
    return data[2:5]


def describe_array(array: Any) -> tuple[Any, ...]:
    """What a worker sees of an array it was sent."""
    return (
        type(array).__name__,
        array.dtype.str,
        array.shape,
        array.flags.writeable,
        array.flags.f_contiguous and not array.flags.c_contiguous,
        array.tolist(),
    )
