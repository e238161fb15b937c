"""What every benchmark script shares: machine facts, summary statistics, Markdown tables."""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import platform
import statistics
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

__all__ = ["THREAD_VARS", "machine_facts", "markdown_table", "ratio", "stats", "value_range"]

# Every library gets one BLAS/OpenMP thread per process: a worker per core, no oversubscription.
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def machine_facts(packages: Sequence[str], **extra: Any) -> dict[str, Any]:
    """Cores, CPU, memory, Python, the versions of ``packages``, date and load: what a reader
    needs to judge a number."""
    import psutil

    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    versions: dict[str, str | None] = {}
    for package in packages:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "cores": len(os.sched_getaffinity(0)),
        "cpu_count": os.cpu_count(),
        "cpu_model": model,
        "memory_gb": round(psutil.virtual_memory().total / 1e9, 1),
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "versions": versions,
        "thread_env": dict.fromkeys(THREAD_VARS, "1"),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "loadavg_at_start": os.getloadavg(),
        **extra,
    }


def stats(values: Sequence[float]) -> dict[str, float] | None:
    """Median, min, max and count, or None for no values (a failed configuration)."""
    if not values:
        return None
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "n": len(values),
    }


def value_range(summary: dict[str, float] | None, *, scale: float = 1.0, digits: int = 2) -> str:
    """``median (min-max)``, scaled."""
    if summary is None:
        return "failed"
    m, lo, hi = (summary[k] * scale for k in ("median", "min", "max"))
    return f"{m:.{digits}f} ({lo:.{digits}f}-{hi:.{digits}f})"


def ratio(summary: dict[str, float] | None, digits: int = 2) -> str:
    """``median x (min-max)`` of a ratio."""
    if summary is None:
        return "n/a"
    return (
        f"{summary['median']:.{digits}f}x ({summary['min']:.{digits}f}-{summary['max']:.{digits}f})"
    )


def markdown_table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)
