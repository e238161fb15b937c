"""The public entry points: ``map``, ``imap`` and ``Pool``.

``map``/``imap`` with a backend name use a default pool per (backend, workers), created on first
use and kept for later calls (so repeated calls do not pay process start-up), closed at exit.
A ``Pool`` is the same thing with an explicit lifetime.
"""

from __future__ import annotations

import atexit
import inspect
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from parlearn.errors import MissingDependencyError, PoolClosedError
from parlearn.parallel import _auto
from parlearn.parallel._backend import Backend, cpu_count, resolve_workers
from parlearn.parallel._engine import Emitted, ErrorPolicy, new_job, raise_failure, run_job
from parlearn.parallel._progress import ProgressArg, make_reporter
from parlearn.parallel._results import Failure, Results
from parlearn.parallel._task import run_chunk

__all__ = ["BACKENDS", "Pool", "Resident", "imap", "map"]

BackendName = Literal["auto", "serial", "threads", "processes", "async", "ray"]
BACKENDS: tuple[str, ...] = ("auto", "serial", "threads", "processes", "async", "ray")


def _backend_class(name: str) -> Callable[..., Backend]:
    """The backend constructor for ``name``: ``(workers, **options) -> Backend``."""
    if name == "serial":
        from parlearn.parallel._serial import SerialBackend

        return SerialBackend
    if name == "threads":
        from parlearn.parallel._threads import ThreadsBackend

        return ThreadsBackend
    if name == "processes":
        from parlearn.parallel._processes import ProcessesBackend

        return ProcessesBackend
    if name == "async":
        from parlearn.parallel._async import AsyncBackend

        return AsyncBackend
    if name == "ray":
        try:
            from parlearn.parallel._ray import RayBackend
        except ImportError as exc:
            raise MissingDependencyError("ray", "ray", "backend='ray'") from exc
        return RayBackend
    raise ValueError(
        f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}, or pass a Pool"
    )


class Pool:
    """A reusable set of workers of one backend, with an explicit lifetime.

    >>> with Pool("processes", workers=4) as pool:          # doctest: +SKIP
    ...     squares = pool.map(lambda x: x * x, range(10))

    Backend options (``processes``: ``max_worker_memory``, ``start_method``, ``blas_threads``,
    ``worker_spin``) are passed as keyword arguments. Using a closed pool raises ``PoolClosedError``.
    """

    def __init__(self, backend: str = "processes", workers: int | None = None, **options: Any):
        if backend == "auto":
            raise ValueError(
                "a Pool needs a concrete backend, got 'auto'; choose one of "
                "serial, threads, processes, async, ray (map() accepts backend='auto')"
            )
        self._backend = _backend_class(backend)(workers, **options)

    @property
    def backend(self) -> Backend:
        return self._backend

    @property
    def workers(self) -> int:
        return self._backend.workers

    def imap(
        self,
        fn: Callable[[Any], Any],
        items: Iterable[Any],
        *,
        chunksize: int | None = None,
        ordered: bool = True,
        progress: ProgressArg = False,
        timeout: float | None = None,
        errors: ErrorPolicy = "raise",
        meanwhile: Callable[[], object] | None = None,
    ) -> Iterator[Any]:
        """Lazily yield ``fn(item)`` for each item; see :meth:`map`."""
        options = _Options(chunksize, ordered, progress, timeout, errors, meanwhile)
        return _flatten(self._runs(fn, items, options))

    def map(
        self,
        fn: Callable[[Any], Any],
        items: Iterable[Any],
        *,
        chunksize: int | None = None,
        ordered: bool = True,
        progress: ProgressArg = False,
        timeout: float | None = None,
        errors: ErrorPolicy = "raise",
        meanwhile: Callable[[], object] | None = None,
    ) -> list[Any]:
        """``fn(item)`` for each item, as a list; see :func:`parlearn.parallel.map`.

        ``meanwhile``: work of the caller's own, called once in this thread when the first
        items have gone to the workers and before any result is awaited, so it overlaps
        theirs -- the caller is then one of the workers (a federated server running a share
        of a round's clients itself). Its return value is dropped; an exception from it stops
        the call as an item's would.
        """
        options = _Options(chunksize, ordered, progress, timeout, errors, meanwhile)
        return _collect(self._runs(fn, items, options), options)

    def resident(self, fn: Callable[[Any], Any]) -> Resident:
        """``fn`` kept in the workers across calls: shipped once, not once per ``map``.

        For loops that map the same function many times over small work (a federated round,
        a gradient step over row blocks): each call then sends only its items. Per-call data
        goes in the items; what ``fn`` holds is fixed when it is first shipped.

        >>> with Pool("processes") as pool, pool.resident(step) as run:  # doctest: +SKIP
        ...     for it in range(100):
        ...         parts = run.map([(block, weights) for block in blocks])

        The function stays until ``close()`` (or the end of the ``with`` block, or the pool's).
        """
        self._backend._check_open()
        return Resident(self, fn, new_job(fn, None).id)

    def _runs(
        self,
        fn: Callable[[Any], Any],
        items: Iterable[Any],
        options: _Options,
        resident: int | None = None,
    ) -> Iterator[list[Any]]:
        self._backend._check_open()
        total = _length(items)
        return options.run(self._backend, fn, iter(items), total, done_first=[], resident=resident)

    def close(self) -> None:
        self._backend.close()

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Pool({self._backend!r})"


