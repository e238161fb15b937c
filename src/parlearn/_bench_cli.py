"""``parlearn bench``: which concurrency model fits a workload, and by how much.

Three commands over :mod:`parlearn.lab`: ``io`` (fetching URLs: a local server by default, or the
user's list), ``cpu`` (resizing images with Pillow, and a pure-Python loop) and ``python`` (the
user's function over JSON-lines items). Each prints a table per workload, the speedup at each
worker count with Amdahl's law fitted to it, and a recommendation; ``--json`` prints the same
as JSON instead, ``--plot`` writes a PNG.
"""

from __future__ import annotations

import functools
import json
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

if TYPE_CHECKING:
    from parlearn.lab import BenchPlan, BenchReport, Workload

__all__ = ["bench_app"]

bench_app = typer.Typer(
    name="bench",
    help=(
        "Time the same work sequentially, with threads, with asyncio and with processes; show "
        "the speedups, Amdahl's law fitted to them, and which model to use.\n\n"
        "[bold]parlearn bench io[/bold] (I/O-bound: fetching URLs), "
        "[bold]parlearn bench cpu[/bold] (CPU-bound: images and a Python loop), "
        "[bold]parlearn bench python MODULE:FUNCTION --items FILE[/bold] (your own function)."
    ),
    no_args_is_help=True,
    rich_markup_mode="rich",
)

# Options every command shares.
Processes = Annotated[
    int | None,
    typer.Option(min=1, help="Most worker processes.", show_default="one per core"),
]
Repeats = Annotated[
    int, typer.Option(min=1, help="Timed runs per measurement, after a warm-up (median shown).")
]
Sweep = Annotated[
    bool,
    typer.Option(
        "--sweep/--no-sweep",
        help="Also measure at 2, 4, 8, ... workers, for the Amdahl fit.",
    ),
]
PlotFile = Annotated[
    Path | None, typer.Option("--plot", help="Write a PNG of speedup vs workers here.")
]
JsonOut = Annotated[
    bool, typer.Option("--json", help="Print the results as JSON on stdout, not tables.")
]
InProcess = Annotated[
    bool,
    typer.Option(
        "--in-process",
        help="Measure every model in this process (faster; by default each gets a fresh one).",
    ),
]


class CpuWorkload(str, Enum):
    both = "both"
    images = "images"
    loop = "loop"


# --------------------------------------------------------------------------- io


@bench_app.command("io")
def io_command(
    urls: Annotated[
        Path | None,
        typer.Option(
            help="A file of URLs, one per line, to fetch instead of the local server's.",
            show_default="a local server",
        ),
    ] = None,
    requests: Annotated[
        int, typer.Option(min=1, help="Requests to the local server (without --urls).")
    ] = 64,
    latency_ms: Annotated[
        float, typer.Option(min=0.0, help="The local server's delay before each answer, in ms.")
    ] = 20.0,
    payload_kib: Annotated[
        float, typer.Option(min=0.0, help="The local server's body size, in KiB.")
    ] = 16.0,
    workers: Annotated[
        int, typer.Option(min=1, help="Most threads, and most asyncio requests in flight.")
    ] = 32,
    processes: Processes = None,
    repeats: Repeats = 3,
    timeout: Annotated[float, typer.Option(min=0.001, help="Seconds per request attempt.")] = 10.0,
    retries: Annotated[
        int, typer.Option(min=0, help="Retries of a request that failed for a transient cause.")
    ] = 2,
    rate: Annotated[
        float | None,
        typer.Option(
            min=0.001,
            help="With --urls: most requests per second to each host, across all workers.",
            show_default="20 with --urls, none for the local server",
        ),
    ] = None,
    sweep: Sweep = True,
    plot: PlotFile = None,
    json_out: JsonOut = False,
    in_process: InProcess = False,
) -> None:
    """I/O-bound: fetch URLs sequentially, with threads, asyncio and processes.

    With no --urls, a local HTTP server on 127.0.0.1 answers every request after --latency-ms
    (no network needed).
    """
    from parlearn.lab import BenchPlan, LocalServer, check_urls, io_workload, read_urls
    from parlearn.lab._http import FetchSettings

    plan = BenchPlan(
        workers=workers,
        processes=processes,
        repeats=repeats,
        sweep=sweep,
        fresh_process=not in_process,
    )
    console = _console(json_out)
    with (
        _terminate_as_interrupt(),
        tempfile.TemporaryDirectory(prefix="parlearn_bench_") as scratch,
    ):
        if urls is not None:
            url_list = read_urls(urls)
            limit = 20.0 if rate is None else rate
            settings = FetchSettings(timeout, retries, rate=limit, rate_dir=scratch, digest=False)
            with _status(console, f"checking the {len(url_list)} URLs of {urls}..."):
                check_urls(url_list, settings, source=str(urls))
            workload = io_workload(
                url_list,
                timeout=timeout,
                retries=retries,
                rate=limit,
                rate_dir=scratch,
                digest=False,
                description=f"GET {len(url_list)} URLs from {urls} (at most {limit:g} "
                "requests/s per host)",
            )
            reports = _run(console, "parlearn bench io", [workload], plan, json_out, plot)
            _rate_note(console, reports[0], limit)
            return
        if rate is not None:
            raise typer.BadParameter("--rate applies to --urls only", param_hint="--rate")
        payload = round(payload_kib * 1024)
        with LocalServer(latency=latency_ms / 1000, payload=payload) as server:
            workload = io_workload(
                server.urls(requests),
                timeout=timeout,
                retries=retries,
                description=f"GET {requests} URLs from a local server ({latency_ms:g} ms "
                f"latency, {payload_kib:g} KiB each)",
            )
            _run(console, "parlearn bench io", [workload], plan, json_out, plot)


