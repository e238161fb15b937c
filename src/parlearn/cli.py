"""The ``parlearn`` command line.

One typer app; each capability adds its subcommand here (``federate``, ``train``, ``serve``,
``solve``, ``bench``) and keeps its logic in its own package, so this module stays a thin shell.

:func:`main` is the console-script entry point: it turns errors into one clear line on stderr
and exit status 1, never a traceback (``PARLEARN_DEBUG=1`` shows the traceback).
"""

from __future__ import annotations

import os
import sys
import time
from enum import Enum
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from parlearn import __version__
from parlearn._bench_cli import bench_app
from parlearn._federate_cli import federate_command
from parlearn._serve_cli import serve_command
from parlearn._solve_cli import solve_command
from parlearn.errors import ParlearnError

__all__ = ["app", "burn", "main"]

app = typer.Typer(
    name="parlearn",
    help=(
        "Parallel and federated machine learning: every core, every machine, every device "
        "that holds private data.\n\n"
        "Start with [bold]parlearn federate[/bold] (federated learning on a built-in dataset) "
        "or [bold]parlearn demo[/bold] (the parallel engine on every core)."
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

console = Console()
err_console = Console(stderr=True)


def _print_version(value: bool) -> None:
    if value:
        console.print(f"parlearn {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            "-V",
            callback=_print_version,
            is_eager=True,
            help="Print the version and exit.",
        ),
    ] = False,
) -> None:
    """Parallel and federated machine learning on every core, machine and device."""


# --------------------------------------------------------------------------- demo


class DemoBackend(str, Enum):
    """Backends that can run the demo's task (``async`` needs a coroutine function)."""

    processes = "processes"
    threads = "threads"
    serial = "serial"
    ray = "ray"
    auto = "auto"


def burn(job: tuple[int, int]) -> int:
    """CPU-bound pure-Python work: ``iterations`` steps of a linear congruential generator
    from ``seed``. Deterministic, so serial and parallel runs must agree exactly."""
    seed, iterations = job
    x = seed
    for _ in range(iterations):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
    return x


def _iterations_for(seconds: float) -> int:
    """How many :func:`burn` iterations take about ``seconds`` on this machine."""
    n = 10_000
    while True:
        started = time.perf_counter()
        burn((1, n))
        took = time.perf_counter() - started
        # Long enough that timer resolution and a stray context switch do not skew the rate.
        if took >= 0.05:
            return max(1, round(n * seconds / took))
        n *= 4


