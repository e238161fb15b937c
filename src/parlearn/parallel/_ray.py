"""The ``ray`` backend: the same ``map`` on a Ray cluster (``pip install 'parlearn[ray]'``).

Connects to the cluster named by ``RAY_ADDRESS`` or an already initialised Ray; otherwise starts
a local Ray with ``workers`` CPUs (and shuts it down on close). The function is put in the
object store once per job (once in all for a resident function); each chunk is one Ray task
with retries off, so a crash is reported instead of silently re-run. Arrays travel through
Ray's object store (zero-copy reads); ``SharedArray`` pickles as a plain array there.

Timeouts: inside a Ray worker an alarm interrupts an item that runs past ``timeout`` (Python
code; a call blocked in C finishes first).
"""

from __future__ import annotations

import contextlib
import os
from concurrent.futures import Future
from typing import Any

import ray

from parlearn.errors import WorkerCrashedError
from parlearn.parallel._backend import Backend, resolve_workers
from parlearn.parallel._task import Chunk, ChunkOutcome, Job, TaskFailure, run_chunk

__all__ = ["RayBackend"]

# How long an aborted job waits for its cancelled tasks to stop.
ABORT_WAIT = 5.0


def _run_remote(fn: Any, items: list[Any], timeout: float | None) -> ChunkOutcome:
    return run_chunk(fn, items, timeout=timeout)


class RayBackend(Backend):
    name = "ray"
    # A Ray task costs about a millisecond to schedule, so chunks aim longer than locally.
    target_chunk_seconds = 0.2

    def __init__(self, workers: int | None = None, *, address: str | None = None) -> None:
        self._started_ray = False
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {
                "include_dashboard": False,
                "log_to_driver": False,
                "ignore_reinit_error": True,
            }
            address = address or os.environ.get("RAY_ADDRESS")
            if address:
                kwargs["address"] = address
            elif workers is not None:
                kwargs["num_cpus"] = workers
            ray.init(**kwargs)
            self._started_ray = True
        cluster_cpus = int(ray.cluster_resources().get("CPU", 1))  # type: ignore[no-untyped-call]
        super().__init__(resolve_workers(workers, max(cluster_cpus, 1)))
        self._remote = ray.remote(max_retries=0, num_cpus=1)(_run_remote)
        self._fn_refs: dict[int, Any] = {}
        self._refs: dict[int, set[Any]] = {}

    def start_job(self, job: Job) -> None:
        super().start_job(job)
        with self._state_lock:
            shipped = job.key in self._fn_refs
        ref = None if shipped else ray.put(job.fn)
        with self._state_lock:
            if ref is not None:
                self._fn_refs[job.key] = ref
            self._refs[job.id] = set()

    def submit(self, job: Job, chunk: Chunk) -> Future[ChunkOutcome]:
        self._check_open()
        ref = self._remote.remote(self._fn_refs[job.key], chunk.items, job.timeout)
        with self._state_lock:
            self._refs[job.id].add(ref)
        result: Future[ChunkOutcome] = Future()
        inner = ref.future()

        def settle(done: Future[Any]) -> None:
            with self._state_lock:
                self._refs.get(job.id, set()).discard(ref)
            if result.cancelled():
                return
            try:
                result.set_result(done.result())
            except BaseException as exc:
                result.set_result(_lost(chunk, exc))

        inner.add_done_callback(settle)
        return result

    def end_job(self, job: Job, *, aborted: bool) -> None:
        with self._state_lock:
            if not job.resident:
                self._fn_refs.pop(job.key, None)
            refs = self._refs.pop(job.id, set())
        if aborted and refs:
            # Not force=True: that kills the worker process, and Ray may already have handed
            # it the next call's first task. A running Python task gets KeyboardInterrupt.
            for ref in refs:
                with contextlib.suppress(Exception):
                    ray.cancel(ref)
            # Wait until the cancelled tasks are settled before the next call starts.
            with contextlib.suppress(Exception):
                ray.wait(list(refs), num_returns=len(refs), timeout=ABORT_WAIT)

    def release(self, fn_key: int) -> None:
        with self._state_lock:
            self._fn_refs.pop(fn_key, None)

    def close(self) -> None:
        if self._closed:
            return
        super().close()
        if self._started_ray:
            ray.shutdown()


def _lost(chunk: Chunk, exc: BaseException) -> ChunkOutcome:
    """A chunk whose Ray task failed as a whole (its worker died or the task was cancelled)."""
    from ray import exceptions as rex

    crashed = isinstance(exc, (rex.WorkerCrashedError, rex.NodeDiedError, rex.OutOfMemoryError))
    if crashed:
        error: BaseException = WorkerCrashedError(
            f"a Ray worker died while running one of items {chunk.indices}: {exc}",
            items=chunk.indices,
        )
    else:
        error = exc
    return ChunkOutcome.lost(len(chunk), None, TaskFailure(error, ""))
