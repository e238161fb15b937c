"""What can go wrong while serving, in two kinds.

::

    ParlearnError
    └── ModelLoadError        a model file cannot be served (ValueError too): unknown format,
                              untrusted pickle, broken file, name clash in a folder

    RequestError              one HTTP request is refused; carries its status code (400, 404,
                              413, 422, 503, 504, ...), the message and the field it names

A ``ModelLoadError`` stops the server before it starts (one line on stderr); a
``RequestError`` becomes one JSON error response and touches nothing else.
"""

from __future__ import annotations

from parlearn.errors import ParlearnError

__all__ = ["ModelLoadError", "RequestError"]


class ModelLoadError(ParlearnError, ValueError):
    """A model file cannot be served; the message names the file and what to do."""


class RequestError(Exception):
    """One request is refused with ``status``; ``field`` names the part of the body at fault."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.headers = headers or {}
