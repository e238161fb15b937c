"""The ``threads`` backend: a thread pool in this process, for I/O-bound work and for code
that releases the GIL (NumPy, I/O). Nothing is pickled.

A thread cannot be killed, so a per-item ``timeout`` is enforced by a watchdog that gives up on
the item (it fails with TaskTimeoutError, the rest of its chunk is rerun elsewhere) while the
thread itself finishes in the background. The abandoned thread leaves the pool and a fresh one
takes its place, so a stuck item never costs the pool a worker. (``ThreadPoolExecutor`` cannot
grow like this, hence the small pool below.)
"""

from __future__ import annotations

import queue
import threading
import time
from concurrent.futures import Future
from typing import Any

from parlearn.errors import TaskTimeoutError
from parlearn.parallel._backend import Backend, cpu_count, resolve_workers
from parlearn.parallel._task import (
    Chunk,
    ChunkOutcome,
    ItemCursor,
    Job,
    TaskFailure,
    failure_from,
    run_chunk,
)

__all__ = ["ThreadsBackend"]

# How often the watchdog looks at running items when a job has a timeout.
WATCH_INTERVAL = 0.02


class _Running:
    """A chunk in a thread, as the watchdog sees it."""

    def __init__(self, job: Job, chunk: Chunk, future: Future[ChunkOutcome]) -> None:
        self.job = job
        self.chunk = chunk
        self.future = future
        self.cursor = ItemCursor()
        self.done: dict[int, Any] = {}
        self.abandoned = False
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None

    def resolve(self, outcome: ChunkOutcome) -> None:
        with self.lock:
            if not self.future.done():
                self.future.set_result(outcome)


class ThreadsBackend(Backend):
    name = "threads"

    def __init__(self, workers: int | None = None) -> None:
        # The concurrent.futures default: I/O-bound work wants more threads than cores.
        super().__init__(resolve_workers(workers, min(32, cpu_count() + 4)))
        self._tasks: queue.SimpleQueue[_Running | None] = queue.SimpleQueue()
        self._threads: set[threading.Thread] = set()
        self._running: set[_Running] = set()
        self._watchdog: threading.Thread | None = None

    def _add_thread(self) -> None:
        thread = threading.Thread(target=self._serve, name="parlearn-thread", daemon=True)
        self._threads.add(thread)
        thread.start()

    def _serve(self) -> None:
        me = threading.current_thread()
        while True:
            running = self._tasks.get()
            if running is None:
                return
            running.thread = me
            self._run(running)
            with self._state_lock:
                if me not in self._threads:
                    return  # the watchdog gave up on this thread and has replaced it

    def submit(self, job: Job, chunk: Chunk) -> Future[ChunkOutcome]:
        self._check_open()
        future: Future[ChunkOutcome] = Future()
        running = _Running(job, chunk, future)
        if job.timeout is not None:
            with self._state_lock:
                self._running.add(running)
                if self._watchdog is None:
                    self._watchdog = threading.Thread(
                        target=self._watch, name="parlearn-watchdog", daemon=True
                    )
                    self._watchdog.start()
        with self._state_lock:
            if len(self._threads) < self.workers:
                self._add_thread()
        self._tasks.put(running)
        return future

    def _run(self, running: _Running) -> None:
        try:
            outcome = run_chunk(
                running.job.fn,
                running.chunk.items,
                timeout=running.job.timeout,
                on_item=running.cursor.enter,
                stop=lambda: running.abandoned,
                done=running.done,
            )
            running.resolve(outcome)
        except BaseException as exc:  # never leave the caller waiting on a future
            running.resolve(ChunkOutcome.lost(len(running.chunk), None, failure_from(exc)))
        finally:
            with self._state_lock:
                self._running.discard(running)

    def _watch(self) -> None:
        while not self._closed:
            now = time.monotonic()
            with self._state_lock:
                overdue = [
                    r
                    for r in self._running
                    if r.job.timeout is not None
                    and r.cursor.position >= 0
                    and now - r.cursor.started > r.job.timeout
                ]
            for r in overdue:
                r.abandoned = True
                with self._state_lock:
                    self._threads.discard(r.thread)  # type: ignore[arg-type]
                    if not self._closed:
                        self._add_thread()
                took = now - r.cursor.started
                exc = TaskTimeoutError(
                    f"the item ran {took:.3g} s, past timeout={r.job.timeout:g} s (its thread "
                    "cannot be stopped and finishes in the background; use "
                    "backend='processes' for timeouts that stop the work)"
                )
                r.resolve(
                    ChunkOutcome.lost(
                        len(r.chunk), r.cursor.position, TaskFailure(exc, ""), dict(r.done)
                    )
                )
                with self._state_lock:
                    self._running.discard(r)
            time.sleep(WATCH_INTERVAL)

    def end_job(self, job: Job, *, aborted: bool) -> None:
        if aborted:
            with self._state_lock:
                for r in self._running:
                    if r.job.id == job.id:
                        r.abandoned = True

    def close(self) -> None:
        if self._closed:
            return
        super().close()
        with self._state_lock:
            for r in self._running:
                r.abandoned = True
            threads = list(self._threads)
        for _ in threads:
            self._tasks.put(None)
        for thread in threads:
            thread.join()