class Resident:
    """A function kept in a pool's workers between calls (see :meth:`Pool.resident`)."""

    def __init__(self, pool: Pool, fn: Callable[[Any], Any], key: int) -> None:
        self._pool = pool
        self.fn = fn
        self._key = key
        self._closed = False

    def imap(
        self,
        items: Iterable[Any],
        *,
        chunksize: int | None = None,
        ordered: bool = True,
        progress: ProgressArg = False,
        timeout: float | None = None,
        errors: ErrorPolicy = "raise",
        meanwhile: Callable[[], object] | None = None,
    ) -> Iterator[Any]:
        """Lazily yield ``fn(item)`` for each item; see :meth:`Pool.map`."""
        options = _Options(chunksize, ordered, progress, timeout, errors, meanwhile)
        return _flatten(self._runs(items, options))

    def map(
        self,
        items: Iterable[Any],
        *,
        chunksize: int | None = None,
        ordered: bool = True,
        progress: ProgressArg = False,
        timeout: float | None = None,
        errors: ErrorPolicy = "raise",
        meanwhile: Callable[[], object] | None = None,
    ) -> list[Any]:
        """``fn(item)`` for each item, as a list; see :meth:`Pool.map`."""
        options = _Options(chunksize, ordered, progress, timeout, errors, meanwhile)
        return _collect(self._runs(items, options), options)

    def _runs(self, items: Iterable[Any], options: _Options) -> Iterator[list[Any]]:
        if self._closed:
            raise PoolClosedError(
                "this resident function was closed; call pool.resident(fn) again to keep it"
            )
        return self._pool._runs(self.fn, items, options, resident=self._key)

    def close(self) -> None:
        """Drop the function from the workers. Idempotent; the pool stays open."""
        if not self._closed:
            self._closed = True
            if not self._pool.backend.closed:
                self._pool.backend.release(self._key)

    def __enter__(self) -> Resident:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"Resident({self.fn!r}, {state}, {self._pool!r})"


# --------------------------------------------------------------------------- default pools

_default_pools: dict[tuple[str, int | None], Pool] = {}
_default_lock = threading.Lock()


def _default_pool(name: str, workers: int | None) -> Pool:
    with _default_lock:
        pool = _default_pools.get((name, workers))
        if pool is None or pool.backend.closed:
            pool = _default_pools[(name, workers)] = Pool(name, workers)
        return pool


def _has_default_pool(name: str, workers: int | None) -> bool:
    with _default_lock:
        pool = _default_pools.get((name, workers))
        return pool is not None and not pool.backend.closed


@atexit.register
def shutdown_default_pools() -> None:
    """Close the pools that ``map``/``imap`` created (also run at interpreter exit)."""
    with _default_lock:
        pools = list(_default_pools.values())
        _default_pools.clear()
    for pool in pools:
        pool.close()


# --------------------------------------------------------------------------- map / imap


def imap(
    fn: Callable[[Any], Any],
    items: Iterable[Any],
    *,
    backend: BackendName | str | Pool = "auto",
    workers: int | None = None,
    chunksize: int | None = None,
    ordered: bool = True,
    progress: ProgressArg = False,
    timeout: float | None = None,
    errors: ErrorPolicy = "raise",
) -> Iterator[Any]:
    """Lazily yield ``fn(item)`` for each item, running them in parallel.

    Reads ``items`` only as fast as workers take them (a generator of a billion items never
    lands in memory). Arguments are those of :func:`map`.
    """
    options = _Options(chunksize, ordered, progress, timeout, errors)
    return _flatten(_runs(fn, items, backend, workers, options))


def _runs(
    fn: Callable[[Any], Any],
    items: Iterable[Any],
    backend: str | Pool,
    workers: int | None,
    options: _Options,
) -> Iterator[list[Any]]:
    if workers is not None:
        resolve_workers(workers, 1)  # checked now, whichever backend ends up running
    if isinstance(backend, Pool):
        return backend._runs(fn, items, options)
    if backend != "auto":
        _backend_class(backend)  # unknown names and missing extras fail now, not on next()
        return _default_pool(backend, workers)._runs(fn, items, options)
    if inspect.iscoroutinefunction(fn):
        return _default_pool("async", workers)._runs(fn, items, options)
    return _probe_then_run(fn, items, workers, options)


def _flatten(runs: Iterator[list[Any]]) -> Iterator[Any]:
    """One result at a time from runs of results; closing it stops the work."""
    try:
        for run in runs:
            yield from run
    finally:
        close = getattr(runs, "close", None)
        if close is not None:
            close()


def _collect(runs: Iterator[list[Any]], options: _Options) -> list[Any]:
    results: list[Any] = Results() if options.errors == "collect" else []
    for run in runs:
        results.extend(run)
    return results


