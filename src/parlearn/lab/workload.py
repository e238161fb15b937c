"""What a benchmark runs: a :class:`Workload`, and the built-in ones.

A workload names its task by import path (``"module:function"``) and holds its items as JSON
values, so it can be written to a fresh Python process and rebuilt there: each concurrency
model is measured in a process of its own (see ``bench.py``). The task is called as
``function(item, **options)``.

Built in: :func:`io_workload` (GET a list of URLs), :func:`images_workload` (resize images with
Pillow), :func:`loop_workload` (a pure-Python loop); and :func:`python_workload`, the user's own
function over items read from a JSON-lines file.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import json
import os
import sys
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from parlearn.errors import ParlearnError

__all__ = [
    "Workload",
    "images_workload",
    "import_paths",
    "io_workload",
    "load_items",
    "loop_workload",
    "python_workload",
    "resolve",
]


@dataclass(frozen=True)
class Workload:
    """A task and its items, in a form that crosses to a fresh process as JSON.

    - ``function``: ``"module:qualname"`` of the blocking task, called ``function(item,
      **options)`` (it may be a coroutine function: blocking models then run it with
      ``asyncio.run`` per item).
    - ``coroutine_function``: the same task as a coroutine function, for the asyncio model; None
      runs ``function`` inside a coroutine, which shows what blocking code does to an event loop.
    - ``chunksize``: items per dispatch for the parallel models (None: the engine sizes chunks).
    - ``tolerate_failures``: count failed items (network errors) instead of stopping.
    - ``check_results``: every model must return what the sequential run returned.
    - ``cleanup`` / ``async_cleanup``: ``"module:qualname"`` called at the end of a measurement
      (blocking, in the measuring process) and on each asyncio model's event loop before it
      closes (a coroutine function), to close connections.
    - ``import_paths``: folders put on ``sys.path`` to import the user's module.
    """

    name: str
    description: str
    function: str
    items: tuple[Any, ...]
    coroutine_function: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    chunksize: int | None = None
    tolerate_failures: bool = False
    check_results: bool = True
    cleanup: str | None = None
    async_cleanup: str | None = None
    import_paths: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.items:
            raise ValueError(f"workload {self.name!r} has no items; give it at least one")
        if self.chunksize is not None and self.chunksize < 1:
            raise ValueError(f"chunksize must be >= 1 or None, got {self.chunksize!r}")

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["items"] = list(self.items)
        data["options"] = dict(self.options)
        data["import_paths"] = list(self.import_paths)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Workload:
        values = dict(data)
        values["items"] = tuple(values["items"])
        values["import_paths"] = tuple(values.get("import_paths", ()))
        return cls(**values)


# --------------------------------------------------------------------------- importing


@contextmanager
def import_paths(paths: Sequence[str]) -> Iterator[None]:
    """Put ``paths`` first on ``sys.path`` for the block (worker processes inherit it)."""
    added = [p for p in paths if p not in sys.path]
    sys.path[:0] = added
    try:
        yield
    finally:
        for path in added:
            if path in sys.path:
                sys.path.remove(path)


def resolve(target: str) -> Callable[..., Any]:
    """The callable that ``"module:qualname"`` names, with errors that say how to fix it."""
    module_name, sep, qualname = target.partition(":")
    if not sep or not module_name or not qualname:
        raise ValueError(f"expected MODULE:FUNCTION, like mytasks:resize, got {target!r}")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise ParlearnError(
                f"cannot import module {module_name!r}: no module named {exc.name!r}; run from "
                "the folder that holds it, or add that folder to PYTHONPATH"
            ) from None
        raise ParlearnError(f"cannot import module {module_name!r}: {exc}") from None
    except Exception as exc:
        raise ParlearnError(
            f"importing module {module_name!r} failed with {type(exc).__name__}: {exc}; fix the "
            "module so that it imports (python -c 'import " + module_name + "')"
        ) from None
    found: Any = module
    for part in qualname.split("."):
        try:
            found = getattr(found, part)
        except AttributeError:
            names = sorted(
                n for n, v in vars(module).items() if callable(v) and not n.startswith("_")
            )
            hint = f"; it defines {', '.join(names[:8])}" if names else ""
            raise ParlearnError(f"module {module_name!r} has no {qualname!r}{hint}") from None
    if not callable(found):
        raise ParlearnError(
            f"{target} is a {type(found).__name__}, not a function; name a function that takes "
            "one item"
        )
    return found  # type: ignore[no-any-return]


def load_items(path: str | os.PathLike[str]) -> list[Any]:
    """Items from a JSON-lines file: one JSON value per line; blank lines are skipped."""
    file = Path(path)
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise FileNotFoundError(f"no such items file: {file}") from None
    items: list[Any] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            items.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"line {number} of {file} is not JSON ({exc.msg}): {line[:60]!r}; write one JSON "
                'value per line, like 42, "text" or [1, 2]'
            ) from None
    if not items:
        raise ValueError(f"{file} holds no items; write one JSON value per line")
    return items


# --------------------------------------------------------------------------- built-ins


def io_workload(
    urls: Sequence[str],
    *,
    timeout: float = 10.0,
    retries: int = 2,
    rate: float | None = None,
    rate_dir: str | None = None,
    digest: bool = True,
    description: str | None = None,
) -> Workload:
    """GET each URL: blocking (urllib3) for sequential, threads and processes; aiohttp for
    asyncio. Failed requests are counted, not fatal; bodies are compared when ``digest``."""
    from parlearn.lab._http import FetchSettings

    settings = FetchSettings(timeout, retries, rate=rate, rate_dir=rate_dir, digest=digest)
    hosts = {urllib.parse.urlsplit(u).netloc for u in urls}
    default = f"GET {len(urls)} URLs from {len(hosts)} host{'s' if len(hosts) != 1 else ''}"
    return Workload(
        name="io",
        description=description or default,
        function="parlearn.lab._http:fetch_task",
        coroutine_function="parlearn.lab._http:afetch_task",
        items=tuple(urls),
        options=dataclasses.asdict(settings),
        chunksize=1,  # each request waits far longer than a dispatch costs
        tolerate_failures=True,
        check_results=digest,
        cleanup="parlearn.lab._http:close_pool",
        async_cleanup="parlearn.lab._http:close_session",
    )


def images_workload(
    paths: Sequence[str | os.PathLike[str]], *, scale: float = 0.25, description: str | None = None
) -> Workload:
    """Resize each image by ``scale`` with Pillow (decode, Lanczos resample, JPEG encode)."""
    if not 0 < scale <= 4:
        raise ValueError(f"scale must be in (0, 4], got {scale!r}")
    return Workload(
        name="images",
        description=description or f"resize {len(paths)} images to {scale:.0%} (Pillow)",
        function="parlearn.lab._cpu:resize_image",
        items=tuple(str(p) for p in paths),
        options={"scale": scale},
    )


def loop_workload(tasks: int, iterations: int, *, task_ms: float | None = None) -> Workload:
    """``tasks`` pure-Python loops of ``iterations`` steps each (distinct seeds)."""
    if tasks < 1 or iterations < 1:
        raise ValueError(f"need tasks >= 1 and iterations >= 1, got {tasks}, {iterations}")
    each = f"~{task_ms:g} ms" if task_ms else f"{iterations:,} steps"
    return Workload(
        name="loop",
        description=f"{tasks} pure-Python loops of {each} each",
        function="parlearn.lab._cpu:numeric_loop",
        items=tuple([seed, iterations] for seed in range(tasks)),
    )


def python_workload(target: str, items: Sequence[Any], *, source: str = "items") -> Workload:
    """The user's ``MODULE:FUNCTION`` over ``items`` (JSON values), imported from the current
    folder or ``PYTHONPATH``. Checked here, so a module that does not import fails now."""
    paths = (os.getcwd(),)
    with import_paths(paths):
        function = resolve(target)
    is_coroutine = inspect.iscoroutinefunction(function)
    return Workload(
        name="python",
        description=f"{target} over {len(items)} items from {source}",
        function=target,
        coroutine_function=target if is_coroutine else None,
        items=tuple(items),
        import_paths=paths,
    )
