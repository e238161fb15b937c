"""The ``processes`` backend: a pool of worker processes that knows what each worker holds.

::

    caller thread                 the pump (_step)                    worker processes
    ─────────────                 ────────────────                    ────────────────
    submit(chunk) ─► queue ─────► dispatch to an idle worker ──pipe──► run_chunk
    wait(): takes the pump        wait(pipes, sentinels, wake, tick)   │ slot: (position, t0)
    future ◄──────── set_result ◄─ result on a pipe ◄──────────────────┘
                                   a sentinel fires: the worker died → WorkerCrashedError
                                   an item overruns timeout + grace → kill → TaskTimeoutError
                                   RSS over max_worker_memory → kill → WorkerCrashedError

The pump runs in a caller blocked in ``wait`` (so a round of chunks is sent, read and settled
in one thread, with no hand-off to another thread per result), else in the manager thread,
which stands down while a caller pumps and for LINGER after.

Why not ``concurrent.futures.ProcessPoolExecutor``: when a worker dies it breaks the whole pool
and cannot say which items the dead worker held, and it cannot stop one overrunning task. Here
each worker has its own pipe and the parent knows which chunk it runs (plus at most one more
waiting in its pipe), so a death names its items, only that worker is replaced, and results
already delivered stand.

Workers start from a fork server (``forkserver``, the Python 3.14 default on Linux) that has
imported this package, so a new worker costs a fork, not an interpreter start, and -- unlike
plain multiprocessing -- without re-running the user's script (``_spawn.py``), so no
``if __name__ == "__main__"`` guard is needed. Each limits
BLAS/OpenMP threads to its share of the cores (threadpoolctl), so N workers never run N x cores
threads.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import multiprocessing as mp
import os
import pickle
import queue
import select
import selectors
import signal
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from parlearn.errors import BrokenPoolError, TaskTimeoutError, WorkerCrashedError
from parlearn.parallel import _serialize
from parlearn.parallel._backend import Backend, cpu_count, resolve_workers
from parlearn.parallel._shm import ShareScope, unlinked_after
from parlearn.parallel._spawn import WorkerProcess
from parlearn.parallel._task import Chunk, ChunkOutcome, Job, TaskFailure
from parlearn.parallel._worker import UNTRACKED, decode_outcome, send_whole, worker_main

__all__ = ["ProcessesBackend"]

# A worker gets this long past ``timeout`` to stop an item itself (its alarm raises inside the
# task) before the parent kills it -- the hard stop for code stuck in C.
TIMEOUT_GRACE = 1.0
# Chunks a worker may hold: one running and one waiting in its pipe, so it starts the next the
# moment it sends a result instead of idling through a round trip to the parent.
PREFETCH = 2
# ...but a chunk goes into a busy worker's pipe only if its message fits in the pipe's buffer,
# so sending it can never block: a quarter of the send buffer (raised to SEND_BUFFER where the
# system allows), or PREFETCH_BYTES where it cannot be read.
SEND_BUFFER = 4 * 2**20
PREFETCH_BYTES = 32 * 1024
# How often the manager checks running items when timeouts or memory limits are set.
WATCH_INTERVAL = 0.05
# After a caller stops reading results, the manager thread waits this long before it reads
# them itself: a caller iterating over results is usually back within it.
LINGER = 0.005
# How long close() waits for workers to exit on their own before killing them.
STOP_WAIT = 2.0
# How long an idle worker polls for its next chunk before it sleeps, while chunks come back to
# back (see _worker.py): a federated round's gap between two sends is under a millisecond.
WORKER_SPIN = 0.002


@dataclass
class _Pending:
    job_id: int
    fn_key: int
    chunk: Chunk
    payload: bytes
    timeout: float | None
    future: Future[ChunkOutcome]


@dataclass
class _Worker:
    process: Any  # multiprocessing.Process of the chosen context
    conn: Connection
    slot: Any  # RawArray('q', 2): (position, start time in monotonic ns)
    known_fns: set[int] = field(default_factory=set)  # function keys it has unpickled
    # Chunks sent to it, in order: the first is running, the next waits in its pipe.
    assigned: deque[_Pending] = field(default_factory=deque)
    kill_reason: TaskFailure | None = None  # why the parent killed it, if it did
    prefetch_bytes: int = PREFETCH_BYTES  # the largest message it may take while busy

    @property
    def pending(self) -> _Pending | None:
        """The chunk it is running (or about to run), if any."""
        return self.assigned[0] if self.assigned else None


@dataclass
class _Function:
    """A pickled function and the shared memory its arguments were placed in."""

    fn_bytes: bytes
    scope: ShareScope


def _signal_name(exitcode: int | None) -> str:
    if exitcode is None:
        return "an unknown cause"
    if exitcode < 0:
        try:
            return f"signal {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"signal {-exitcode}"
    return f"exit code {exitcode}"


class ProcessesBackend(Backend):
    """Worker processes with crash isolation, per-item timeouts and memory limits.

    ``max_worker_memory`` (bytes) kills a worker whose resident memory passes it, as an
    out-of-memory killer would, and reports WorkerCrashedError for the items it held.
    ``worker_spin`` (seconds): how long an idle worker polls for more work before it sleeps,
    while work comes back to back; 0 to sleep at once (see ``_worker.py``).
    """

    name = "processes"
    # More chunks in flight than workers can hold: the parent competes with busy workers for
    # the cores, so it refills rarely and in bursts rather than after every chunk.
    in_flight_per_worker = 4

    def __init__(
        self,
        workers: int | None = None,
        *,
        start_method: str = "forkserver",
        max_worker_memory: int | None = None,
        blas_threads: int | None = None,
        worker_spin: float = WORKER_SPIN,
    ) -> None:
        super().__init__(resolve_workers(workers, cpu_count()))
        if start_method not in mp.get_all_start_methods():
            raise ValueError(
                f"start_method {start_method!r} is not available here; choose one of "
                f"{mp.get_all_start_methods()}"
            )
        if max_worker_memory is not None and max_worker_memory <= 0:
            raise ValueError(
                f"max_worker_memory must be a positive number of bytes, got {max_worker_memory!r}"
            )
        self._ctx = mp.get_context(start_method)
        self._start_method = start_method
        if start_method == "forkserver":
            self._ctx.set_forkserver_preload(["parlearn.parallel._worker"])
        if not (isinstance(worker_spin, (int, float)) and 0 <= worker_spin < 1):
            raise ValueError(
                f"worker_spin must be seconds in [0, 1), got {worker_spin!r}; 0 turns it off"
            )
        self._worker_spin = float(worker_spin)
        self._max_memory = max_worker_memory
        self._blas_threads = blas_threads or max(1, cpu_count() // self.workers)
        self._workers: list[_Worker] = []
        self._queue: deque[_Pending] = deque()
        self._functions: dict[int, _Function] = {}  # by Job.key
        self._jobs: dict[int, ShareScope] = {}  # per call: where its large items were shared
        self._chunk_ids = itertools.count()
        self._wake_r, self._wake_w = os.pipe()
        self._wake_pending = False  # a wake-up byte is in the pipe, not yet read
        self._manager: threading.Thread | None = None
        # The pump: whoever holds it reads results and dispatches chunks (``_step``) -- the
        # manager thread, or a caller waiting for its results (``wait``), so a busy caller
        # never hands every result across threads. ``_pumper``: the caller that has the turn.
        self._pump = threading.Lock()
        self._pumper: int | None = None
        self._linger_until = 0.0  # the manager takes the pump back only after this
        self._turn = threading.Condition(self._state_lock)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._wake_r, selectors.EVENT_READ)
        self._watched: set[int] = set()  # ids of the workers registered in the selector
        self._broken: BaseException | None = None
        self._reaped = threading.Condition(self._state_lock)
        self._released: set[int] = set()  # function keys that workers knowing them must forget
        self._unlinked_seen = unlinked_after(0)[1]  # segments unlinked before us: none mapped
        self._last_to_finish: int | None = None  # id of the worker whose result came last
        # Per worker, what _await polls: its pipe, the wake-up pipe and every worker's exit;
        # built when first needed, dropped whenever a worker starts or exits.
        self._awaiting: dict[int, tuple[select.poll, dict[int, _Worker]]] = {}

    # ------------------------------------------------------------------ caller side

    def start_job(self, job: Job) -> None:
        super().start_job(job)
        if self._broken is not None:
            raise BrokenPoolError(f"the process pool is broken: {self._broken}") from self._broken
        with self._state_lock:
            shipped = job.key in self._functions
        if not shipped:
            scope = ShareScope()
            try:
                fn_bytes = _serialize.dumps_function(job.fn, scope)
            except BaseException:
                scope.close()
                raise
        with self._state_lock:
            if not shipped:
                self._functions[job.key] = _Function(fn_bytes, scope)
                self._released.discard(job.key)
            self._jobs[job.id] = ShareScope()
            if self._manager is None:
                self._manager = threading.Thread(
                    target=self._manage, name="parlearn-process-manager", daemon=True
                )
                self._manager.start()

    def submit(self, job: Job, chunk: Chunk) -> Future[ChunkOutcome]:
        self._check_open()
        payload = _serialize.dumps_items(chunk.items, chunk.indices, self._jobs[job.id])
        future: Future[ChunkOutcome] = Future()
        with self._state_lock:
            if self._broken is not None:
                raise BrokenPoolError(f"the process pool is broken: {self._broken}")
            self._queue.append(_Pending(job.id, job.key, chunk, payload, job.timeout, future))
            lingering = self._pumper is None and time.monotonic() < self._linger_until
        if not lingering:  # else no one is in select: the next step, soon, dispatches it
            self._wake()
        return future

    def scatter(
        self, job: Job, chunks: list[Chunk], meanwhile: Callable[[], object] | None = None
    ) -> list[ChunkOutcome] | None:
        """Each chunk straight to an idle worker, then the results read in this thread one
        worker at a time -- no scheduling, completion callbacks or manager thread. None
        (nothing sent) when a chunk has a timeout or memory is watched, another caller is
        pumping, or the pool is running anything else."""
        self._check_open()
        if job.timeout is not None or self._max_memory is not None or len(chunks) > self.workers:
            return None
        me = threading.get_ident()
        with self._state_lock:
            busy = self._queue or any(w.assigned for w in self._workers)
            if self._pumper is not None or busy or self._broken is not None:
                return None
            self._pumper = me
        with self._pumping():
            pendings = self._scatter(job, chunks, meanwhile)
        # Closed or broken meanwhile: the manager fails what is left, and result() raises.
        return [p.future.result() for p in pendings]

    def _scatter(
        self, job: Job, chunks: list[Chunk], meanwhile: Callable[[], object] | None
    ) -> list[_Pending]:
        """Wait for one worker at a time: one that finishes early waits in its pipe. When the
        first waited for is the last to finish, this thread wakes once a call, and never
        takes a core from a worker still running to read an early result. On a 2-core machine
        with 2 workers one of them shares its core with this thread and usually finishes last;
        so the worker that finished last the call before is waited for first (then the
        chunks in order: callers put their longest first)."""
        scope = self._jobs[job.id]
        pendings = [
            _Pending(job.id, job.key, c, _serialize.dumps_items(c.items, c.indices, scope), None,
                     Future())
            for c in chunks
        ]  # fmt: skip
        with self._state_lock:
            self._queue.extend(pendings)
        self._dispatch()  # every worker is idle (or not started yet): one chunk each
        if meanwhile is not None:
            meanwhile()
        held = [(p, self._holder(p)) for p in pendings]
        for pending, holder in sorted(held, key=lambda ph: id(ph[1]) != self._last_to_finish):
            if holder is not None and not pending.future.done() and not _readable(holder.conn):
                self._last_to_finish = id(holder)  # still running: the last so far
            step = functools.partial(self._await, pending, holder)
            while not pending.future.done():
                if self._closed or self._broken is not None:
                    return pendings
                self._guarded_step(step)
        return pendings

    def _holder(self, pending: _Pending) -> _Worker | None:
        return next((w for w in self._workers if w.assigned and w.assigned[0] is pending), None)

    def _await(self, pending: _Pending, worker: _Worker | None) -> None:
        """Wait for ``pending``'s result from ``worker`` (the one it was sent to), a worker's
        exit or a wake-up, and handle it."""
        if worker is None or not worker.assigned or worker.assigned[0] is not pending:
            self._step()  # not sent yet (its worker is starting, or died): the general step
            return
        watch = self._awaiting.get(id(worker))
        if watch is None:
            poller = select.poll()
            poller.register(worker.conn.fileno(), select.POLLIN)
            poller.register(self._wake_r, select.POLLIN)
            exits = {w.process.sentinel: w for w in self._workers}
            for fd in exits:
                poller.register(fd, select.POLLIN)
            watch = self._awaiting[id(worker)] = (poller, exits)
        poller, exits = watch
        ready = {fd for fd, _ in poller.poll(LINGER * 1000)}
        if self._wake_r in ready:
            os.read(self._wake_r, 4096)
            self._wake_pending = False
            self._dispatch()  # another caller's chunks, to idle workers
        if worker.conn.fileno() in ready:  # before its exit: its last result first
            got, message = self._receive(worker)
            if got is not None:
                self._settle(got, message)
        for fd in ready & exits.keys():
            self._retire(exits[fd])

    def end_job(self, job: Job, *, aborted: bool) -> None:
        with self._state_lock:
            scope = self._jobs.pop(job.id, None)
            function = None if job.resident else self._forget_function(job.key)
            if aborted:
                kept = deque(p for p in self._queue if p.job_id != job.id)
                for p in self._queue:
                    if p.job_id == job.id:
                        p.future.cancel()
                self._queue = kept
                doomed = [
                    w for w in self._workers if w.pending is not None and w.pending.job_id == job.id
                ]
                for w in doomed:
                    _kill(w)
                # Wait for the manager to reap them, so no worker outlives the call.
                deadline = time.monotonic() + 5.0
                while any(w in self._workers for w in doomed) and self._manager_alive():
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._reaped.wait(remaining)
        if scope is not None:
            scope.close()
        if function is not None:
            function.scope.close()
        if function is not None or aborted:
            self._wake()  # the manager tells idle workers to forget, and refills

    def release(self, fn_key: int) -> None:
        with self._state_lock:
            function = self._forget_function(fn_key)
        if function is not None:
            function.scope.close()
            self._wake()

    def _forget_function(self, fn_key: int) -> _Function | None:
        """Drop a function here and note that workers holding it must drop it (lock held)."""
        function = self._functions.pop(fn_key, None)
        if function is not None:
            self._released.add(fn_key)
        return function

    def close(self) -> None:
        if self._closed:
            return
        super().close()
        self._wake()
        with self._state_lock:
            self._turn.notify_all()
        if self._manager is not None:
            self._manager.join()
        else:
            self._selector.close()
        with self._state_lock:
            for p in self._queue:
                p.future.cancel()
            self._queue.clear()
            scopes = [*self._jobs.values(), *(f.scope for f in self._functions.values())]
            self._jobs.clear()
            self._functions.clear()
        for scope in scopes:
            scope.close()
        os.close(self._wake_r)
        os.close(self._wake_w)

    def worker_pids(self) -> list[int]:
        """Process ids of the live workers (for monitoring and tests)."""
        with self._state_lock:
            return [w.process.pid for w in self._workers if w.process.pid is not None]

    def _wake(self) -> None:
        # One byte in the pipe is enough: the manager dispatches everything queued when it
        # wakes, so a burst of submits costs one write and one wake-up, not one per chunk.
        if self._wake_pending:
            return
        self._wake_pending = True
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"\0")

    def _manager_alive(self) -> bool:
        return self._manager is not None and self._manager.is_alive()

    # ------------------------------------------------------------------ the pump

    def wait(self, done: queue.SimpleQueue[Future[ChunkOutcome]]) -> list[Future[ChunkOutcome]]:
        """Collect results in this thread until one of the caller's futures completes.

        The manager thread stands down while a caller waits (and LINGER after, since a caller
        that just got a result usually waits again at once), so a round of chunks is sent,
        read and settled without waking a second thread for each one. A second caller waiting
        at the same time blocks on its own queue; the pumping caller settles its futures too.
        """
        me = threading.get_ident()
        with self._state_lock:
            take = self._pumper is None and not self._closed and self._broken is None
            if take:
                self._pumper = me
        if take:
            with self._pumping():
                while done.empty() and not self._closed and self._broken is None:
                    self._guarded_step()
        return super().wait(done)

    @contextlib.contextmanager
    def _pumping(self) -> Iterator[None]:
        """Hold the pump in this thread, whose turn it is (``_pumper`` set); on the way out
        give the turn back, the manager standing down for LINGER more."""
        try:
            if not self._pump.acquire(blocking=False):
                self._wake()  # the manager is in a step, maybe blocked in select
                self._pump.acquire()
            try:
                yield
            finally:
                self._pump.release()
        finally:
            with self._state_lock:
                self._pumper = None
                self._linger_until = time.monotonic() + LINGER

    def _guarded_step(self, step: Callable[[], None] | None = None) -> None:
        try:
            (step or self._step)()
        except (KeyboardInterrupt, SystemExit):
            raise  # the caller's own interrupt: its job is aborted, the pool goes on
        except BaseException as exc:  # the pool cannot go on: fail every waiting caller
            self._broken = exc
            self._fail_all(BrokenPoolError(f"the process pool manager failed: {exc!r}"))

    def _manage(self) -> None:
        try:
            while True:
                with self._state_lock:
                    while not self._closed and self._broken is None and self._standing_down():
                        self._turn.wait(LINGER)
                    if self._closed or self._broken is not None:
                        break
                with self._pump:
                    if not self._standing_down():  # a caller may have taken the turn meanwhile
                        self._guarded_step()
        finally:
            with self._pump:
                self._selector.close()
                self._stop_workers()

    def _standing_down(self) -> bool:
        return self._pumper is not None or time.monotonic() < self._linger_until

    def _step(self) -> None:
        """Dispatch what is queued, wait for an event, read results, reap dead workers."""
        selector = self._selector
        self._dispatch()
        with self._state_lock:
            for w in self._workers:
                if id(w) not in self._watched:
                    # The key's data says which worker and whether it is its exit.
                    selector.register(w.conn, selectors.EVENT_READ, (w, False))
                    selector.register(w.process.sentinel, selectors.EVENT_READ, (w, True))
                    self._watched.add(id(w))
            watching = any(
                w.pending is not None
                and (w.pending.timeout is not None or self._max_memory is not None)
                for w in self._workers
            )
        # The manager sleeps until an event (a wake-up byte included); a pumping caller looks
        # up every LINGER, in case its futures were settled elsewhere (close, another pump).
        idle_timeout = None if self._pumper is None else LINGER
        timeout = WATCH_INTERVAL if watching else idle_timeout
        received = []
        exited = []
        for key, _ in selector.select(timeout=timeout):
            if key.data is None:  # the wake-up pipe
                os.read(self._wake_r, 4096)
                # After reading: a wake-up written between the read and here is skipped by its
                # writer, but what it announced (a queued chunk, a caller's turn) is seen by
                # the dispatch below and the next step's checks.
                self._wake_pending = False
            elif key.data[1]:
                exited.append(key.data[0])
            else:
                received.append(self._receive(key.data[0]))
        for w in exited:  # after its last result was read
            self._retire(w)
        if received:
            # Give the now idle workers their next chunk first, then read the results:
            # unpickling a large result must not keep a worker waiting.
            self._dispatch()
            for pending, message in received:
                if pending is not None:
                    self._settle(pending, message)
        if watching:
            self._watch()

    def _dispatch(self) -> None:
        with self._state_lock:
            unlinked, self._unlinked_seen = unlinked_after(self._unlinked_seen)
            if self._released or unlinked:
                self._tell_to_forget(unlinked)
            while self._queue:
                pending = self._queue[0]
                function = self._functions.get(pending.fn_key)
                if function is None or pending.job_id not in self._jobs:
                    self._queue.popleft()
                    pending.future.cancel()  # the job ended while this chunk waited
                    continue
                idle = self._worker_for(pending, function)
                if idle is None:
                    return
                self._queue.popleft()
                if not pending.future.set_running_or_notify_cancel():
                    continue
                fn_bytes = None if pending.fn_key in idle.known_fns else function.fn_bytes
                idle.known_fns.add(pending.fn_key)
                idle.assigned.append(pending)
                message = (
                    pending.fn_key,
                    fn_bytes,
                    pending.timeout,
                    pending.chunk.id,
                    pending.payload,
                )
                # If the worker just died, its sentinel reports the chunk.
                with contextlib.suppress(OSError):
                    send_whole(idle.conn, pickle.dumps(message, pickle.HIGHEST_PROTOCOL))

    def _worker_for(self, pending: _Pending, function: _Function) -> _Worker | None:
        """The worker to send ``pending`` to now, or None (lock held): an idle one (starting a
        new one if the pool is not full), else a busy one with room in its pipe -- but only for
        a message that fits in the pipe's buffer. A busy worker may itself be blocked writing a
        large result, and the manager must never block sending to it: both would wait on a
        full pipe for ever."""
        idle = next((w for w in self._workers if not w.assigned), None)
        if idle is None and len(self._workers) < self.workers:
            idle = self._spawn()
        if idle is not None:
            return idle
        for w in self._workers:
            if len(w.assigned) < PREFETCH:
                size = len(pending.payload)
                if pending.fn_key not in w.known_fns:
                    size += len(function.fn_bytes)
                if size <= w.prefetch_bytes:
                    return w
        return None

    def _tell_to_forget(self, unlinked: list[str]) -> None:
        """Idle workers drop released functions; every worker drops mappings of unlinked
        segments (after the chunks already in its pipe)."""
        for w in self._workers:
            ended = w.known_fns & self._released if w.pending is None else set()
            if ended or unlinked:
                w.known_fns -= ended
                with contextlib.suppress(OSError):
                    w.conn.send_bytes(pickle.dumps(("forget", sorted(ended), unlinked)))
        known = set().union(*(w.known_fns for w in self._workers)) if self._workers else set()
        self._released &= known  # keep only what a busy worker still has to hear

    def _spawn(self) -> _Worker:
        parent_conn, child_conn = self._ctx.Pipe(duplex=True)
        slot = self._ctx.RawArray("q", 2)
        slot[0] = -1
        process_class = WorkerProcess if self._start_method == "forkserver" else self._ctx.Process  # type: ignore[attr-defined]
        process = process_class(
            target=worker_main,
            args=(child_conn, slot, self._blas_threads, self._worker_spin),
            name="parlearn-worker",
            daemon=True,
        )
        process.start()
        child_conn.close()
        worker = _Worker(process, parent_conn, slot, prefetch_bytes=_prefetch_bytes(parent_conn))
        self._workers.append(worker)
        self._awaiting.clear()  # each poll set watches every worker's exit
        return worker

    def _receive(self, w: _Worker) -> tuple[_Pending | None, bytes]:
        try:
            message = w.conn.recv_bytes()
        except (EOFError, OSError):
            return None, b""  # it died; the sentinel reports it
        return (w.assigned.popleft() if w.assigned else None), message

    def _settle(self, pending: _Pending, message: bytes) -> None:
        try:
            _, outcome = decode_outcome(message, len(pending.chunk))
        except BaseException as exc:
            failure = TaskFailure(
                BrokenPoolError(f"a result from the worker could not be read: {exc!r}"), ""
            )
            outcome = ChunkOutcome.lost(len(pending.chunk), None, failure)
        if not pending.future.done():
            pending.future.set_result(outcome)

    def _retire(self, w: _Worker) -> None:
        """A worker that exited: forget its pipes and settle what it held."""
        if id(w) in self._watched:
            self._selector.unregister(w.conn)
            self._selector.unregister(w.process.sentinel)
            self._watched.discard(id(w))
        self._reap(w)

    def _reap(self, w: _Worker) -> None:
        w.process.join()
        exitcode = w.process.exitcode
        with self._state_lock:
            self._workers.remove(w)
            self._awaiting.clear()
            self._reaped.notify_all()
        w.conn.close()
        pending = w.assigned.popleft() if w.assigned else None
        for waiting in w.assigned:  # sent to it but never started: they simply run again
            if not waiting.future.done():
                size = len(waiting.chunk)
                waiting.future.set_result(ChunkOutcome([None] * size, retry=list(range(size))))
        w.assigned.clear()
        if pending is None or pending.future.done():
            return
        culprit = _running_position(w, pending)
        failure = w.kill_reason
        if failure is None:
            indices = pending.chunk.indices
            running = indices[culprit] if culprit is not None else None
            where = f"while running item {running}" if running is not None else "before it started"
            message = (
                f"worker process {w.process.pid} died ({_signal_name(exitcode)}) {where}; it held "
                f"items {_show(indices)}. A worker dies when it is killed, segfaults or runs out "
                "of memory; the other items are run again on a new worker"
            )
            failure = TaskFailure(
                WorkerCrashedError(message, items=indices, running=running, exitcode=exitcode), ""
            )
        pending.future.set_result(ChunkOutcome.lost(len(pending.chunk), culprit, failure))

    def _watch(self) -> None:
        now = time.monotonic_ns()
        for w in list(self._workers):
            pending = w.pending
            if pending is None or w.kill_reason is not None:
                continue
            position = _running_position(w, pending)
            if pending.timeout is not None and position is not None:
                ran = (now - int(w.slot[1])) / 1e9
                if ran > pending.timeout + TIMEOUT_GRACE:
                    error = TaskTimeoutError(
                        f"item {pending.chunk.indices[position]} ran {ran:.3g} s, past "
                        f"timeout={pending.timeout:g} s, and did not stop; its worker was "
                        "killed. Raise timeout or make the task shorter"
                    )
                    w.kill_reason = TaskFailure(error, "")
                    _kill(w)
                    continue
            if self._max_memory is not None:
                rss = _rss(w.process.pid)
                if rss is not None and rss > self._max_memory:
                    indices = pending.chunk.indices
                    running = indices[position] if position is not None else None
                    message = (
                        f"worker process {w.process.pid} used {rss / 2**20:.0f} MiB, over "
                        f"max_worker_memory={self._max_memory / 2**20:.0f} MiB, and was killed "
                        f"while running item {running}; it held items {_show(indices)}. Raise "
                        "max_worker_memory or use less memory per item"
                    )
                    w.kill_reason = TaskFailure(
                        WorkerCrashedError(message, items=indices, running=running), ""
                    )
                    _kill(w)

    def _fail_all(self, error: BaseException) -> None:
        with self._state_lock:
            pendings = [p for w in self._workers for p in w.assigned]
            pendings += list(self._queue)
            self._queue.clear()
        for p in pendings:
            if not p.future.done():
                p.future.set_exception(error)

    def _stop_workers(self) -> None:
        with self._state_lock:
            workers = list(self._workers)
        for w in workers:
            with contextlib.suppress(OSError):
                w.conn.send_bytes(pickle.dumps(None))
        deadline = time.monotonic() + STOP_WAIT
        for w in workers:
            w.process.join(max(0.0, deadline - time.monotonic()))
            if w.process.exitcode is None:
                _kill(w)
                w.process.join()
            w.conn.close()
        with self._state_lock:
            self._workers.clear()
            self._awaiting.clear()
            self._reaped.notify_all()
        self._fail_all(BrokenPoolError("the process pool was closed while work was pending"))


def _prefetch_bytes(conn: Connection) -> int:
    """How large a message may wait in this connection without its sender blocking: a quarter
    of its send buffer (the kernel counts bookkeeping against it too), raised first."""
    try:
        sock = socket.socket(fileno=conn.fileno())
    except OSError:  # not a socket (a plain pipe): keep the small, safe size
        return PREFETCH_BYTES
    try:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
        return max(PREFETCH_BYTES, sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) // 4)
    except OSError:
        return PREFETCH_BYTES
    finally:
        sock.detach()  # the connection keeps its descriptor


def _readable(conn: Connection) -> bool:
    """Whether a message (or the end of the pipe) waits in ``conn``: one system call, where
    ``conn.poll(0)`` builds and closes a selector each time."""
    poller = select.poll()
    poller.register(conn.fileno(), select.POLLIN)
    return bool(poller.poll(0))


def _running_position(w: _Worker, pending: _Pending) -> int | None:
    """Position in its chunk of the item a worker is running, when known."""
    position = int(w.slot[0])
    if 0 <= position < len(pending.chunk):
        return position
    if position == UNTRACKED and len(pending.chunk) == 1:
        return 0
    return None


def _kill(w: _Worker) -> None:
    with contextlib.suppress(OSError, AttributeError):
        w.process.kill()


def _rss(pid: int | None) -> int | None:
    if pid is None:
        return None
    import psutil

    try:
        return int(psutil.Process(pid).memory_info().rss)
    except psutil.Error:
        return None


def _show(indices: Sequence[int], limit: int = 10) -> str:
    if len(indices) <= limit:
        return str(list(indices))
    return f"[{', '.join(map(str, indices[:limit]))}, ... ({len(indices)} in all)]"
