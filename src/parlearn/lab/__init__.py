"""parlearn.lab: which concurrency model fits a workload, and by how much.

The same work, timed sequentially, with threads, with asyncio and with processes (the last
three through :mod:`parlearn.parallel`), each in a fresh process, with a warm-up and repeats;
the speedups, Amdahl's law fitted to them, and a recommendation with its reasons. The
``parlearn bench`` command is this package on the command line.

>>> from parlearn import lab                                     # doctest: +SKIP
>>> with lab.LocalServer(latency=0.02) as server:
...     report = lab.run_bench(lab.io_workload(server.urls(64)))
>>> report.recommendation.summary
'I/O-bound: asyncio 25x, threads 22x, processes 1.9x; use asyncio'

Modules: ``timing``, ``amdahl`` and ``recommend`` are the maths, pure functions;
``workload`` says what runs; ``bench`` runs it; ``report`` shows it. See ``docs/lab.md``.
"""

from parlearn.errors import MissingDependencyError

try:
    import aiohttp  # noqa: F401
    import PIL  # noqa: F401
    import scipy  # noqa: F401
    import urllib3  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise MissingDependencyError(exc.name or "aiohttp", "lab", "parlearn.lab") from exc

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