def _rate_note(console: Console, report: BenchReport, limit: float) -> None:
    import urllib.parse

    hosts = {urllib.parse.urlsplit(u).netloc for u in report.workload.items}
    fastest = max((m.top for m in report.modes), key=lambda p: p.speedup.median)
    achieved = len(report.workload.items) / fastest.timing.median
    if achieved >= 0.8 * limit * len(hosts):
        console.print(
            f"note: {fastest.mode} reached {achieved:.1f} requests/s, near the limit of "
            f"{limit:g} per host (--rate): the rate limit, not the model, capped the speedup",
            highlight=False,
            soft_wrap=True,
        )


# --------------------------------------------------------------------------- cpu


@bench_app.command("cpu")
def cpu_command(
    workload: Annotated[
        CpuWorkload,
        typer.Option(help="images (Pillow), loop (pure Python), or both, one after the other."),
    ] = CpuWorkload.both,
    images: Annotated[
        Path | None,
        typer.Option(help="A folder of your images to resize, instead of generated ones."),
    ] = None,
    tasks: Annotated[int, typer.Option(min=1, help="Generated images, and loop tasks.")] = 16,
    task_ms: Annotated[
        float, typer.Option(min=0.1, help="CPU time of each loop task, in ms.")
    ] = 50.0,
    size: Annotated[str, typer.Option(help="Size of the generated images, WIDTHxHEIGHT.")] = (
        "1600x1200"
    ),
    scale: Annotated[
        float, typer.Option(min=0.01, max=4.0, help="Resize factor of the image task.")
    ] = 0.25,
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="Most threads (and asyncio tasks).", show_default="one per core"),
    ] = None,
    processes: Processes = None,
    repeats: Repeats = 3,
    sweep: Sweep = True,
    plot: PlotFile = None,
    json_out: JsonOut = False,
    in_process: InProcess = False,
) -> None:
    """CPU-bound: resize images with Pillow, and run a pure-Python loop, under each model.

    Pillow's C code releases the GIL and Python bytecode does not: the two show why threads
    help one and not the other.
    """
    from parlearn.lab import (
        BenchPlan,
        find_images,
        generate_images,
        images_workload,
        loop_workload,
    )
    from parlearn.lab._cpu import iterations_for
    from parlearn.parallel import cpu_count

    width, height = _size(size)
    plan = BenchPlan(
        workers=workers or cpu_count(),
        processes=processes,
        repeats=repeats,
        sweep=sweep,
        fresh_process=not in_process,
    )
    console = _console(json_out)
    chosen = CpuWorkload.images if images is not None else workload
    with (
        _terminate_as_interrupt(),
        tempfile.TemporaryDirectory(prefix="parlearn_bench_") as scratch,
    ):
        workloads: list[Workload] = []
        if chosen in (CpuWorkload.images, CpuWorkload.both):
            if images is not None:
                paths = find_images(images)
                what = f"resize {len(paths)} images from {images} to {scale:.0%} (Pillow)"
            else:
                with _status(console, f"generating {tasks} {width}x{height} images..."):
                    paths = generate_images(scratch, tasks, (width, height))
                what = f"resize {tasks} generated {width}x{height} JPEGs to {scale:.0%} (Pillow)"
            workloads.append(images_workload(paths, scale=scale, description=what))
        if chosen in (CpuWorkload.loop, CpuWorkload.both):
            with _status(console, "measuring this machine's speed..."):
                iterations = iterations_for(task_ms / 1000)
            workloads.append(loop_workload(tasks, iterations, task_ms=task_ms))
        _run(console, "parlearn bench cpu", workloads, plan, json_out, plot)


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise typer.BadParameter(
            f"expected WIDTHxHEIGHT, like 1600x1200, got {text!r}", param_hint="--size"
        ) from None
    if width < 1 or height < 1:
        raise typer.BadParameter(
            f"width and height must be >= 1, got {text!r}", param_hint="--size"
        )
    return width, height


