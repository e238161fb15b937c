"""Measuring one concurrency model on a workload, in this process.

::

    measure(spec) ── sequential ─► warm-up (first items) ─► repeats of a plain loop
                  └─ threads / asyncio / processes, for each worker count n:
                       Pool(backend, n) ─► start-up: one trivial item per worker (timed apart)
                                        ─► warm-up: one item per worker (imports, connections)
                                        ─► repeats of pool.map over all items
                                        ─► asyncio: close the loop's connections; close the pool

The sequential model is the reference: a plain ``for`` loop, no engine. The others run through
``parlearn.parallel`` (its ``threads``, ``async`` and ``processes`` backends). Worker start-up is
measured but not included in the timed repeats: a pool is started once and reused, so start-up
is a fixed cost, reported on its own.

A task that raises stops the measurement with :class:`TaskError` (naming the item, the error and
where it was raised), unless the workload tolerates failures (network errors): then failures
are counted.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import inspect
import reprlib
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from parlearn import parallel
from parlearn.errors import ParlearnError
from parlearn.lab.workload import Workload, import_paths, resolve
from parlearn.parallel import Failure

__all__ = ["BACKEND_OF", "MeasureSpec", "Point", "TaskError", "measure"]

BACKEND_OF = {"threads": "threads", "asyncio": "async", "processes": "processes"}
# Items the sequential warm-up runs: enough to import what the task imports and open a first
# connection, few enough to cost little.
SEQUENTIAL_WARMUP_ITEMS = 2


@dataclass(frozen=True)
class MeasureSpec:
    """Measure ``mode`` on ``workload`` at each worker count in ``workers``, ``repeats`` times."""

    workload: Workload
    mode: str
    workers: tuple[int, ...] = (1,)
    repeats: int = 3
    warmup: bool = True

    def __post_init__(self) -> None:
        if self.mode != "sequential" and self.mode not in BACKEND_OF:
            raise ValueError(
                f"unknown mode {self.mode!r}; choose sequential, threads, asyncio or processes"
            )
        if self.repeats < 1:
            raise ValueError(f"repeats must be >= 1, got {self.repeats}")
        if not self.workers or min(self.workers) < 1:
            raise ValueError(f"worker counts must be >= 1, got {list(self.workers)}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "workload": self.workload.to_dict(),
            "mode": self.mode,
            "workers": list(self.workers),
            "repeats": self.repeats,
            "warmup": self.warmup,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MeasureSpec:
        return cls(
            Workload.from_dict(data["workload"]),
            data["mode"],
            tuple(data["workers"]),
            data["repeats"],
            data["warmup"],
        )


@dataclass(frozen=True)
class Point:
    """One model at one worker count: wall seconds and this process's CPU seconds per repeat,
    worker start-up (None for sequential), failed items, and a fingerprint of the results."""

    mode: str
    workers: int
    seconds: tuple[float, ...]
    cpu_seconds: tuple[float, ...]
    startup: float | None
    failures: int
    first_failure: str | None
    fingerprint: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "workers": self.workers,
            "seconds": list(self.seconds),
            "cpu_seconds": list(self.cpu_seconds),
            "startup": self.startup,
            "failures": self.failures,
            "first_failure": self.first_failure,
            "fingerprint": self.fingerprint,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Point:
        values = dict(data)
        values["seconds"] = tuple(values["seconds"])
        values["cpu_seconds"] = tuple(values["cpu_seconds"])
        return cls(**values)


class TaskError(ParlearnError):
    """The workload's task raised on an item; the message names the item, the error and where."""

    def __init__(self, message: str, *, index: int, error_type: str) -> None:
        super().__init__(message)
        self.index = index
        self.error_type = error_type

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_task_error, (str(self), self.index, self.error_type))

    @classmethod
    def describe(
        cls, exc: BaseException, *, function: str, index: int, item: Any, mode: str, tb: str
    ) -> TaskError:
        where = _innermost_frame(tb)
        return cls(
            f"{function} raised {type(exc).__name__}: {exc} on item {index} "
            f"({reprlib.repr(item)}) in the {mode} run{where}; fix the function or that item",
            index=index,
            error_type=type(exc).__name__,
        )


def _rebuild_task_error(message: str, index: int, error_type: str) -> TaskError:
    return TaskError(message, index=index, error_type=error_type)


def _innermost_frame(tb: str) -> str:
    frames = [line.strip() for line in tb.splitlines() if line.strip().startswith('File "')]
    if not frames:
        return ""
    # 'File "/path/mod.py", line 5, in fn' -> ' (at /path/mod.py:5 in fn)'
    parts = frames[-1].split('"')
    rest = parts[-1].replace(", line ", ":").replace(", in ", " in ")
    return f" (at {parts[1]}{rest})"


# --------------------------------------------------------------------------- measuring


def measure(spec: MeasureSpec) -> list[Point]:
    """Run the measurement ``spec`` describes in this process; one :class:`Point` per worker
    count (one for sequential)."""
    workload = spec.workload
    with import_paths(workload.import_paths):
        task = _bind(workload.function, workload.options)
        coroutine = (
            _bind(workload.coroutine_function, workload.options)
            if workload.coroutine_function
            else None
        )
        try:
            if spec.mode == "sequential":
                return [_measure_sequential(spec, task)]
            return [_measure_pool(spec, n, task, coroutine) for n in spec.workers]
        finally:
            if workload.cleanup:
                resolve(workload.cleanup)()


