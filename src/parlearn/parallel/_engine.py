"""The one loop behind ``map`` and ``imap``, whatever the backend.

::

    items ──► chunks (sized by ChunkSizer) ──► backend.submit ──► futures (at most
      ▲                                                          workers x in_flight_per_worker)
      └── retry: items of a lost worker                              │ first completed
                                                                     ▼
                       ordered: reorder buffer ◄── outcomes ──► errors: raise or collect
                                                                     │
                                                                 progress

Backpressure: a new chunk is read from ``items`` only when a slot is free and, when ordered,
when the reorder buffer is below its limit; a generator is never read far ahead.
"""

from __future__ import annotations

import contextlib
import itertools
import queue
import reprlib
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import Any, Literal

from parlearn.parallel._backend import Backend
from parlearn.parallel._chunking import ChunkSizer
from parlearn.parallel._progress import Reporter
from parlearn.parallel._results import Failure
from parlearn.parallel._task import Chunk, ChunkOutcome, Job, RemoteTraceback, TaskFailure

__all__ = ["Emitted", "run_job"]

ErrorPolicy = Literal["raise", "collect"]
# An item already computed (by the auto probe): (index, value or failure).
Emitted = tuple[int, Any]

_job_ids = itertools.count()
# With ordered results the reorder buffer holds at most this many chunks' worth of items
# beyond those in flight, so memory stays bounded when one early item is slow.
BUFFER_CHUNKS = 4


def new_job(fn: Any, timeout: float | None, resident: int | None = None) -> Job:
    """A job for one call; ``resident``: the key of a function kept across calls."""
    if resident is None:
        return Job(next(_job_ids), fn, timeout)
    return Job(next(_job_ids), fn, timeout, fn_key=resident, resident=True)


def raise_failure(failure: TaskFailure, index: int, item: Any) -> BaseException:
    """The exception to raise in the caller for a failed item, with where it came from."""
    exc = failure.exception
    if failure.traceback and exc.__traceback__ is None and exc.__cause__ is None:
        # It came from another process: chain the worker's traceback, as CPython does.
        exc.__cause__ = RemoteTraceback(failure.traceback)
    note = f"raised by item {index} ({reprlib.repr(item)}) in parlearn.parallel.map"
    if hasattr(exc, "add_note") and note not in getattr(exc, "__notes__", ()):
        exc.add_note(note)
    return exc