# --------------------------------------------------------------------------- python


@bench_app.command("python")
def python_command(
    target: Annotated[
        str, typer.Argument(help="Your function as MODULE:FUNCTION, e.g. mytasks:resize.")
    ],
    items: Annotated[
        Path, typer.Option(help="A JSON-lines file: one item (a JSON value) per line.")
    ],
    workers: Annotated[
        int | None,
        typer.Option(
            min=1, help="Most threads and asyncio tasks in flight.", show_default="one per core"
        ),
    ] = None,
    processes: Processes = None,
    repeats: Repeats = 3,
    sweep: Sweep = True,
    plot: PlotFile = None,
    json_out: JsonOut = False,
    in_process: InProcess = False,
) -> None:
    """Your own function: FUNCTION(item) for each item of --items, under each model.

    The module is imported from the current folder or PYTHONPATH. An async def function runs
    natively under asyncio (and with asyncio.run per item elsewhere); a plain function runs
    inside a coroutine under asyncio, which shows what blocking code does to an event loop.
    """
    from parlearn.lab import BenchPlan, load_items, python_workload
    from parlearn.parallel import cpu_count

    plan = BenchPlan(
        workers=workers or cpu_count(),
        processes=processes,
        repeats=repeats,
        sweep=sweep,
        fresh_process=not in_process,
    )
    console = _console(json_out)
    workload = python_workload(target, load_items(items), source=str(items))
    with _terminate_as_interrupt():
        _run(console, "parlearn bench python", [workload], plan, json_out, plot)


# --------------------------------------------------------------------------- shared


def _console(json_out: bool) -> Console:
    """Where tables go: stdout, or stderr when stdout carries JSON."""
    console = Console(stderr=json_out)
    if not console.is_terminal:
        console = Console(stderr=json_out, width=140)  # logs and pipes: room for the tables
    return console


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (``kill``, a supervisor) unwinds like Ctrl-C, so the server, the measuring
    process and the temporary folder are cleaned up either way."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def _status(console: Console, message: str) -> Iterator[Callable[[str], None]]:
    """A spinner line on a terminal; nothing elsewhere. Yields a function to change it."""
    status_console = Console(stderr=True)
    if not status_console.is_terminal:
        yield lambda text: None
        return
    with status_console.status(message) as status:
        yield lambda text: status.update(text)


def _run(
    console: Console,
    title: str,
    workloads: list[Workload],
    plan: BenchPlan,
    json_out: bool,
    plot: Path | None,
) -> list[BenchReport]:
    from parlearn.lab import plot_reports, print_report, reports_to_json, run_bench

    reports = []
    for workload in workloads:
        label = workload.description
        with _status(console, f"{label}...") as update:
            report = run_bench(workload, plan, progress=functools.partial(_progress, update, label))
        reports.append(report)
        if not json_out:
            print_report(report, console, title=title)
            console.print()
    if plot is not None:
        written = plot_reports(reports, plot)
        console.print(f"wrote {written}", highlight=False, soft_wrap=True)
    if json_out:
        sys.stdout.write(json.dumps(reports_to_json(reports), indent=2) + "\n")
    return reports


def _progress(update: Callable[[str], None], label: str, text: str) -> None:
    update(f"{label}: {text}...")
