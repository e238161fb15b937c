"""Adaptive micro-batching: concurrent requests to one model become one vectorised call.

One :class:`MicroBatcher` per model per worker. Requests are validated first (a bad request
never joins a batch), then queue; one task takes them off the queue and runs the model::

    request ─► validate ─► queue (full: 503 + Retry-After) ─┐
    request ─► validate ─► queue ───────────────────────────┤  batch loop (one per model)
    request ─► validate ─► queue ───────────────────────────┘    take the oldest request and
                                                                 every one queued behind it,
                   ┌─ rows of each request ◄─ split ◄─ model ◄── up to max_batch_size rows
      response ◄───┘   (past its deadline: 504)       (model thread)

How it decides when to run a batch:

1. It takes the oldest waiting request and every request queued behind it, up to
   ``max_batch_size`` rows. Requests are never split: one larger than that runs alone.
2. If the batch is not full, it lets the event loop run once more (reading sockets that are
   ready), and takes what arrived. It keeps waiting only while another request is still
   being received by this worker (its body is arriving) -- a request certain to come -- and
   never longer than ``max_delay`` after the oldest request arrived.
3. Otherwise it runs at once. So a lone request waits for nothing (one loop pass), and under
   load the batch is whatever queued while the previous batch ran: the busier the model,
   the larger the batches, with no timer to tune (the idea behind Triton's and BentoML's
   adaptive batching).

A batch expected (from the smoothed time of earlier calls of its size) to take under
``INLINE_SECONDS`` runs right on the event loop; a longer one runs on the model's own thread
(NumPy, BLAS and onnxruntime release the GIL), so the event loop keeps reading requests,
answering health checks and timing out requests while it computes. A request whose deadline
passed while its batch ran gets 504, not a late answer. If a batched call raises, each of its requests is run again alone, so only
the request that breaks the model gets the error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from parlearn.serve._config import BatchPolicy
from parlearn.serve._errors import RequestError

__all__ = ["Arrivals", "BatchListener", "MicroBatcher"]

log = logging.getLogger("parlearn.serve")
Outputs = dict[str, NDArray[Any]]
RunFn = Callable[[NDArray[Any], Collection[str]], Outputs]
# Batches expected to take less than this run on the event loop itself: handing them to the
# model thread costs more (a thread switch, and up to a GIL switch interval of 5 ms waiting
# for the interpreter) than computing them; blocking the loop 1 ms delays nobody much.
INLINE_SECONDS = 0.001


class Arrivals:
    """How many requests this worker is still receiving (reading the body, parsing it): a
    forming batch may wait for them, since they are certain to come."""

    def __init__(self) -> None:
        self.receiving = 0

    def __enter__(self) -> None:
        self.receiving += 1

    def __exit__(self, *exc: object) -> None:
        self.receiving -= 1


class BatchListener(Protocol):
    """What the batcher reports (the metrics implement it)."""

    def on_queue(self, model: str, delta: int) -> None: ...

    def on_batch(self, model: str, rows: int, requests: int, seconds: float) -> None: ...


class _Pending:
    __slots__ = ("deadline", "future", "outputs", "queued_at", "rows", "timeout")

    def __init__(
        self,
        rows: NDArray[Any],
        outputs: tuple[str, ...],
        future: asyncio.Future[Outputs],
        at: float,
        deadline: float,
        timeout: float,
    ) -> None:
        self.rows = rows
        self.outputs = outputs
        self.future = future
        self.queued_at = at
        self.deadline = deadline
        self.timeout = timeout


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


def _expire(future: asyncio.Future[Outputs], timeout: float) -> None:
    if not future.done():
        future.set_exception(
            RequestError(
                504,
                f"the request took longer than its {timeout:g} s limit (--request-timeout); "
                "the server is overloaded or the model is slow for this input",
            )
        )


class MicroBatcher:
    """Queues requests for one model and runs them in batches (see the module docstring).

    Lifecycle: :meth:`start` in a running event loop, :meth:`infer` per request,
    :meth:`close` at shutdown (queued requests then get 503)."""

    def __init__(
        self,
        model: str,
        run: RunFn,
        policy: BatchPolicy,
        arrivals: Arrivals,
        *,
        batchable: bool = True,
        listener: BatchListener | None = None,
    ) -> None:
        self.model = model
        self._run_model = run
        self._policy = policy
        self._max_rows = policy.max_batch_size if policy.enabled and batchable else 1
        self._arrivals = arrivals
        self._listener = listener
        self._queue: deque[_Pending] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"model-{model}")
        # Smoothed seconds of one model call, by batch size class (rows.bit_length()).
        self._cost: dict[int, float] = {}
        self._closed = False

    @property
    def max_batch_size(self) -> int:
        return self._max_rows

    @property
    def queued(self) -> int:
        return len(self._queue)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._batch_loop())

    async def close(self) -> None:
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        while self._queue:
            pending = self._queue.popleft()
            self._report_queue(-1)
            if not pending.future.done():
                pending.future.set_exception(
                    RequestError(503, "the server is shutting down", headers={"Retry-After": "1"})
                )
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def infer(
        self, rows: NDArray[Any], outputs: tuple[str, ...], deadline: float, timeout: float
    ) -> Outputs:
        """The outputs for ``rows``; 503 if the queue is full, 504 past ``deadline`` (loop
        time)."""
        if self._closed:
            raise RequestError(503, "the server is shutting down", headers={"Retry-After": "1"})
        if len(self._queue) >= self._policy.max_queue:
            raise RequestError(
                503,
                f"model {self.model!r} is overloaded: {len(self._queue)} requests are already "
                "waiting in this worker; retry after a second",
                headers={"Retry-After": "1"},
            )
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Outputs] = loop.create_future()
        self._queue.append(_Pending(rows, outputs, future, loop.time(), deadline, timeout))
        self._report_queue(+1)
        if self._waiter is not None:
            _wake(self._waiter)
        timer = loop.call_at(deadline, _expire, future, timeout)
        try:
            return await future
        finally:
            timer.cancel()

    # ------------------------------------------------------------------ the batch loop

    def _report_queue(self, delta: int) -> None:
        if self._listener is not None:
            self._listener.on_queue(self.model, delta)

    def _take(self, batch: list[_Pending], rows: int) -> int:
        """Move queued requests into ``batch`` while they fit; returns the batch's rows."""
        while self._queue:
            pending = self._queue[0]
            if pending.future.done():  # timed out while queued: drop it, never compute it
                self._queue.popleft()
                self._report_queue(-1)
                continue
            if batch and rows + len(pending.rows) > self._max_rows:
                break
            self._queue.popleft()
            self._report_queue(-1)
            batch.append(pending)
            rows += len(pending.rows)
        return rows

    async def _wait(self, timeout: float | None) -> None:
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiter = waiter
        handle = None if timeout is None else loop.call_later(timeout, _wake, waiter)
        try:
            await waiter
        finally:
            self._waiter = None
            if handle is not None:
                handle.cancel()

    async def _gather(self, batch: list[_Pending], rows: int) -> int:
        loop = asyncio.get_running_loop()
        deadline = batch[0].queued_at + self._policy.max_delay
        while rows < self._max_rows and loop.time() < deadline:
            await asyncio.sleep(0)  # one loop pass: read the sockets that are ready
            before = len(batch)
            rows = self._take(batch, rows)
            if len(batch) > before:
                continue
            if self._queue or self._arrivals.receiving == 0:
                break  # the next request does not fit, or none is on its way
            await self._wait(deadline - loop.time())
            rows = self._take(batch, rows)
        return rows

    async def _batch_loop(self) -> None:
        while True:
            if not self._queue:
                await self._wait(None)
            batch: list[_Pending] = []
            rows = self._take(batch, 0)
            if not batch:
                continue
            if rows < self._max_rows and self._policy.max_delay > 0:
                rows = await self._gather(batch, rows)
            try:
                await self._run(batch)
            except Exception:  # a bug here must not stop the loop: those requests get a 500
                log.exception("batch of model %r failed unexpectedly", self.model)
                for pending in batch:
                    if not pending.future.done():
                        pending.future.set_exception(
                            RequestError(500, "internal error while running the model")
                        )

    async def _run(self, batch: list[_Pending]) -> None:
        batch = [p for p in batch if not p.future.done()]
        if not batch:
            return
        rows = batch[0].rows if len(batch) == 1 else np.concatenate([p.rows for p in batch])
        names = tuple(dict.fromkeys(name for p in batch for name in p.outputs))
        loop = asyncio.get_running_loop()
        size_class = len(rows).bit_length()
        expected = self._cost.get(size_class)
        started = time.perf_counter()
        try:
            if expected is not None and expected < INLINE_SECONDS:
                result = self._run_model(rows, names)
            else:
                result = await loop.run_in_executor(self._executor, self._run_model, rows, names)
            for name, value in result.items():
                if np.ndim(value) == 0 or len(value) != len(rows):
                    raise ValueError(
                        f"output {name!r} has {np.shape(value)} values for {len(rows)} rows"
                    )
        except Exception as exc:
            if len(batch) > 1:  # find the request that breaks the model; the others succeed
                for pending in batch:
                    await self._run([pending])
                return
            log.warning("model %r failed: %s: %s", self.model, type(exc).__name__, exc)
            if not batch[0].future.done():
                batch[0].future.set_exception(
                    RequestError(
                        500,
                        f"model {self.model!r} failed on this input: {type(exc).__name__}: {exc}",
                    )
                )
            return
        seconds = time.perf_counter() - started
        self._cost[size_class] = seconds if expected is None else 0.8 * expected + 0.2 * seconds
        if self._listener is not None:
            self._listener.on_batch(self.model, len(rows), len(batch), seconds)
        start = 0
        now = loop.time()
        for pending in batch:
            stop = start + len(pending.rows)
            if now > pending.deadline:  # its timer could not fire while the model ran here
                _expire(pending.future, pending.timeout)
            if not pending.future.done():
                pending.future.set_result(
                    {name: result[name][start:stop] for name in pending.outputs}
                )
            start = stop
