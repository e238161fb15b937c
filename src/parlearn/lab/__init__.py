"""parlearn.lab: which concurrency model fits a workload, and by how much.

The same work, timed sequentially, with threads, with asyncio and with processes (the last
three through :mod:`parlearn.parallel`), each in a fresh process, with a warm-up and repeats;
the speedups, Amdahl's law fitted to them, and a recommendation with its reasons. The
``parlearn bench`` command is this package on the command line.

>>> from parlearn import lab                                     # doctest: +SKIP
>>> with lab.LocalServer(latency=0.02) as server:
...     report = lab.run_bench(lab.io_workload(server.urls(64)))
>>> report.recommendation.summary
'I/O-bound: asyncio 24x, threads 18x, processes 1.9x; use asyncio'

Modules: ``timing``, ``amdahl`` and ``recommend`` are the maths, pure functions;
``workload`` says what runs; ``bench`` runs it; ``report`` shows it. See ``docs/lab.md``.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

from parlearn.errors import MissingDependencyError

for _package in ("aiohttp", "urllib3", "PIL", "scipy"):
    if importlib.util.find_spec(_package) is None:  # pragma: no cover - the installation
        raise MissingDependencyError(_package, "lab", "parlearn.lab")

# Names are imported when first used (PEP 562), so a worker process that unpickles one task
# function (``_cpu.resize_image``, say) imports what that task needs, not SciPy and aiohttp:
# worker start-up measures the model, not this package.
_WHERE = {
    "find_images": "_cpu",
    "generate_images": "_cpu",
    "numeric_loop": "_cpu",
    "resize_image": "_cpu",
    "FetchError": "_http",
    "FetchSettings": "_http",
    "RateLimiter": "_http",
    "afetch": "_http",
    "check_urls": "_http",
    "fetch": "_http",
    "read_urls": "_http",
    "TaskError": "_modes",
    "LocalServer": "_server",
    "AmdahlFit": "amdahl",
    "amdahl_speedup": "amdahl",
    "fit_amdahl": "amdahl",
    "karp_flatt": "amdahl",
    "BenchPlan": "bench",
    "BenchReport": "bench",
    "ModeReport": "bench",
    "PointReport": "bench",
    "run_bench": "bench",
    "sweep_points": "bench",
    "MODES": "recommend",
    "ModeOutcome": "recommend",
    "Recommendation": "recommend",
    "classify": "recommend",
    "recommend": "recommend",
    "plot_reports": "report",
    "print_report": "report",
    "reports_to_json": "report",
    "SpeedupRange": "timing",
    "Timing": "timing",
    "efficiency": "timing",
    "speedup": "timing",
    "summarize": "timing",
    "Workload": "workload",
    "images_workload": "workload",
    "io_workload": "workload",
    "load_items": "workload",
    "loop_workload": "workload",
    "python_workload": "workload",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'parlearn.lab' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"parlearn.lab.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])


if TYPE_CHECKING:
    from parlearn.lab._cpu import find_images, generate_images, numeric_loop, resize_image
    from parlearn.lab._http import (
        FetchError,
        FetchSettings,
        RateLimiter,
        afetch,
        check_urls,
        fetch,
        read_urls,
    )
    from parlearn.lab._modes import TaskError
    from parlearn.lab._server import LocalServer
    from parlearn.lab.amdahl import AmdahlFit, amdahl_speedup, fit_amdahl, karp_flatt
    from parlearn.lab.bench import (
        BenchPlan,
        BenchReport,
        ModeReport,
        PointReport,
        run_bench,
        sweep_points,
    )
    from parlearn.lab.recommend import MODES, ModeOutcome, Recommendation, classify, recommend
    from parlearn.lab.report import plot_reports, print_report, reports_to_json
    from parlearn.lab.timing import SpeedupRange, Timing, efficiency, speedup, summarize
    from parlearn.lab.workload import (
        Workload,
        images_workload,
        io_workload,
        load_items,
        loop_workload,
        python_workload,
    )

__all__ = [
    "MODES",
    "AmdahlFit",
    "BenchPlan",
    "BenchReport",
    "FetchError",
    "FetchSettings",
    "LocalServer",
    "ModeOutcome",
    "ModeReport",
    "PointReport",
    "RateLimiter",
    "Recommendation",
    "SpeedupRange",
    "TaskError",
    "Timing",
    "Workload",
    "afetch",
    "amdahl_speedup",
    "check_urls",
    "classify",
    "efficiency",
    "fetch",
    "find_images",
    "fit_amdahl",
    "generate_images",
    "images_workload",
    "io_workload",
    "karp_flatt",
    "load_items",
    "loop_workload",
    "numeric_loop",
    "plot_reports",
    "print_report",
    "python_workload",
    "read_urls",
    "recommend",
    "reports_to_json",
    "resize_image",
    "run_bench",
    "speedup",
    "summarize",
    "sweep_points",
]
