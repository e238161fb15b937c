"""Running a benchmark: every concurrency model on one workload, and what the numbers mean.

::

    run_bench(workload, plan)
      for each model (sequential first: it is the reference, and finds a failing task early):
          MeasureSpec(workload, model, worker counts, repeats)
            ─► a fresh process: python -m parlearn.lab._child (spec in, points out, as JSON)
               or this process (fresh_process=False)
            ─► Points: seconds per repeat at each worker count, start-up, failures, fingerprint
      each point ─► Timing (median, range) ─► speedup over sequential, efficiency     timing.py
      each parallel model ─► fit_amdahl over (1 worker = the sequential run) + its points
                                                                                    amdahl.py
      recommend(each model at its most workers, CPU share of the sequential run)   recommend.py
    ─► BenchReport ─► tables, JSON, plot                                            report.py

A fresh process per model means no model inherits another's warm caches, threads, open
connections or memory. Inside it: a warm-up, then ``repeats`` timed runs. Worker counts go up
in powers of two to the maximum (the sweep that the Amdahl fit needs).
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import math
import os
import platform
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from parlearn import __version__
from parlearn.errors import ParlearnError
from parlearn.lab._modes import MeasureSpec, Point, TaskError, measure
from parlearn.lab.amdahl import AmdahlFit, fit_amdahl
from parlearn.lab.recommend import MODES, ModeOutcome, Recommendation, recommend
from parlearn.lab.timing import SpeedupRange, Timing, efficiency, speedup, summarize
from parlearn.lab.workload import Workload
from parlearn.parallel import cpu_count

__all__ = [
    "BenchPlan",
    "BenchReport",
    "ModeReport",
    "PointReport",
    "machine_facts",
    "run_bench",
    "sweep_points",
]

# One BLAS/OpenMP thread per process, set for every model alike: a worker is one core, so the
# comparison is between concurrency models, not between hidden thread pools.
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
# A measuring process asked to stop gets this long to close its pools before it is killed.
STOP_GRACE_SECONDS = 10.0
# How long to watch the machine before and after measuring (when nothing of ours runs): long
# enough to see other programs' load, short enough not to matter. Above BUSY_SHARE of all
# cores busy, the report warns.
BUSY_WINDOW_SECONDS = 0.5
BUSY_SHARE = 0.25


@dataclass(frozen=True)
class BenchPlan:
    """What to measure: ``modes`` (sequential is always measured: it is the reference);
    ``workers``, the most threads and asyncio operations in flight; ``processes``, the most
    worker processes (None: one per core); ``repeats`` timed runs per point after a warm-up;
    ``sweep``: also measure at 2, 4, 8, ... workers (for the Amdahl fit); ``fresh_process``:
    each model in a new Python process."""

    modes: tuple[str, ...] = MODES
    workers: int = 32
    processes: int | None = None
    repeats: int = 3
    sweep: bool = True
    fresh_process: bool = True

    def __post_init__(self) -> None:
        unknown = [m for m in self.modes if m not in MODES]
        if unknown:
            raise ValueError(f"unknown mode {unknown[0]!r}; choose from {', '.join(MODES)}")
        if not [m for m in self.modes if m != "sequential"]:
            raise ValueError("choose at least one of threads, asyncio, processes to compare")
        if self.workers < 1 or (self.processes is not None and self.processes < 1):
            raise ValueError(
                f"workers and processes must be >= 1, got {self.workers} and {self.processes}"
            )
        if self.repeats < 1:
            raise ValueError(f"repeats must be >= 1, got {self.repeats}; 3 or more is better")

    def max_workers(self, mode: str) -> int:
        if mode == "sequential":
            return 1
        if mode == "processes":
            return self.processes or cpu_count()
        return self.workers


def sweep_points(max_workers: int, sweep: bool = True) -> tuple[int, ...]:
    """Worker counts to measure: 2, 4, 8, ... below ``max_workers``, then ``max_workers``
    (just ``max_workers`` without ``sweep``). One worker is the sequential run."""
    if max_workers < 1:
        raise ValueError(f"max_workers must be >= 1, got {max_workers}")
    if not sweep:
        return (max_workers,)
    points = []
    n = 2
    while n < max_workers:
        points.append(n)
        n *= 2
    return (*points, max_workers)


@dataclass(frozen=True)
class PointReport:
    """One model at one worker count, compared with the sequential run."""

    mode: str
    workers: int
    timing: Timing
    speedup: SpeedupRange
    efficiency: float
    startup: float | None
    cpu_share: float  # CPU time of the measuring process / wall time (worker processes excluded)
    failures: int
    first_failure: str | None
    same_results: bool | None  # None: results not compared

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "workers": self.workers,
            "seconds": {
                "median": self.timing.median,
                "min": self.timing.low,
                "max": self.timing.high,
                "samples": list(self.timing.samples),
            },
            "speedup": {
                "median": _finite(self.speedup.median),
                "min": _finite(self.speedup.low),
                "max": _finite(self.speedup.high),
            },
            "efficiency": _finite(self.efficiency),
            "startup_seconds": self.startup,
            "cpu_share": self.cpu_share,
            "failures": self.failures,
            "first_failure": self.first_failure,
            "same_results": self.same_results,
        }


@dataclass(frozen=True)
class ModeReport:
    """A parallel model at each measured worker count, and Amdahl's law fitted to it."""

    mode: str
    points: tuple[PointReport, ...]
    fit: AmdahlFit | None

    @property
    def top(self) -> PointReport:
        """The point at the most workers: the one the models are compared at."""
        return max(self.points, key=lambda p: p.workers)

    def predictions(self) -> dict[int, float]:
        """The fitted speedup at 2, 4 and 8 times the most workers measured."""
        if self.fit is None:
            return {}
        return {k * self.top.workers: self.fit.predict(k * self.top.workers) for k in (2, 4, 8)}

    def to_dict(self) -> dict[str, Any]:
        fit = None
        if self.fit is not None:
            fit = {
                "serial_fraction": self.fit.serial_fraction,
                "ceiling": _finite(self.fit.ceiling),
                "rms_error": self.fit.rms_error,
                "exact": self.fit.exact,
                "workers": list(self.fit.workers),
                "speedups": list(self.fit.speedups),
                "karp_flatt": [_finite(e) for e in self.fit.karp_flatt],
                "predictions": {str(k): v for k, v in self.predictions().items()},
            }
        return {"mode": self.mode, "points": [p.to_dict() for p in self.points], "fit": fit}


