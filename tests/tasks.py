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