def _bind(target: str, options: dict[str, Any] | Any) -> Callable[[Any], Any]:
    fn = resolve(target)
    return functools.partial(fn, **options) if options else fn


def _measure_sequential(spec: MeasureSpec, task: Callable[[Any], Any]) -> Point:
    workload = spec.workload
    items = workload.items

    def run(batch: Sequence[Any]) -> list[Any]:
        if inspect.iscoroutinefunction(task):
            return asyncio.run(_await_each(task, batch, workload))
        return _loop(task, batch, workload)

    if spec.warmup:
        run(items[:SEQUENTIAL_WARMUP_ITEMS])
    seconds, cpu, fingerprint, failed = [], [], "", []
    for repeat in range(spec.repeats):
        wall0, cpu0 = time.perf_counter(), time.process_time()
        results = run(items)
        seconds.append(time.perf_counter() - wall0)
        cpu.append(time.process_time() - cpu0)
        if repeat == 0:
            fingerprint = _fingerprint(results)
        failed = [r for r in results if isinstance(r, Failure)]
    return _point(spec.mode, 1, seconds, cpu, None, failed, fingerprint)


def _loop(task: Callable[[Any], Any], items: Sequence[Any], workload: Workload) -> list[Any]:
    results: list[Any] = []
    for index, item in enumerate(items):
        try:
            results.append(task(item))
        except Exception as exc:
            results.append(_sequential_failure(exc, index, item, workload))
    return results


async def _await_each(
    task: Callable[[Any], Any], items: Sequence[Any], workload: Workload
) -> list[Any]:
    results: list[Any] = []
    for index, item in enumerate(items):
        try:
            results.append(await task(item))
        except Exception as exc:
            results.append(_sequential_failure(exc, index, item, workload))
    return results


def _sequential_failure(exc: Exception, index: int, item: Any, workload: Workload) -> Failure:
    tb = "".join(traceback.format_exception(exc))
    if not workload.tolerate_failures:
        raise TaskError.describe(
            exc, function=workload.function, index=index, item=item, mode="sequential", tb=tb
        ) from exc
    return Failure(index, exc, tb)


def _measure_pool(
    spec: MeasureSpec,
    workers: int,
    task: Callable[[Any], Any],
    coroutine: Callable[[Any], Any] | None,
) -> Point:
    workload, mode = spec.workload, spec.mode
    if mode == "asyncio":
        fn = coroutine or functools.partial(_blocking_in_coroutine, task)
        noop: Callable[[Any], Any] = _noop_coroutine
    else:
        fn = functools.partial(_run_coroutine, task) if inspect.iscoroutinefunction(task) else task
        noop = _noop
    items = list(workload.items)
    with parallel.Pool(BACKEND_OF[mode], workers=workers) as pool:
        started = time.perf_counter()
        pool.map(noop, range(pool.workers), chunksize=1)  # every worker up and running
        startup = time.perf_counter() - started
        try:
            if spec.warmup:
                _check(pool.map(fn, items[:workers], chunksize=1, errors="collect"), spec)
            seconds, cpu, fingerprint, failed = [], [], "", []
            for repeat in range(spec.repeats):
                wall0, cpu0 = time.perf_counter(), time.process_time()
                results = pool.map(fn, items, chunksize=workload.chunksize, errors="collect")
                seconds.append(time.perf_counter() - wall0)
                cpu.append(time.process_time() - cpu0)
                failed = _check(results, spec)
                if repeat == 0:
                    fingerprint = _fingerprint(results)
        finally:
            if mode == "asyncio" and workload.async_cleanup:
                pool.map(resolve(workload.async_cleanup), [None])
    return _point(mode, workers, seconds, cpu, startup, failed, fingerprint)


def _check(results: list[Any], spec: MeasureSpec) -> list[Failure]:
    failed = [r for r in results if isinstance(r, Failure)]
    if failed and not spec.workload.tolerate_failures:
        first = failed[0]
        tb = first.traceback or "".join(traceback.format_exception(first.exception))
        raise TaskError.describe(
            first.exception,
            function=spec.workload.function,
            index=first.index,
            item=spec.workload.items[first.index],
            mode=spec.mode,
            tb=tb,
        )
    return failed


def _point(
    mode: str,
    workers: int,
    seconds: list[float],
    cpu: list[float],
    startup: float | None,
    failed: list[Failure],
    fingerprint: str,
) -> Point:
    first = f"item {failed[0].index}: {failed[0].exception}" if failed else None
    return Point(
        mode, workers, tuple(seconds), tuple(cpu), startup, len(failed), first, fingerprint
    )


def _fingerprint(results: list[Any]) -> str:
    """A digest of the results, to check that every model returned the same."""
    return hashlib.sha256(repr(list(results)).encode()).hexdigest()[:16]


# Module-level, so the processes backend pickles them by reference.
def _noop(_: Any) -> None:
    return None


async def _noop_coroutine(_: Any) -> None:
    return None


def _run_coroutine(task: Callable[[Any], Any], item: Any) -> Any:
    """A coroutine function's task in a blocking model: one event loop per item."""
    return asyncio.run(task(item))


async def _blocking_in_coroutine(task: Callable[[Any], Any], item: Any) -> Any:
    """A blocking task in the asyncio model: it holds the event loop until it returns, so the
    items run one at a time, which is what blocking code inside ``async def`` does."""
    return task(item)
