"""What ``errors="collect"`` gives back: every result, with failures in place."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Failure", "Results"]


@dataclass(frozen=True)
class Failure:
    """An item whose task raised. Stands in the results at the item's position."""

    index: int
    exception: BaseException
    traceback: str = ""

    def __repr__(self) -> str:
        return f"Failure(index={self.index}, exception={self.exception!r})"


class Results(list[Any]):
    """A list of results in which failed items are :class:`Failure` objects.

    ``results.failures`` lists the failures; ``results.ok`` is True when there are none.
    """

    @property
    def failures(self) -> list[Failure]:
        return [r for r in self if isinstance(r, Failure)]

    @property
    def ok(self) -> bool:
        return not self.failures