def run_job(
    backend: Backend,
    job: Job,
    items: Iterator[Any],
    *,
    total: int | None,
    chunksize: int | None,
    ordered: bool,
    errors: ErrorPolicy,
    reporter: Reporter,
    done_first: list[Emitted],
    meanwhile: Callable[[], object] | None = None,
) -> Iterator[list[Any]]:
    """Yield results of ``job.fn`` over ``items`` in runs (lists), in order when ``ordered``.

    ``done_first`` are results of the first items, already computed (by the auto probe), and
    ``items`` goes on after them. ``meanwhile`` is called once, in this thread, when the first
    chunks are sent and before any result is waited for (work of the caller's own that
    overlaps the workers'); an exception from it stops the job like one from an item.
    Results travel in runs so the per-item cost stays in C: ``imap`` flattens them, ``map``
    extends a list with them."""
    sizer = ChunkSizer(
        workers=backend.workers,
        target_seconds=backend.target_chunk_seconds,
        total=None if total is None else total - len(done_first),
        fixed=chunksize if chunksize is not None else backend.fixed_chunksize,
    )
    max_in_flight = max(1, backend.workers * backend.in_flight_per_worker)
    chunk_ids = itertools.count()
    in_flight: dict[Future[ChunkOutcome], Chunk] = {}
    done: queue.SimpleQueue[Future[ChunkOutcome]] = queue.SimpleQueue()  # completed, in order
    retry: deque[tuple[int, Any]] = deque()
    isolate: deque[tuple[int, Any]] = deque()  # suspects of an unexplained crash: one per chunk
    # Ordered results that arrived early: runs of consecutive results keyed by first index.
    buffered: dict[int, list[Any]] = {}
    buffered_count = 0
    next_index = len(done_first)  # next result to yield when ordered
    read = len(done_first)  # items taken from the input so far
    exhausted = False
    finished = False
    max_chunk = 1

    if done_first:
        reporter.advance(len(done_first))
        yield [value for _, value in done_first]

    backend.start_job(job)
    try:
        # At most ``workers`` items: the backend may run them all at once, one per worker,
        # and hand back their outcomes without the scheduling below (``Backend.scatter``).
        scattered: list[tuple[Chunk, ChunkOutcome]] = []
        if total is not None and (chunksize or 1) == 1 and 0 < total - read <= backend.workers:
            taken = list(itertools.islice(items, total - read))
            exhausted = len(taken) < total - read
            chunks = [
                Chunk(next(chunk_ids), range(read + i, read + i + 1), [item])
                for i, item in enumerate(taken)
            ]
            read += len(taken)
            outcomes = backend.scatter(job, chunks, meanwhile) if chunks else None
            if outcomes is None:
                for chunk in chunks:
                    future = backend.submit(job, chunk)
                    in_flight[future] = chunk
                    future.add_done_callback(done.put)
            else:
                meanwhile = None  # the backend called it
                scattered = list(zip(chunks, outcomes, strict=True))
        while True:
            buffer_limit = BUFFER_CHUNKS * max_in_flight * max_chunk
            while (
                len(in_flight) < (max_in_flight if sizer.measured else backend.workers)
                and (retry or isolate or not exhausted)
                and not (ordered and buffered_count >= buffer_limit)
            ):
                remaining = None if total is None else total - read + len(retry) + len(isolate)
                size = sizer.next_size(remaining)
                if isolate:
                    index, item = isolate.popleft()
                    chunk = Chunk(next(chunk_ids), [index], [item])
                elif retry:
                    pairs = [retry.popleft() for _ in range(min(size, len(retry)))]
                    chunk = Chunk(next(chunk_ids), [i for i, _ in pairs], [x for _, x in pairs])
                else:
                    taken = list(itertools.islice(items, size))
                    exhausted = len(taken) < size
                    if not taken:
                        break
                    chunk = Chunk(next(chunk_ids), range(read, read + len(taken)), taken)
                    read += len(taken)
                max_chunk = max(max_chunk, len(chunk))
                future = backend.submit(job, chunk)
                in_flight[future] = chunk
                future.add_done_callback(done.put)
            if meanwhile is not None:
                call, meanwhile = meanwhile, None
                call()
            if not in_flight and not scattered:
                break
            if scattered:
                arrivals, scattered = scattered, []
            else:
                # A completion queue is cheaper than concurrent.futures.wait on every chunk,
                # and lets the processes backend read results in this thread while it waits.
                arrivals = [(in_flight.pop(f), f.result()) for f in backend.wait(done)]
            for chunk, outcome in arrivals:
                sizer.observe(len(chunk) - len(outcome.retry), outcome.seconds)
                if not outcome.failures and not outcome.retry and isinstance(chunk.indices, range):
                    runs = [(chunk.indices.start, outcome.values)]  # the common case
                else:
                    requeue = isolate if outcome.isolate else retry
                    runs = [(i, [v]) for i, v in _settle(chunk, outcome, errors, requeue)]
                arrived = sum(len(run) for _, run in runs)
                reporter.advance(arrived)
                if not ordered:
                    for _, run in runs:
                        yield run
                    continue
                buffered.update(runs)
                buffered_count += arrived
                while next_index in buffered:
                    run = buffered.pop(next_index)
                    buffered_count -= len(run)
                    next_index += len(run)
                    yield run
        finished = True
    finally:
        if not finished:
            for future in in_flight:
                future.cancel()
        with contextlib.suppress(Exception):
            backend.end_job(job, aborted=not finished)
        reporter.close()


def _settle(
    chunk: Chunk,
    outcome: ChunkOutcome,
    errors: ErrorPolicy,
    retry: deque[tuple[int, Any]],
) -> list[tuple[int, Any]]:
    """(index, value) pairs of a chunk with failures or lost items; queues lost items again
    and raises the first failure when ``errors="raise"``."""
    to_retry = set(outcome.retry)
    settled: list[tuple[int, Any]] = []
    for position, index in enumerate(chunk.indices):
        if position in to_retry:
            retry.append((index, chunk.items[position]))
            continue
        failure = outcome.failures.get(position)
        if failure is None:
            settled.append((index, outcome.values[position]))
        elif errors == "raise":
            raise raise_failure(failure, index, chunk.items[position])
        else:
            settled.append((index, Failure(index, failure.exception, failure.traceback)))
    return settled