@app.command()
def demo(
    tasks: Annotated[int, typer.Option(min=1, help="Number of tasks to run.")] = 200,
    task_ms: Annotated[
        float, typer.Option(min=0.1, help="CPU time each task burns, in milliseconds.")
    ] = 20.0,
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="Workers for the parallel run.", show_default="all cores"),
    ] = None,
    backend: Annotated[
        DemoBackend, typer.Option(help="parlearn.parallel backend for the parallel run.")
    ] = DemoBackend.processes,
) -> None:
    """Run the same CPU-bound tasks serially, then on all cores, and show the speedup.

    Each task is a deterministic pure-Python loop, so both runs must give equal results.

    Worker start-up is timed apart from the work: pools are reused across calls.
    """
    from parlearn import parallel

    cores = parallel.cpu_count()
    n_workers = 1 if backend is DemoBackend.serial else (workers or cores)
    name = backend.value

    with err_console.status("measuring this machine's speed..."):
        iterations = _iterations_for(task_ms / 1000)
    jobs = [(seed, iterations) for seed in range(tasks)]
    console.print(
        f"[bold]parlearn demo[/bold]: {tasks} CPU-bound tasks of ~{task_ms:g} ms each "
        f"(pure Python), serial vs [bold]{name}[/bold] with {n_workers} "
        f"worker{'s' if n_workers != 1 else ''} "
        f"on a machine with {cores} cores",
        highlight=False,
    )

    with err_console.status("running serially..."):
        started = time.perf_counter()
        expected = [burn(job) for job in jobs]
        serial_seconds = time.perf_counter() - started

    startup: float | None = None
    with err_console.status(f"running on {name}..."):
        if name == "auto":
            started = time.perf_counter()
            got = parallel.map(burn, jobs, backend="auto", workers=workers)
            parallel_seconds = time.perf_counter() - started
        else:
            started = time.perf_counter()
            with parallel.Pool(name, workers=n_workers) as pool:
                # One trivial item per worker starts them all, so the timing below is the work.
                pool.map(burn, [(seed, 1) for seed in range(pool.workers)], chunksize=1)
                startup = time.perf_counter() - started
                n_workers = pool.workers
                started = time.perf_counter()
                got = parallel.map(burn, jobs, backend=pool)
                parallel_seconds = time.perf_counter() - started

    if got != expected:
        wrong = sum(a != b for a, b in zip(got, expected, strict=False))
        raise ParlearnError(
            f"the {name} run returned {wrong} of {tasks} results that differ from the serial "
            "run; this is a bug in parlearn, please report it"
        )

    speedup = serial_seconds / parallel_seconds if parallel_seconds > 0 else float("inf")
    table = Table(title="same results from both runs", title_justify="left")
    table.add_column("backend")
    table.add_column("workers", justify="right")
    table.add_column("seconds", justify="right")
    table.add_column("speedup", justify="right")
    table.add_row("serial (plain loop)", "1", f"{serial_seconds:.2f}", "1.00x")
    table.add_row(name, str(n_workers), f"{parallel_seconds:.2f}", f"{speedup:.2f}x")
    console.print(table)
    if startup is None:
        console.print("auto: the time includes choosing a backend and starting its workers")
    else:
        console.print(f"worker start-up: {startup:.2f} s (not included above)", highlight=False)
    console.print(_verdict(name, speedup, limit=min(n_workers, cores, tasks)))


def _verdict(backend: str, speedup: float, *, limit: int) -> str:
    if backend == "serial":
        return "Verdict: the serial backend runs one task at a time, so ~1x is expected."
    if limit <= 1:
        return "Verdict: only one core (or worker) is available, so no speedup is possible here."
    share = speedup / limit
    # 80% of the core count is what a quiet machine reaches with tasks of this size.
    if share >= 0.8:
        return (
            f"Verdict: [green]good[/green], {speedup:.2f}x on {limit} cores is {share:.0%} "
            f"of the {limit}x limit."
        )
    if backend == "threads":
        return (
            f"Verdict: {speedup:.2f}x, as expected for threads: pure-Python CPU work holds the "
            "GIL. Use --backend processes for CPU-bound work."
        )
    return (
        f"Verdict: [yellow]{speedup:.2f}x, {share:.0%} of the {limit}x limit[/yellow]. The "
        "machine may be busy, or tasks too short for their overhead; try --task-ms 50."
    )


# --------------------------------------------------------------------------- federate

app.command("federate")(federate_command)


# --------------------------------------------------------------------------- serve

app.command("serve")(serve_command)


# --------------------------------------------------------------------------- solve

app.command("solve")(solve_command)


# --------------------------------------------------------------------------- bench

app.add_typer(bench_app, name="bench")


# --------------------------------------------------------------------------- entry point


def main() -> None:
    """Entry point of the ``parlearn`` console script."""
    try:
        app()
    except Exception as exc:
        if os.environ.get("PARLEARN_DEBUG"):
            raise
        hint = (
            ""
            if isinstance(exc, ParlearnError | ValueError | OSError)
            else (" (set PARLEARN_DEBUG=1 to see the traceback)")
        )
        err_console.print(f"[bold red]error:[/bold red] {escape(str(exc))}{hint}", highlight=False)
        sys.exit(1)


if __name__ == "__main__":
    main()
