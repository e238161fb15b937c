"""The loop a process worker runs. Imported in the fork server, so workers start warm.

Messages (pickled) on the worker's own duplex pipe::

    parent → worker   (fn_key, fn_bytes | None, timeout, chunk_id, items_bytes): fn_bytes the
                      first time this worker meets the function, None after
                      ("forget", [fn_key, ...], [segment, ...]): those functions were released
                      (their job ended) and those shared-memory segments were unlinked: drop
                      the functions and mappings
                      None: stop
    worker → parent   (chunk_id, values_bytes | None, failures, retry_positions, seconds)

While a chunk with a timeout runs, the worker writes (position, start time) into its two-slot
shared array, so the parent knows which item a dead worker was running and how long it has run.
Without a timeout it writes UNTRACKED once and runs the plain loop; a death then sends the
chunk's items back to be run one at a time, which names the culprit.

Between chunks a worker polls its pipe for up to ``spin`` seconds, giving the CPU to anything
else runnable between polls, before it sleeps -- but only while chunks come back to back (the
last wait was shorter than ``spin``). Waking a sleeping process costs 0.05-0.2 ms (more on a
virtual machine, where an idle CPU is handed back to the host); a loop of short jobs -- a
federated round every few milliseconds -- pays it twice a round without the spin. OpenMP
runtimes do the same (``GOMP_SPINCOUNT``, ``KMP_BLOCKTIME``).
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import struct
import time
from multiprocessing.connection import Connection
from typing import Any

from parlearn.errors import SerializationError
from parlearn.parallel import _serialize
from parlearn.parallel._shm import forget_attached
from parlearn.parallel._task import ChunkOutcome, TaskFailure, failure_from, run_chunk

__all__ = ["decode_outcome", "encode_outcome", "send_whole", "worker_main"]

# Written in the slot's position while a chunk runs without per-item tracking.
UNTRACKED = -2
# Messages up to this size are written whole, in one system call (``send_whole``).
ONE_WRITE_BYTES = 2**20


def worker_main(conn: Connection, slot: Any, blas_threads: int | None, spin: float = 0.0) -> None:
    # Ctrl-C reaches the whole process group; the parent decides what stops, not the worker.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    limiter = None
    if blas_threads is not None:
        from threadpoolctl import threadpool_limits

        limiter = threadpool_limits(limits=blas_threads)
    # The parent decides what is kept (it tracks what each worker knows): a function stays
    # until a "forget" names it, so interleaved jobs and resident functions never go missing.
    functions: dict[int, Any] = {}

    def enter(position: int) -> None:
        slot[1] = time.monotonic_ns()  # start first: a reader that sees the position sees it
        slot[0] = position

    poller = select.poll()
    poller.register(conn.fileno(), select.POLLIN)
    spinning = spin > 0  # chunks come back to back: the last wait was shorter than spin
    while True:
        idle_since = time.perf_counter()
        if spinning:
            _spin(poller, idle_since + spin)
        try:
            message = conn.recv_bytes()
        except (EOFError, OSError):  # the parent is gone
            return
        spinning = spin > 0 and time.perf_counter() - idle_since < spin
        request = pickle.loads(message)
        if request is None:
            return
        if request[0] == "forget":
            # Release what ended jobs held (closures over big arrays) and mappings of unlinked
            # segments, so an idle worker keeps no dead memory alive. Mappings of live segments
            # stay: the next job reading the same data (a federated round) maps nothing again.
            for released in request[1]:
                functions.pop(released, None)
            forget_attached(request[2])
            continue
        fn_key, fn_bytes, timeout, chunk_id, items_bytes = request
        try:
            if fn_bytes is not None:
                functions[fn_key] = _serialize.loads(fn_bytes)
            fn = functions[fn_key]
            items = _serialize.loads(items_bytes)
        except BaseException as exc:
            # Unpickling failed here (a module missing in the worker, say): every item fails.
            conn.send_bytes(pickle.dumps((chunk_id, None, {-1: _portable(exc)}, [], 0.0)))
            continue
        if timeout is None:  # the fast loop: which item runs is not recorded
            slot[0] = UNTRACKED
            outcome = run_chunk(fn, items)
        else:
            outcome = run_chunk(fn, items, timeout=timeout, on_item=enter)
        slot[0] = -1
        send_whole(conn, encode_outcome(chunk_id, outcome))
        del fn, items, outcome  # hold nothing of a chunk between chunks
    del limiter


def send_whole(conn: Connection, payload: bytes) -> None:
    """``conn.send_bytes(payload)`` in one write where it fits the pipe: ``send_bytes`` writes
    the length of a message over 16 KiB first and the rest after, and the reader, woken by
    the first write, often runs before the second and sleeps again in the middle of the
    message (measured on a federated round: 3.0 voluntary context switches of the server
    instead of 2.2). The same framing -- a 4-byte big-endian length, then the bytes -- so
    ``recv_bytes`` reads it. Messages over ONE_WRITE_BYTES go through ``send_bytes``: they
    take many reads anyway, and joining them to their length would copy them."""
    size = len(payload)
    if size > ONE_WRITE_BYTES:
        conn.send_bytes(payload)
        return
    data = memoryview(struct.pack("!i", size) + payload)
    fd = conn.fileno()
    while data:
        data = data[os.write(fd, data) :]


def _spin(poller: select.poll, deadline: float) -> None:
    """Return when a message is waiting or at ``deadline``, yielding the CPU between looks so
    the parent or another worker on this CPU is never kept waiting by the spin."""
    while not poller.poll(0) and time.perf_counter() < deadline:
        os.sched_yield()


def _portable(exc: BaseException) -> tuple[bytes | None, str, str]:
    """An exception as (pickle or None, repr, traceback text) for the trip to the parent."""
    failure = failure_from(exc) if exc.__traceback__ is not None else TaskFailure(exc, "")
    return _portable_failure(failure)


def _portable_failure(failure: TaskFailure) -> tuple[bytes | None, str, str]:
    try:
        data = pickle.dumps(failure.exception)
        pickle.loads(data)  # some exceptions pickle but cannot be rebuilt
    except Exception:
        return None, repr(failure.exception), failure.traceback
    return data, repr(failure.exception), failure.traceback


def encode_outcome(chunk_id: int, outcome: ChunkOutcome) -> bytes:
    values = outcome.values
    failures = dict(outcome.failures)

    def pack() -> bytes:
        encoded = {p: _portable_failure(f) for p, f in failures.items()}
        message = (chunk_id, values, encoded, outcome.retry, outcome.seconds)
        return _serialize.dumps_result(message)

    try:
        return pack()
    except Exception:
        # Find the results that cannot be pickled; they become failures, the rest stand.
        for position, value in enumerate(values):
            if position in failures:
                continue
            try:
                _serialize.dumps_result(value)
            except Exception as exc:
                error = SerializationError(
                    f"the result ({type(value).__name__}) cannot be sent back from the worker: "
                    f"{exc}; return picklable values (arrays, numbers, dicts, dataclasses)"
                )
                failures[position] = TaskFailure(error, "")
                values[position] = None
        return pack()


def decode_outcome(message: bytes, size: int) -> tuple[int, ChunkOutcome]:
    chunk_id, values, encoded, retry, seconds = _serialize.loads(message)
    failures = {p: _rebuild_failure(*e) for p, e in encoded.items()}
    if values is None:  # the chunk could not even start: every item fails the same way
        failure = failures[-1]
        return chunk_id, ChunkOutcome([None] * size, dict.fromkeys(range(size), failure), [], 0.0)
    return chunk_id, ChunkOutcome(values, failures, list(retry), seconds)


def _rebuild_failure(data: bytes | None, text: str, tb: str) -> TaskFailure:
    exc: BaseException | None = None
    if data is not None:
        try:
            exc = pickle.loads(data)
        except Exception:
            exc = None
    if exc is None:
        exc = RuntimeError(f"{text} (the original exception could not be pickled)")
    return TaskFailure(exc, tb)
