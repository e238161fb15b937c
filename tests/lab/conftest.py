"""Helpers for the lab tests: a user module written to a temporary folder."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

USER_MODULE = """
import asyncio


def double(x):
    return 2 * x


async def adouble(x):
    await asyncio.sleep(0.001)
    return 2 * x


def picky(x):
    if x == 3:
        raise ValueError("three is bad")
    return x


def chatty(x):
    print("hello from the task", x)
    return x + 1
"""


@pytest.fixture
def user_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[str, str], str]]:
    """Write a module into a temporary folder that becomes the current directory; returns a
    function ``(name, source) -> name`` (``source`` defaults to a few example tasks)."""
    monkeypatch.chdir(tmp_path)
    written: list[str] = []

    def write(name: str, source: str = USER_MODULE) -> str:
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        written.append(name)
        return name

    yield write
    for name in written:
        sys.modules.pop(name, None)
