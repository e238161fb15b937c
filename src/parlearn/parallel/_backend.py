"""The backend interface: where chunks run.

A backend needs one method, :meth:`Backend.submit` (run a chunk, return a future of its
outcome). Everything users see -- chunking, ordering, backpressure, progress, error policy --
is written once in the engine (``_engine.py``) on top of it, the way
``concurrent.futures.Executor.map`` is written once on top of ``submit``.
"""

from __future__ import annotations

import os
import queue
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import Future
from typing import ClassVar

from parlearn.errors import PoolClosedError
from parlearn.parallel._task import Chunk, ChunkOutcome, Job

__all__ = ["Backend", "cpu_count", "resolve_workers"]


def cpu_count() -> int:
    """Cores this process may run on (affinity and cgroup-pinned sets respected)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def resolve_workers(workers: int | None, default: int) -> int:
    if workers is None:
        return default
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(
            f"workers must be an int >= 1, got {workers!r}; pass workers=None for the "
            "backend's default"
        )
    return workers


class Backend(ABC):
    """Runs chunks of a job somewhere. Subclasses implement :meth:`submit`."""

    name: ClassVar[str]
    # Chunks are sized so one takes about this long: dispatch overhead stays a small share.
    target_chunk_seconds: ClassVar[float] = 0.05
    # When set, every chunk has this size and no sizing is done (async runs items concurrently
    # within a chunk, so bigger chunks would not lower overhead).
    fixed_chunksize: ClassVar[int | None] = None
    # Chunks in flight per worker: one running and one waiting, so no worker idles between them.
    in_flight_per_worker: ClassVar[int] = 2

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._closed = False
        self._state_lock = threading.Lock()

    @abstractmethod
    def submit(self, job: Job, chunk: Chunk) -> Future[ChunkOutcome]:
        """Start running ``chunk`` of ``job``; the future never raises for a task's error."""

    def wait(self, done: queue.SimpleQueue[Future[ChunkOutcome]]) -> list[Future[ChunkOutcome]]:
        """Block until a future of this caller completes; return every completed one.

        ``done`` receives the caller's futures as they complete. A backend whose results need
        work to collect (reading pipes) may do that work here, in the caller's thread."""
        completed = [done.get()]
        while not done.empty():
            completed.append(done.get())
        return completed

    def scatter(
        self, job: Job, chunks: list[Chunk], meanwhile: Callable[[], object] | None = None
    ) -> list[ChunkOutcome] | None:
        """Run each chunk at once on an idle worker of its own and return every outcome; or
        None, having started nothing and called nothing, when that cannot be done now. The
        engine's fast path for a call of at most ``workers`` items (a federated round's bins):
        it then skips its scheduling. ``meanwhile`` is called once, in this thread, after the
        chunks are sent and before their results are awaited. Backends without a fast path
        return None and the chunks are submitted as usual."""
        return None

    def start_job(self, job: Job) -> None:
        """Called before the first chunk of ``job`` (e.g. to ship the function once)."""
        self._check_open()

    def end_job(self, job: Job, *, aborted: bool) -> None:  # noqa: B027 -- optional hook
        """Called after the last chunk; ``aborted`` when the caller stopped early (an error,
        Ctrl-C, a generator closed): chunks of the job still queued or running are dropped.
        The function stays where it was shipped when ``job.resident``."""

    def release(self, fn_key: int) -> None:  # noqa: B027 -- optional hook
        """Drop a resident function (``Pool.resident``) from wherever it was shipped."""

    def close(self) -> None:
        """Release workers; further use raises :class:`PoolClosedError`. Idempotent."""
        self._closed = True

    @property
    def closed(self) -> bool:
        return self._closed

    def _check_open(self) -> None:
        if self._closed:
            raise PoolClosedError(
                f"the {self.name!r} pool is closed; create a new Pool, or call "
                "parlearn.parallel.map() which manages its own pools"
            )

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<{type(self).__name__} workers={self.workers} {state}>"
