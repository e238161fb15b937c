"""Where a fit runs: the backend, the pool, and the one task kept in its workers.

::

    fit ─► resolve_backend(backend, workers, data bytes)      "auto": serial for small data,
                                                              else threads
        ─► BlockExecutor(task)   Pool(backend) + pool.resident(task): the task (which holds the
              │                  data, in shared memory for processes) is shipped once per fit
              └─ map(items) per iteration: items carry a block index and the weights only;
                 results come back in item order, whoever computed them

BLAS runs one thread per worker on every backend (and in the caller for ``serial`` and
``threads``), so a block's sums do not depend on how many threads BLAS would have split them
over: the same data and settings give the same bits on any backend and any worker count.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from threadpoolctl import threadpool_limits

from parlearn import parallel

__all__ = ["AUTO_PARALLEL_BYTES", "BACKENDS", "BlockExecutor", "check_workers", "resolve_backend"]

BACKENDS: tuple[str, ...] = ("auto", "serial", "threads", "processes", "ray")
# Below this much data, "auto" trains in the calling process: starting workers and copying
# the data to shared memory (~0.1 s) would cost more than the parallel passes save.
AUTO_PARALLEL_BYTES = 32 * 2**20


def check_workers(workers: object) -> int | None:
    if workers is None:
        return None
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(
            f"workers must be an int >= 1 or None, got {workers!r}; "
            "pass workers=None to use every core"
        )
    return workers


def resolve_backend(
    backend: object, workers: object, data_bytes: int, *, parallel_backend: str = "processes"
) -> tuple[str, int | None]:
    """The concrete backend and worker count for a fit over ``data_bytes`` of data.

    ``"auto"`` is ``"serial"`` for small data and ``parallel_backend`` otherwise. The
    estimators pass ``"threads"``: their work is a few large NumPy calls per block or batch,
    which release the GIL, and threads read the caller's arrays with no copy into shared
    memory and no worker start-up (measured in ``benchmarks/learn_linear.py``: as fast as
    processes or up to 2.6x faster here). Threads default to one per core, not the thread pool's
    I/O-sized default.
    """
    count = check_workers(workers)
    if not isinstance(backend, str) or backend not in BACKENDS:
        raise ValueError(
            f"backend must be one of {', '.join(map(repr, BACKENDS))}, got {backend!r}"
        )
    cores = parallel.cpu_count() if count is None else count
    if backend == "auto":
        if data_bytes < AUTO_PARALLEL_BYTES or cores < 2:
            return "serial", 1
        backend = parallel_backend
    if backend == "serial":
        return "serial", 1
    if backend == "threads":
        return "threads", cores
    return backend, count


class BlockExecutor:
    """A pool with ``task`` resident in its workers, for the length of one fit.

    >>> with BlockExecutor(task, "processes", None) as run:     # doctest: +SKIP
    ...     parts = run.map([(i, weights) for i in range(blocks)])
    """

    def __init__(self, task: Callable[[Any], Any], backend: str, workers: int | None) -> None:
        options: dict[str, Any] = {"blas_threads": 1} if backend == "processes" else {}
        self.backend = backend
        self._limits: Any = None
        if backend in ("serial", "threads"):
            self._limits = threadpool_limits(limits=1, user_api="blas")
        try:
            self._pool = parallel.Pool(backend, workers, **options)
        except BaseException:
            self._restore()
            raise
        try:
            self._task = self._pool.resident(task)
        except BaseException:
            self._pool.close()
            self._restore()
            raise

    @property
    def workers(self) -> int:
        return self._pool.workers

    def map(self, items: Sequence[Any]) -> list[Any]:
        """``task(item)`` for each item, in item order."""
        return self._task.map(items)

    def close(self) -> None:
        self._task.close()
        self._pool.close()
        self._restore()

    def _restore(self) -> None:
        if self._limits is not None:
            self._limits.restore_original_limits()
            self._limits = None

    def __enter__(self) -> BlockExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
