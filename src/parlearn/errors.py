"""The exceptions parlearn raises, in one tree.

::

    ParlearnError
    ├── MissingDependencyError      an optional extra is not installed (ImportError too)
    ├── PoolClosedError             a pool was used after close() (RuntimeError too)
    ├── BrokenPoolError             a pool can no longer run work (RuntimeError too)
    │   └── WorkerCrashedError      a worker process died while it held items
    ├── TaskTimeoutError            one item ran past ``timeout`` (TimeoutError too)
    └── SerializationError          a function, item or result cannot cross to a worker
                                    (TypeError too)

An exception raised *by a task* is not wrapped: the caller receives the original exception
type, with the item index in a note and the worker's formatted traceback chained as
``__cause__`` (the pattern of CPython's ``concurrent.futures.process``).
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "BrokenPoolError",
    "MissingDependencyError",
    "ParlearnError",
    "PoolClosedError",
    "SerializationError",
    "TaskTimeoutError",
    "WorkerCrashedError",
]


class ParlearnError(Exception):
    """Base class of every error parlearn raises itself."""


class MissingDependencyError(ParlearnError, ImportError):
    """An optional dependency is missing; the message names the extra to install."""

    def __init__(self, package: str, extra: str, feature: str) -> None:
        super().__init__(
            f"{feature} needs the optional package {package!r}, which is not installed; "
            f"install it with: pip install 'parlearn[{extra}]'"
        )
        self.package = package
        self.extra = extra


class PoolClosedError(ParlearnError, RuntimeError):
    """A pool was used after it was closed."""


class BrokenPoolError(ParlearnError, RuntimeError):
    """A pool can no longer run work."""


class WorkerCrashedError(BrokenPoolError):
    """A worker died (killed, segfault, out of memory) while it held items.

    ``items`` are the indices the worker held; ``running`` is the index it was running when it
    died, when known; ``exitcode`` is the process exit code (negative: killed by that signal).
    """

    def __init__(
        self,
        message: str,
        *,
        items: Sequence[int] = (),
        running: int | None = None,
        exitcode: int | None = None,
    ) -> None:
        super().__init__(message)
        self.items = list(items)
        self.running = running
        self.exitcode = exitcode

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_crash, (str(self), self.items, self.running, self.exitcode))


def _rebuild_crash(
    message: str, items: list[int], running: int | None, exitcode: int | None
) -> WorkerCrashedError:
    return WorkerCrashedError(message, items=items, running=running, exitcode=exitcode)


class TaskTimeoutError(ParlearnError, TimeoutError):
    """One item ran longer than the ``timeout`` given to ``map``."""


class SerializationError(ParlearnError, TypeError):
    """A function, an item or a result cannot be pickled to cross to or from a worker."""