@dataclass(frozen=True)
class BenchReport:
    """Everything one benchmark measured and concluded."""

    workload: Workload
    plan: BenchPlan
    cores: int
    baseline: PointReport
    modes: tuple[ModeReport, ...]
    recommendation: Recommendation
    seconds: float
    machine: dict[str, Any] = field(default_factory=dict)

    @property
    def busy_around(self) -> float | None:
        """The share of all cores that other programs kept busy just before or just after
        measuring, whichever is larger (None if not sampled)."""
        values = [self.machine.get(k) for k in ("cpu_busy_before", "cpu_busy_after")]
        known = [float(v) for v in values if v is not None]
        return max(known) if known else None

    def mode(self, name: str) -> ModeReport:
        for report in self.modes:
            if report.mode == name:
                return report
        raise KeyError(f"{name!r} was not measured; measured: {[m.mode for m in self.modes]}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "workload": {
                "name": self.workload.name,
                "description": self.workload.description,
                "function": self.workload.function,
                "items": len(self.workload.items),
            },
            "plan": {
                "modes": list(self.plan.modes),
                "workers": self.plan.workers,
                "processes": self.plan.max_workers("processes"),
                "repeats": self.plan.repeats,
                "sweep": self.plan.sweep,
                "fresh_process": self.plan.fresh_process,
            },
            "cores": self.cores,
            "baseline": self.baseline.to_dict(),
            "modes": [m.to_dict() for m in self.modes],
            "recommendation": {
                "mode": self.recommendation.mode,
                "bound": self.recommendation.bound,
                "summary": self.recommendation.summary,
                "reasons": list(self.recommendation.reasons),
            },
            "seconds": self.seconds,
            "machine": self.machine,
        }


# --------------------------------------------------------------------------- running


def run_bench(
    workload: Workload,
    plan: BenchPlan = BenchPlan(),  # frozen, so a shared default is safe
    *,
    progress: Callable[[str], None] | None = None,
) -> BenchReport:
    """Measure each model of ``plan`` on ``workload`` and compare them (see the module doc).

    ``progress`` is called with a line saying what is being measured. Raises
    :class:`~parlearn.lab._modes.TaskError` when the task fails on an item (and the workload
    does not tolerate failures)."""
    import psutil

    busy_before = psutil.cpu_percent(interval=BUSY_WINDOW_SECONDS) / 100
    started = time.perf_counter()
    modes = ["sequential", *(m for m in plan.modes if m != "sequential")]
    measured: dict[str, list[Point]] = {}
    for mode in modes:
        counts = (1,) if mode == "sequential" else sweep_points(plan.max_workers(mode), plan.sweep)
        if progress is not None:
            at = "" if mode == "sequential" else f" at {', '.join(map(str, counts))} workers"
            progress(f"measuring {mode}{at}, {plan.repeats} repeats")
        spec = MeasureSpec(workload, mode, counts, plan.repeats)
        measured[mode] = _in_fresh_process(spec) if plan.fresh_process else measure(spec)
    report = _analyse(workload, plan, measured, time.perf_counter() - started)
    report.machine["cpu_busy_before"] = busy_before
    report.machine["cpu_busy_after"] = psutil.cpu_percent(interval=BUSY_WINDOW_SECONDS) / 100
    return report


