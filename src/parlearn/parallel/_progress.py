"""Progress of a long ``map``: counts, rate and ETA on a terminal, nothing garbled elsewhere.

On a TTY a rich progress bar is drawn on stderr. When stderr is not a terminal (a log file, CI,
a pipe) nothing is redrawn; one summary line is written at the end. ``progress`` may also be a
callable, called as ``callback(done, total)`` after each finished chunk.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any, Protocol

__all__ = ["Reporter", "make_reporter"]

ProgressArg = bool | Callable[[int, int | None], Any]


class Reporter(Protocol):
    def advance(self, n: int) -> None: ...
    def close(self) -> None: ...


class _Silent:
    def advance(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


class _Callback:
    def __init__(self, callback: Callable[[int, int | None], Any], total: int | None) -> None:
        self._callback = callback
        self._total = total
        self._done = 0

    def advance(self, n: int) -> None:
        self._done += n
        self._callback(self._done, self._total)

    def close(self) -> None:
        pass


def _rate_column() -> Any:
    from rich.progress import ProgressColumn
    from rich.text import Text

    class RateColumn(ProgressColumn):
        def render(self, task: Any) -> Text:
            speed = task.finished_speed or task.speed
            return Text(f"{speed:,.0f} items/s" if speed else "- items/s")

    return RateColumn()


class _Bar:
    def __init__(self, total: int | None, label: str) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            _rate_column(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        self._task = self._progress.add_task(label, total=total)
        self._progress.start()

    def advance(self, n: int) -> None:
        self._progress.advance(self._task, n)

    def close(self) -> None:
        self._progress.stop()


class _Summary:
    """Not a terminal: a single line at the end, never a stream of carriage returns."""

    def __init__(self, total: int | None, label: str) -> None:
        self._label = label
        self._total = total
        self._done = 0
        self._started = time.perf_counter()

    def advance(self, n: int) -> None:
        self._done += n

    def close(self) -> None:
        took = time.perf_counter() - self._started
        rate = self._done / took if took > 0 else 0.0
        of = f"/{self._total}" if self._total is not None else ""
        print(
            f"{self._label}: {self._done}{of} items in {took:.2f} s ({rate:,.0f} items/s)",
            file=sys.stderr,
        )


def make_reporter(progress: ProgressArg, total: int | None, label: str) -> Reporter:
    if progress is False or progress is None:
        return _Silent()
    if callable(progress):
        return _Callback(progress, total)
    if sys.stderr is not None and sys.stderr.isatty():
        return _Bar(total, label)
    return _Summary(total, label)
