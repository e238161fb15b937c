"""What one backend call runs: a chunk of items through one function, and its outcome.

Every backend runs the same :func:`run_chunk` (or its async twin) so per-item semantics --
errors, timeouts, what a result looks like -- are written once. A chunk's outcome holds, for
each position in the chunk, either a value, a :class:`TaskFailure`, or "retry" (the item was
never finished because its worker was lost; the engine runs it again).
"""

from __future__ import annotations

import signal
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from parlearn.errors import TaskTimeoutError

__all__ = ["Chunk", "ChunkOutcome", "Job", "RemoteTraceback", "TaskFailure", "run_chunk"]


@dataclass(frozen=True)
class Job:
    """One ``map`` call: the function and the per-item settings every chunk shares.

    ``fn_key`` names the function where backends keep it (a process worker's cache, Ray's
    object store): a job's own id, or the key of a resident function (``Pool.resident``) that
    many calls share. A resident function outlives its jobs until ``Backend.release``."""

    id: int
    fn: Callable[[Any], Any]
    timeout: float | None = None
    fn_key: int = -1  # -1: the job's own id
    resident: bool = False

    @property
    def key(self) -> int:
        return self.id if self.fn_key < 0 else self.fn_key


@dataclass(frozen=True)
class Chunk:
    """Items sent together to one worker, with their positions in the input."""

    id: int
    indices: Sequence[int]  # a range for fresh items, a list for items run again
    items: list[Any]

    def __len__(self) -> int:
        return len(self.indices)


class RemoteTraceback(Exception):
    """Carries a worker's formatted traceback; chained as ``__cause__`` of a task's error."""

    def __init__(self, tb: str) -> None:
        super().__init__(tb)
        self.tb = tb

    def __str__(self) -> str:
        return f'\n"""\n{self.tb}"""'


@dataclass
class TaskFailure:
    """An item whose call raised: the exception and the traceback text where it ran."""

    exception: BaseException
    traceback: str


@dataclass
class ChunkOutcome:
    """Results of one chunk, by position: ``values[p]`` is valid unless p is a key of
    ``failures`` or is listed in ``retry``. ``seconds`` is the compute time in the worker."""

    values: list[Any]
    failures: dict[int, TaskFailure] = field(default_factory=dict)
    retry: list[int] = field(default_factory=list)
    seconds: float = 0.0

    # Positions in ``retry`` should run again one item per chunk: a worker died in this
    # chunk without saying which item it was running, so running them alone finds it.
    isolate: bool = False

    @classmethod
    def lost(
        cls,
        size: int,
        culprit: int | None,
        failure: TaskFailure,
        done: dict[int, Any] | None = None,
    ) -> ChunkOutcome:
        """Outcome of a chunk whose worker was lost while running position ``culprit``: that
        item fails, finished ones (``done``) stand, the others run again. With the culprit
        unknown, a single item is the culprit, and several are all run again in isolation."""
        done = done or {}
        values: list[Any] = [done.get(p) for p in range(size)]
        unfinished = [p for p in range(size) if p not in done]
        if culprit is None and len(unfinished) == 1:
            culprit = unfinished[0]
        if culprit is None:
            return cls(values=values, retry=unfinished, isolate=True)
        retry = [p for p in unfinished if p != culprit]
        return cls(values=values, failures={culprit: failure}, retry=retry)


def failure_from(exc: BaseException) -> TaskFailure:
    return TaskFailure(exc, "".join(traceback.format_exception(exc)))


class ItemCursor:
    """Where a running chunk is: its position and when that item started.

    Backends that watch for timeouts from outside (processes, threads) read it; the process
    backend keeps the same two numbers in shared memory instead.
    """

    __slots__ = ("position", "started")

    def __init__(self) -> None:
        self.position = -1
        self.started = 0.0

    def enter(self, position: int) -> None:
        self.started = time.monotonic()
        self.position = position


