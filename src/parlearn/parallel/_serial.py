"""The ``serial`` backend: every item in the calling thread, one after another.

The reference the other backends are tested against, and what ``auto`` picks for tiny work.
"""

from __future__ import annotations

from concurrent.futures import Future

from parlearn.parallel._backend import Backend
from parlearn.parallel._task import Chunk, ChunkOutcome, Job, run_chunk

__all__ = ["SerialBackend"]


class SerialBackend(Backend):
    name = "serial"
    in_flight_per_worker = 1

    def __init__(self, workers: int | None = None) -> None:
        super().__init__(1)

    def submit(self, job: Job, chunk: Chunk) -> Future[ChunkOutcome]:
        self._check_open()
        future: Future[ChunkOutcome] = Future()
        # Timeouts use an alarm signal, so they interrupt Python code only in the main thread;
        # elsewhere an overrun is reported once the item returns.
        future.set_result(run_chunk(job.fn, chunk.items, timeout=job.timeout))
        return future
