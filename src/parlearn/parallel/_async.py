"""The ``async`` backend: coroutine functions on one event loop, many at a time.

::

    caller thread ──submit(chunk)──► run_coroutine_threadsafe ──► event loop thread
                                                                   │ Semaphore(workers)
                                                                   ├─ await fn(item)  ┐ concurrently,
                                                                   ├─ await fn(item)  ┘ wait_for(timeout)
                                                                   └─ …

``workers`` is the concurrency limit: how many coroutines may be awaiting at once (open
connections, say). Timeouts cancel the coroutine itself, so they are exact.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from typing import Any

from parlearn.errors import TaskTimeoutError
from parlearn.parallel._backend import Backend, resolve_workers
from parlearn.parallel._task import Chunk, ChunkOutcome, Job, TaskFailure, failure_from

__all__ = ["AsyncBackend"]

# Concurrent coroutines by default: enough for hundreds of slow requests, few enough not to
# exhaust a server's connection limit (aiohttp's connector defaults to 100).
DEFAULT_CONCURRENCY = 128


class AsyncBackend(Backend):
    name = "async"
    fixed_chunksize = 1
    in_flight_per_worker = 1

    def __init__(self, workers: int | None = None) -> None:
        super().__init__(resolve_workers(workers, DEFAULT_CONCURRENCY))
        self._loop = asyncio.new_event_loop()
        self._semaphore: asyncio.Semaphore | None = None
        self._thread = threading.Thread(target=self._serve, name="parlearn-async", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._semaphore = asyncio.Semaphore(self.workers)
        self._loop.run_forever()
        # Cancel whatever is left so no coroutine is silently dropped mid-flight.
        pending = asyncio.all_tasks(self._loop)
        for task in pending:
            task.cancel()
        if pending:
            self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self._loop.close()

    def submit(self, job: Job, chunk: Chunk) -> Future[ChunkOutcome]:
        self._check_open()
        return asyncio.run_coroutine_threadsafe(self._run_chunk(job, chunk), self._loop)

    async def _run_chunk(self, job: Job, chunk: Chunk) -> ChunkOutcome:
        started = time.perf_counter()
        results = await asyncio.gather(*(self._run_item(job, item) for item in chunk.items))
        values: list[Any] = []
        failures: dict[int, TaskFailure] = {}
        for position, (ok, value) in enumerate(results):
            if ok:
                values.append(value)
            else:
                values.append(None)
                failures[position] = value
        return ChunkOutcome(values, failures, [], time.perf_counter() - started)

    async def _run_item(self, job: Job, item: Any) -> tuple[bool, Any]:
        assert self._semaphore is not None
        async with self._semaphore:
            started = time.monotonic()
            try:
                awaitable = _call(job.fn, item)
                if job.timeout is None:
                    return True, await awaitable
                return True, await asyncio.wait_for(awaitable, job.timeout)
            except asyncio.TimeoutError as raised:
                if job.timeout is None or time.monotonic() - started < job.timeout:
                    return False, failure_from(raised)  # the task's own TimeoutError
                exc = TaskTimeoutError(
                    f"the coroutine ran past timeout={job.timeout:g} s and was cancelled; "
                    "raise timeout or make the task shorter"
                )
                return False, TaskFailure(exc, "")
            except Exception as exc:
                return False, failure_from(exc)

    def close(self) -> None:
        if self._closed:
            return
        super().close()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()


def _call(fn: Callable[[Any], Any], item: Any) -> Awaitable[Any]:
    result = fn(item)
    if not inspect.isawaitable(result):
        raise TypeError(
            f"backend='async' needs a coroutine function (async def), but {fn!r} returned "
            f"{type(result).__name__}; use backend='threads' for blocking functions"
        )
    return result