def run_chunk(
    fn: Callable[[Any], Any],
    items: Sequence[Any],
    *,
    timeout: float | None = None,
    on_item: Callable[[int], None] | None = None,
    stop: Callable[[], bool] | None = None,
    done: dict[int, Any] | None = None,
) -> ChunkOutcome:
    """Call ``fn`` on every item; never raises for a task's own exception.

    ``on_item(p)`` is called before position p starts (cursor updates, with start times; the
    process worker's shared slot when it runs with a timeout); ``stop()`` is checked
    between items so an abandoned chunk ends early; ``done`` (if given) receives each finished
    value as it is produced, so a watcher that gives up on the chunk keeps them.
    With ``timeout`` and when running on a thread's main interpreter thread, an alarm interrupts
    an item that runs too long (Python code only; a blocking C call cannot be interrupted).
    """
    if timeout is None and on_item is None and stop is None and done is None:
        return _run_plain(fn, items)
    alarm = timeout is not None and _can_use_alarm()
    values: list[Any] = [None] * len(items)
    failures: dict[int, TaskFailure] = {}
    retry: list[int] = []
    t0 = time.perf_counter()
    for p, item in enumerate(items):
        if stop is not None and stop():
            retry.extend(range(p, len(items)))
            break
        if on_item is not None:
            on_item(p)
        started = time.perf_counter()
        try:
            if alarm:
                assert timeout is not None
                values[p] = _call_with_alarm(fn, item, timeout)
            else:
                values[p] = fn(item)
            if timeout is not None and time.perf_counter() - started > timeout:
                raise TaskTimeoutError(_timeout_message(timeout, time.perf_counter() - started))
        except _Alarm:  # fired in the instant between return and disarm
            failures[p] = failure_from(
                TaskTimeoutError(_timeout_message(timeout or 0.0, time.perf_counter() - started))
            )
            values[p] = None
            continue
        except Exception as exc:
            failures[p] = failure_from(exc)
            values[p] = None
            continue
        if done is not None:
            done[p] = values[p]
    return ChunkOutcome(values, failures, retry, time.perf_counter() - t0)


def _run_plain(fn: Callable[[Any], Any], items: Sequence[Any]) -> ChunkOutcome:
    """The common case -- no timeout, nobody watching from this process -- with as little as
    possible between calls: tiny tasks are dominated by this loop's own cost. Nothing records
    which item is running (that alone would cost half the loop); if the process dies here, the
    chunk's items are run again one by one to find the culprit (``ChunkOutcome.isolate``)."""
    values: list[Any] = []
    append = values.append
    failures: dict[int, TaskFailure] = {}
    count = len(items)
    start = 0
    t0 = time.perf_counter()
    while start < count:
        try:
            for p in range(start, count):
                append(fn(items[p]))
            break
        except Exception as exc:
            failed = len(values)  # the item whose call raised
            failures[failed] = failure_from(exc)
            append(None)
            start = failed + 1
    return ChunkOutcome(values, failures, [], time.perf_counter() - t0)


def _timeout_message(timeout: float, took: float) -> str:
    return (
        f"the item ran {took:.3g} s, past timeout={timeout:g} s; raise timeout or make the "
        "task shorter"
    )


def _can_use_alarm() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


class _Alarm(BaseException):
    """Raised by the SIGALRM handler; a BaseException so a task's ``except Exception`` cannot
    swallow it."""


def _raise_alarm(signum: int, frame: object) -> None:
    raise _Alarm


def _call_with_alarm(fn: Callable[[Any], Any], item: Any, timeout: float) -> Any:
    # The caller's own alarm (a test runner's timeout, say) is honoured: when it comes first it
    # stays armed and ours is not set (the item is then timed after it returns); otherwise ours
    # replaces it for the call and it is re-armed afterwards with the time it had left.
    outer_delay, outer_interval = signal.getitimer(signal.ITIMER_REAL)
    if outer_delay and outer_delay <= timeout:
        return fn(item)
    previous = signal.signal(signal.SIGALRM, _raise_alarm)
    started = time.perf_counter()
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        return fn(item)
    except _Alarm:
        raise TaskTimeoutError(_timeout_message(timeout, time.perf_counter() - started)) from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer_delay:
            left = outer_delay - (time.perf_counter() - started)
            signal.setitimer(signal.ITIMER_REAL, max(left, 1e-6), outer_interval)
