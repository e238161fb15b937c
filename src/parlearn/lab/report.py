"""Showing a :class:`~parlearn.lab.bench.BenchReport`: rich tables, JSON, a speedup plot.

Nothing here measures or decides; it formats what ``bench.py`` measured and concluded.
matplotlib is imported only by :func:`plot_reports`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from parlearn import __version__
from parlearn.lab.amdahl import amdahl_speedup
from parlearn.lab.bench import BUSY_SHARE, BenchReport, ModeReport, PointReport
from parlearn.lab.recommend import format_speedup

__all__ = ["amdahl_notes", "plot_reports", "print_report", "reports_to_json"]

# A fit whose curve misses the measured times by more than 10% (RMS) is a poor description:
# the serial fraction is then a summary, not a property of the work.
POOR_FIT = 0.10
# Karp-Flatt serial fractions that double from the first to the last worker count, and reach
# at least 2%, mean an overhead that grows with the workers (not a fixed serial part).
GROWTH = 2.0
GROWTH_FLOOR = 0.02
COLORS = {"threads": "tab:blue", "asyncio": "tab:green", "processes": "tab:orange"}


def print_report(report: BenchReport, console: Console, *, title: str) -> None:
    """The comparison table, the sweep table with the Amdahl fit, the recommendation."""
    plan = report.plan
    where = "each model in a fresh process" if plan.fresh_process else "all models in this process"
    console.print(
        f"[bold]{escape(title)}[/bold]: {escape(report.workload.description)}; "
        f"{plan.repeats} repeat{'s' if plan.repeats != 1 else ''} after a warm-up, {where}, "
        f"{report.cores} core{'s' if report.cores != 1 else ''}",
        highlight=False,
        soft_wrap=True,
    )
    console.print(_comparison_table(report))
    if any(m.fit is not None for m in report.modes):
        console.print(_sweep_table(report))
    for line in _warnings(report):
        console.print(
            f"[bold yellow]warning:[/bold yellow] {escape(line)}", highlight=False, soft_wrap=True
        )
    rec = report.recommendation
    console.print(
        f"[bold]Recommendation[/bold]: {escape(rec.summary)}", highlight=False, soft_wrap=True
    )
    for reason in rec.reasons:
        console.print(f"  - {escape(reason)}", highlight=False, soft_wrap=True)
    for note in amdahl_notes(report):
        console.print(f"  - {escape(note)}", highlight=False, soft_wrap=True)


def _comparison_table(report: BenchReport) -> Table:
    table = Table(title_justify="left")
    for name in ("model", "workers", "seconds: median (min-max)", "speedup", "efficiency"):
        table.add_column(name, justify="left" if name == "model" else "right")
    table.add_column("start-up s", justify="right")
    table.add_column("results", justify="left")
    rows = [report.baseline, *(m.top for m in report.modes)]
    for point in rows:
        table.add_row(*_row(point, reference=point is report.baseline))
    return table


def _row(point: PointReport, *, reference: bool) -> list[str]:
    t = point.timing
    digits = 3 if t.median < 10 else 1
    seconds = f"{t.median:.{digits}f} ({t.low:.{digits}f}-{t.high:.{digits}f})"
    if reference:
        results = "reference"
    elif point.same_results is None:
        results = "not compared"
    else:
        results = "same" if point.same_results else "[red]DIFFERENT[/red]"
    if point.failures:
        results += f", {point.failures} failed"
    return [
        point.mode,
        str(point.workers),
        seconds,
        format_speedup(point.speedup.median),
        f"{point.efficiency:.0%}",
        "-" if point.startup is None else f"{point.startup:.3f}",
        results,
    ]


def _sweep_table(report: BenchReport) -> Table:
    counts = sorted({p.workers for m in report.modes for p in m.points})
    table = Table(
        title="speedup by workers (1 worker = the sequential run), and Amdahl's law fitted to it",
        title_justify="left",
    )
    table.add_column("model")
    for n in counts:
        table.add_column(str(n), justify="right")
    for name in ("serial fraction", "fit error", "predicted", "ceiling"):
        table.add_column(name, justify="right")
    for mode in report.modes:
        by_workers = {p.workers: p for p in mode.points}
        cells = [
            format_speedup(by_workers[n].speedup.median) if n in by_workers else "" for n in counts
        ]
        fit = mode.fit
        if fit is None:
            tail = ["-", "-", "-", "-"]
        else:
            predicted = ", ".join(
                f"{n}: {format_speedup(v)}" for n, v in mode.predictions().items()
            )
            tail = [
                f"{fit.serial_fraction:.1%}",
                "exact" if fit.exact else f"{fit.rms_error:.1%}",
                predicted,
                _ceiling(fit.ceiling),
            ]
        table.add_row(mode.mode, *cells, *tail)
    return table


def _ceiling(value: float) -> str:
    # Past 1000x the serial fraction is below 0.1%: within the noise of a few repeats.
    return "> 1000x" if value > 1000 else format_speedup(value)


def _warnings(report: BenchReport) -> list[str]:
    lines = []
    busy = report.busy_around
    if busy is not None and busy > BUSY_SHARE:
        lines.append(
            f"other programs kept the machine {busy:.0%} busy around this run: the timings may "
            "be skewed (processes most); rerun when it is quiet"
        )
    for point in [report.baseline, *(p for m in report.modes for p in m.points)]:
        if point.same_results is False:
            lines.append(
                f"{point.mode} at {point.workers} workers returned different results from the "
                "sequential run (a task that is not deterministic, or shares state between items)"
            )
        if point.failures:
            lines.append(
                f"{point.failures} of {len(report.workload.items)} items failed in {point.mode} at "
                f"{point.workers} workers (first: {point.first_failure}); its time counts them "
                "as done"
            )
    return lines


def amdahl_notes(report: BenchReport) -> list[str]:
    """What the Amdahl fit of the recommended model (or the fastest) says, in words."""
    if not report.modes:
        return []
    chosen = report.recommendation.mode
    mode = next(
        (m for m in report.modes if m.mode == chosen),
        max(report.modes, key=lambda m: m.top.speedup.median),
    )
    fit = mode.fit
    if fit is None:
        return []
    unit = "cores" if mode.mode == "processes" else "workers"
    if fit.ceiling > 1000:
        ceiling = f"no ceiling in sight (above 1000x) however many {unit}"
    else:
        ceiling = f"at most {format_speedup(fit.ceiling)} however many {unit}"
    predicted = ", ".join(f"{n} {unit}: {format_speedup(v)}" for n, v in mode.predictions().items())
    notes = [
        f"Amdahl ({mode.mode}): serial fraction {fit.serial_fraction:.1%}, so {ceiling}; "
        f"predicted {predicted}"
    ]
    if fit.exact:
        notes.append(
            f"{mode.mode} was measured at one worker count above 1, so any serial fraction fits "
            "it exactly: the prediction assumes Amdahl's law, it does not test it"
        )
    elif fit.rms_error > POOR_FIT:
        notes.append(
            f"the fitted curve misses the measured times by {fit.rms_error:.0%} (RMS): the "
            "speedup is not limited by a fixed serial part alone; read the ceiling as rough"
        )
    implied = [(n, e) for n, e in zip(fit.workers, fit.karp_flatt, strict=True) if n > 1]
    if len(implied) >= 3:
        (n0, e0), (n1, e1) = implied[0], implied[-1]
        if e1 >= GROWTH_FLOOR and e1 > GROWTH * max(e0, 1e-9):
            notes.append(
                f"the serial fraction each measurement implies grows from {e0:.1%} at {n0} "
                f"workers to {e1:.1%} at {n1} (Karp-Flatt): an overhead that grows with the "
                "workers, so the ceiling is optimistic"
            )
    if mode.mode != "processes" and report.recommendation.bound == "I/O-bound":
        notes.append(
            f"for {mode.mode}, a worker is one operation in flight, not a core; and no more "
            f"than the {len(report.workload.items)} items can be in flight at once"
        )
    return notes


def reports_to_json(reports: Sequence[BenchReport]) -> dict[str, Any]:
    """The reports as one JSON-ready document."""
    return {"parlearn": __version__, "reports": [r.to_dict() for r in reports]}


def plot_reports(reports: Sequence[BenchReport], path: str | os.PathLike[str]) -> Path:
    """A PNG of speedup against workers, one panel per report: the measured points (median,
    with the repeats' range), the fitted Amdahl curve of each model, and the ideal line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib import ticker

    out = Path(path)
    fig, axes = plt.subplots(
        1, len(reports), figsize=(6.4 * len(reports), 4.8), squeeze=False, layout="constrained"
    )
    for ax, report in zip(axes[0], reports, strict=True):
        top = max((m.top.workers for m in report.modes), default=2)
        x = np.geomspace(1, 8 * top, 200)
        ax.plot(x, x, color="0.6", linestyle=":", label="ideal (speedup = workers)")
        for mode in report.modes:
            _plot_mode(ax, mode, x)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log", base=2)
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.set_xlabel("workers (threads, operations in flight, or processes)")
        ax.set_ylabel("speedup over the sequential run")
        ax.set_title(f"{report.workload.description}\n{report.recommendation.summary}", fontsize=9)
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=8, loc="upper left")
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def _plot_mode(ax: Any, mode: ModeReport, x: Any) -> None:
    color = COLORS.get(mode.mode)
    points = sorted(mode.points, key=lambda p: p.workers)
    workers = [1, *(p.workers for p in points)]
    medians = [1.0, *(p.speedup.median for p in points)]
    low = [0.0, *(p.speedup.median - p.speedup.low for p in points)]
    high = [0.0, *(p.speedup.high - p.speedup.median for p in points)]
    ax.errorbar(
        workers, medians, yerr=[low, high], fmt="o", color=color, capsize=3, label=f"{mode.mode}"
    )
    if mode.fit is not None:
        fit = mode.fit
        ax.plot(
            x,
            amdahl_speedup(x, fit.serial_fraction),
            color=color,
            linestyle="--",
            label=f"{mode.mode}: Amdahl, serial fraction {fit.serial_fraction:.1%}",
        )
