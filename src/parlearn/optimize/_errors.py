"""The errors of ``parlearn.optimize``, all under :class:`parlearn.errors.ParlearnError`.

::

    ParlearnError
    ├── ModelError            a model was built wrongly: a bad bound, shape, sense or mixed
    │                         models (ValueError too)
    ├── MalformedFileError    an LP, MPS or AMPL data file cannot be read; names the file,
    │                         the line and what was wrong (ValueError too)
    └── NoSolutionError       values were asked of a result that has no solution
                              (infeasible, unbounded, stopped early) (LookupError too)

A model that is infeasible or unbounded is not an error: ``solve`` returns a ``Result`` whose
``status`` says so and whose ``objective`` is ``None``.
"""

from __future__ import annotations

from pathlib import Path

from parlearn.errors import ParlearnError

__all__ = ["MalformedFileError", "ModelError", "NoSolutionError"]


class ModelError(ParlearnError, ValueError):
    """A model was built wrongly; the message names the bad value and how to fix it."""


class MalformedFileError(ParlearnError, ValueError):
    """A model or data file cannot be read.

    ``path``, ``line`` (1-based, or None when no single line is to blame) and ``reason`` are
    attributes; the message reads ``path:line: reason``, the way compilers report errors."""

    def __init__(self, path: str | Path, line: int | None, reason: str) -> None:
        self.path = str(path)
        self.line = line
        self.reason = reason
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {reason}")


class NoSolutionError(ParlearnError, LookupError):
    """A result has no solution to read values from (see ``Result.status``)."""