def map(
    fn: Callable[[Any], Any],
    items: Iterable[Any],
    *,
    backend: BackendName | str | Pool = "auto",
    workers: int | None = None,
    chunksize: int | None = None,
    ordered: bool = True,
    progress: ProgressArg = False,
    timeout: float | None = None,
    errors: ErrorPolicy = "raise",
) -> list[Any]:
    """``[fn(item) for item in items]``, computed in parallel.

    - ``backend``: ``"auto"`` (pick from the work, see ``parlearn.parallel._auto``),
      ``"serial"``, ``"threads"``, ``"processes"``, ``"async"`` (coroutine functions),
      ``"ray"`` (``pip install parlearn[ray]``), or a :class:`Pool`.
    - ``workers``: worker count (async: concurrent coroutines); None for the backend default.
    - ``chunksize``: items per dispatch; None sizes chunks from measured task times.
    - ``ordered``: results in input order (default) or as they finish.
    - ``progress``: True for a progress bar on stderr, or a callable ``(done, total)``.
    - ``timeout``: seconds one item may run; an overrun fails that item with TaskTimeoutError.
    - ``errors``: ``"raise"`` raises the first task error (its original type, with the item
      index in a note and the worker traceback as ``__cause__``); ``"collect"`` returns a
      :class:`Results` list with a :class:`Failure` in place of each failed item.
    """
    options = _Options(chunksize, ordered, progress, timeout, errors)
    return _collect(_runs(fn, items, backend, workers, options), options)


@dataclass(frozen=True)
class _Options:
    """The per-call settings of ``map``/``imap``, checked when the call is made (a generator
    would otherwise start nothing, and report nothing, until iterated)."""

    chunksize: int | None
    ordered: bool
    progress: ProgressArg
    timeout: float | None
    errors: ErrorPolicy
    meanwhile: Callable[[], object] | None = None

    def __post_init__(self) -> None:
        chunksize, timeout = self.chunksize, self.timeout
        if self.meanwhile is not None and not callable(self.meanwhile):
            raise TypeError(f"meanwhile must be a function of no arguments, got {self.meanwhile!r}")
        if chunksize is not None and (
            isinstance(chunksize, bool) or not isinstance(chunksize, int) or chunksize < 1
        ):
            raise ValueError(
                f"chunksize must be a positive int, got {chunksize!r}; "
                "pass chunksize=None to size chunks automatically"
            )
        if self.errors not in ("raise", "collect"):
            raise ValueError(f"errors must be 'raise' or 'collect', got {self.errors!r}")
        if timeout is not None and (isinstance(timeout, bool) or not timeout > 0):
            raise ValueError(
                f"timeout must be a positive number of seconds, got {timeout!r}; "
                "pass timeout=None for no limit"
            )

    def run(
        self,
        backend: Backend,
        fn: Callable[[Any], Any],
        items: Iterator[Any],
        total: int | None,
        *,
        done_first: list[Emitted],
        resident: int | None = None,
    ) -> Iterator[list[Any]]:
        return run_job(
            backend,
            new_job(fn, self.timeout, resident),
            items,
            total=total,
            chunksize=self.chunksize,
            ordered=self.ordered,
            errors=self.errors,
            reporter=make_reporter(self.progress, total, f"parlearn {backend.name}"),
            done_first=done_first,
            meanwhile=self.meanwhile,
        )


def _length(items: Iterable[Any]) -> int | None:
    try:
        return len(items)  # type: ignore[arg-type]
    except TypeError:
        return None


def _probe_then_run(
    fn: Callable[[Any], Any], items: Iterable[Any], workers: int | None, options: _Options
) -> Iterator[list[Any]]:
    """Run the first items here to measure them, choose a backend, then run the rest there.
    A generator, so nothing runs before the caller asks for the first result."""
    total = _length(items)
    source = iter(items)
    done_first: list[Emitted] = []
    ended = True
    wall0, cpu0 = time.perf_counter(), time.thread_time()
    for index, item in enumerate(source):
        outcome = run_chunk(fn, [item], timeout=options.timeout)
        failure = outcome.failures.get(0)
        if failure is not None:
            if options.errors == "raise":
                raise raise_failure(failure, index, item)
            done_first.append((index, Failure(index, failure.exception, failure.traceback)))
        else:
            done_first.append((index, outcome.values[0]))
        wall = time.perf_counter() - wall0
        if wall >= _auto.PROBE_SECONDS or len(done_first) >= _auto.PROBE_MAX_ITEMS:
            ended = False
            break
    wall = max(time.perf_counter() - wall0, 1e-9)
    cpu = time.thread_time() - cpu0
    if ended:
        remaining: int | None = 0
    else:
        remaining = None if total is None else total - len(done_first)
    name = _auto.choose_backend(
        is_coroutine=False,
        cores=cpu_count(),
        remaining=remaining,
        per_item_seconds=wall / max(len(done_first), 1),
        cpu_share=min(cpu / wall, 1.0),
        processes_warm=_has_default_pool("processes", workers),
    )
    pool = _default_pool(name, workers if name != "serial" else None)
    yield from options.run(pool.backend, fn, source, total, done_first=done_first)