def _analyse(
    workload: Workload, plan: BenchPlan, measured: dict[str, list[Point]], seconds: float
) -> BenchReport:
    reference = measured["sequential"][0]
    base = summarize(reference.seconds)
    baseline = _point_report(reference, base, reference.fingerprint, workload.check_results)
    reports = []
    for mode, points in measured.items():
        if mode == "sequential":
            continue
        rows = tuple(
            _point_report(p, base, reference.fingerprint, workload.check_results) for p in points
        )
        parallel = [r for r in rows if r.workers > 1]
        fit = None
        if parallel and all(math.isfinite(r.speedup.median) for r in parallel):
            fit = fit_amdahl(
                [1, *(r.workers for r in parallel)], [1.0, *(r.speedup.median for r in parallel)]
            )
        reports.append(ModeReport(mode, rows, fit))
    cores = cpu_count()
    outcomes = [ModeOutcome(m.mode, m.top.workers, m.top.speedup.median) for m in reports]
    recommendation = recommend(outcomes, cpu_share=baseline.cpu_share, cores=cores)
    return BenchReport(
        workload, plan, cores, baseline, tuple(reports), recommendation, seconds, machine_facts()
    )


def _point_report(point: Point, base: Timing, reference: str, check_results: bool) -> PointReport:
    timing = summarize(point.seconds)
    ratio = speedup(base, timing)
    cpu = sorted(point.cpu_seconds)[len(point.cpu_seconds) // 2]
    return PointReport(
        mode=point.mode,
        workers=point.workers,
        timing=timing,
        speedup=ratio,
        efficiency=efficiency(ratio.median, point.workers),
        startup=point.startup,
        cpu_share=cpu / timing.median if timing.median > 0 else 0.0,
        failures=point.failures,
        first_failure=point.first_failure,
        same_results=(point.fingerprint == reference) if check_results else None,
    )


def _in_fresh_process(spec: MeasureSpec) -> list[Point]:
    try:
        message = json.dumps(spec.to_dict())
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"the workload cannot cross to a fresh process as JSON ({exc}): its items and "
            "options must be JSON values (numbers, strings, lists, dicts); or measure in this "
            "process with BenchPlan(fresh_process=False)"
        ) from None
    env = {**os.environ, **dict.fromkeys(THREAD_VARS, "1")}
    process = subprocess.Popen(
        [sys.executable, "-m", "parlearn.lab._child"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        out, err = process.communicate(message)
    except BaseException:  # Ctrl-C or an error here: the child and its workers go too
        _stop(process)
        raise
    try:
        payload = json.loads(out) if out.strip() else {}
    except json.JSONDecodeError:
        payload = {}
    if "points" in payload:
        return [Point.from_dict(p) for p in payload["points"]]
    if "task_error" in payload:
        info = payload["task_error"]
        raise TaskError(info["message"], index=info["index"], error_type=info["type"])
    if "error" in payload:
        raise ParlearnError(f"measuring {spec.mode} failed: {payload['error']}")
    if process.returncode in (-signal.SIGINT, 130):
        raise KeyboardInterrupt
    tail = "\n".join(err.strip().splitlines()[-15:])
    raise ParlearnError(
        f"the process measuring {spec.mode} ended with exit status {process.returncode} and "
        f"no result; its last output:\n{tail}"
    )


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    for stream in (process.stdin, process.stdout, process.stderr):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()


# --------------------------------------------------------------------------- helpers


def machine_facts() -> dict[str, Any]:
    """Cores, CPU, Python, library versions, date and load: what a reader needs to judge a
    number."""
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    versions: dict[str, str | None] = {"parlearn": __version__}
    for package in ("aiohttp", "urllib3", "pillow", "scipy", "numpy"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "cores": cpu_count(),
        "cpu_model": model,
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "versions": versions,
        "thread_env": dict.fromkeys(THREAD_VARS, "1"),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "loadavg_at_end": list(os.getloadavg()),
    }


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
