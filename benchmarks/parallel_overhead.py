"""What parallelism costs: parlearn.parallel side by side with the libraries users pick instead.

Four questions, each against concurrent.futures (ProcessPoolExecutor, ThreadPoolExecutor),
multiprocessing.Pool, joblib (loky) and mpire, in the same run:

1. ``noop``: 100,000 tasks that do nothing -- dispatch overhead per task (microseconds).
2. ``cpu``:  200 pure-Python tasks of ~10 ms -- speedup over a serial loop (limit: the cores).
3. ``shm``:  a 1 GB float64 array sent to 2 workers that each sum half of it -- wall time and
   peak memory of the whole process tree: ``parlearn.parallel.share`` against pickling the
   array (ProcessPoolExecutor) and joblib's automatic memory-mapping.
4. ``io``:   200 tasks that wait 50 ms (``time.sleep`` on threads, ``asyncio.sleep`` on the
   async backend), 200 at a time -- speedup over serial.

Method (see ``../shared/BENCHMARKS.md``): every measurement runs in a fresh subprocess with
``OMP/OPENBLAS/MKL_NUM_THREADS`` set and the worker count passed explicitly to every library.
In that subprocess the pool is created and a warm-up call made before the timed call, so
process start-up is not what is compared. Configurations alternate (A B C, A B C, ...) for
``--repeats`` rounds; tables show the median and the min-max, and ratios pair by pair.

Run::

    .venv/bin/python -m benchmarks.parallel_overhead              # full run, a few minutes
    .venv/bin/python -m benchmarks.parallel_overhead --quick      # smoke run, tiny sizes
    .venv/bin/python -m benchmarks.parallel_overhead --check      # exit 1 when a target is missed

It prints Markdown tables and writes JSON (with the machine's facts) to
``benchmarks/results/parallel_overhead.json`` (``parallel_overhead-quick.json`` with --quick).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks._common import THREAD_VARS
from benchmarks._common import machine_facts as _machine_facts
from benchmarks._common import markdown_table as _table
from benchmarks._common import ratio as _ratio
from benchmarks._common import stats as _stats
from benchmarks._common import value_range as _range

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
NAME = "parallel_overhead"

# A measurement that takes longer than this has hung; its round is recorded as failed.
CHILD_TIMEOUT = 900
SLEEP_SECONDS = 0.05
# The warm-up array of the shm scenario: above the 1 MB at which parlearn auto-shares and
# joblib memory-maps, so the warm-up goes down the same path as the timed call.
WARM_ARRAY_ELEMENTS = 1 << 18

TARGET_SPEEDUP_CPU = 1.8
TARGET_SHM_RATIO = 10.0
# "No copy": the tree's memory may grow during the map by less than this share of the array.
NO_COPY_SHARE = 0.25
TARGET_SPEEDUP_IO = 50.0


@dataclass(frozen=True)
class Sizes:
    noop_tasks: int
    noop_warmup: int
    cpu_tasks: int
    cpu_task_seconds: float
    array_bytes: int
    io_tasks: int
    io_concurrency: int
    io_serial_sample: int


FULL = Sizes(
    noop_tasks=100_000,
    noop_warmup=2_000,
    cpu_tasks=200,
    cpu_task_seconds=0.010,
    array_bytes=1_000_000_000,
    io_tasks=200,
    io_concurrency=200,
    io_serial_sample=20,
)
QUICK = Sizes(
    noop_tasks=5_000,
    noop_warmup=500,
    cpu_tasks=40,
    cpu_task_seconds=0.010,
    array_bytes=50_000_000,
    io_tasks=200,
    io_concurrency=200,
    io_serial_sample=20,
)


# --------------------------------------------------------------------------- the tasks


def noop(x: Any) -> Any:
    return x


def spin(loops: int) -> int:
    """Pure-Python CPU work: holds the GIL, releases nothing, allocates nothing."""
    total = 0
    for i in range(loops):
        total += i * i % 7
    return total


def sum_half(item: tuple[Any, int]) -> float:
    """Sum half ``part`` (0 or 1) of the array."""
    array, part = item
    middle = len(array) // 2
    return float(array[:middle].sum() if part == 0 else array[middle:].sum())


def sum_all(array: Any) -> float:
    return float(array.sum())


def sleep_task(x: Any) -> Any:
    time.sleep(SLEEP_SECONDS)
    return x


async def async_sleep_task(x: Any) -> Any:
    await asyncio.sleep(SLEEP_SECONDS)
    return x


# --------------------------------------------------------------------------- the libraries

Call = Callable[[list[Any]], list[Any]]
Maker = Callable[[Callable[[Any], Any], int], AbstractContextManager[Call]]


def pool_map_chunksize(n: int, workers: int) -> int:
    """multiprocessing.Pool.map's default: about four chunks per worker."""
    chunksize, extra = divmod(n, workers * 4)
    return chunksize + 1 if extra else max(chunksize, 1)


@contextmanager
def serial(fn: Callable[[Any], Any], workers: int) -> Iterator[Call]:
    yield lambda xs: [fn(x) for x in xs]


def _parlearn(backend: str) -> Maker:
    @contextmanager
    def maker(fn: Callable[[Any], Any], workers: int) -> Iterator[Call]:
        from parlearn import parallel

        try:
            yield lambda xs: parallel.map(fn, xs, backend=backend, workers=workers)
        finally:
            parallel.shutdown_default_pools()

    return maker


@contextmanager
def mp_pool(fn: Callable[[Any], Any], workers: int) -> Iterator[Call]:
    with multiprocessing.Pool(workers) as pool:
        yield lambda xs: pool.map(fn, xs)


@contextmanager
def process_pool(fn: Callable[[Any], Any], workers: int) -> Iterator[Call]:
    with ProcessPoolExecutor(workers) as executor:
        yield lambda xs: list(executor.map(fn, xs))


@contextmanager
def process_pool_chunked(fn: Callable[[Any], Any], workers: int) -> Iterator[Call]:
    with ProcessPoolExecutor(workers) as executor:
        yield lambda xs: list(executor.map(fn, xs, chunksize=pool_map_chunksize(len(xs), workers)))


@contextmanager
def thread_pool(fn: Callable[[Any], Any], workers: int) -> Iterator[Call]:
    with ThreadPoolExecutor(workers) as executor:
        yield lambda xs: list(executor.map(fn, xs))


@contextmanager
def joblib_loky(fn: Callable[[Any], Any], workers: int) -> Iterator[Call]:
    from joblib import Parallel, delayed

    with Parallel(n_jobs=workers, backend="loky") as parallel:
        yield lambda xs: list(parallel(delayed(fn)(x) for x in xs))


@contextmanager
def mpire_pool(fn: Callable[[Any], Any], workers: int) -> Iterator[Call]:
    from mpire import WorkerPool

    # keep_alive: the workers survive between map calls, so the warm-up call warms them.
    with WorkerPool(n_jobs=workers, keep_alive=True) as pool:
        yield lambda xs: pool.map(fn, xs)


async def _gather_limited(fn: Callable[[Any], Any], xs: list[Any], limit: int) -> list[Any]:
    semaphore = asyncio.Semaphore(limit)

    async def one(x: Any) -> Any:
        async with semaphore:
            return await fn(x)

    return list(await asyncio.gather(*(one(x) for x in xs)))


@contextmanager
def asyncio_gather(fn: Callable[[Any], Any], workers: int) -> Iterator[Call]:
    loop = asyncio.new_event_loop()
    try:
        yield lambda xs: loop.run_until_complete(_gather_limited(fn, xs, workers))
    finally:
        loop.close()


# --------------------------------------------------------------------------- measurements

Result = dict[str, Any]
Runner = Callable[[dict[str, Any], int], Result]


def _warm_then_time(call: Call, items: list[Any], warmup: list[Any], expected: list[Any]) -> Result:
    call(warmup)
    gc.collect()
    started = time.perf_counter()
    out = call(items)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "ok": list(out) == expected}


def _work(scenario: str, params: dict[str, Any], workers: int) -> tuple[Any, list[Any], list[Any]]:
    """(function, items, warm-up items) of a scenario."""
    if scenario == "noop":
        return noop, list(range(params["tasks"])), list(range(params["warmup"]))
    if scenario == "cpu":
        return spin, [params["loops"]] * params["tasks"], [params["loops"]] * (2 * workers)
    if scenario == "io-threads":
        return sleep_task, list(range(params["tasks"])), list(range(params["tasks"]))
    if scenario == "io-async":
        return async_sleep_task, list(range(params["tasks"])), list(range(params["tasks"]))
    raise ValueError(scenario)


def mapped(scenario: str, maker: Maker) -> Runner:
    """A runner that maps the scenario's function over its items with one library."""

    def run(params: dict[str, Any], workers: int) -> Result:
        fn, items, warmup = _work(scenario, params, workers)
        expected = [params["value"]] * len(items) if scenario == "cpu" else items
        with maker(fn, workers) as call:
            return _warm_then_time(call, items, warmup, expected)

    return run


def io_serial(params: dict[str, Any], workers: int) -> Result:
    """A serial loop over a sample of the tasks, scaled to all of them (each waits as long)."""
    sample = list(range(params["serial_sample"]))
    sleep_task(0)
    started = time.perf_counter()
    out = [sleep_task(x) for x in sample]
    measured = time.perf_counter() - started
    return {
        "seconds": measured * params["tasks"] / len(sample),
        "measured_seconds": measured,
        "measured_tasks": len(sample),
        "ok": out == sample,
    }


class TreeMemory:
    """Samples the memory of this process and all its descendants in a thread.

    RSS counts a shared page in every process that maps it; PSS (proportional set size)
    divides it among them, so the tree's PSS is what the tree really holds in RAM. /dev/shm
    growth is machine-wide: files there (joblib's memmaps) hold RAM before anyone maps them.
    """

    def __init__(self, interval: float = 0.01) -> None:
        import psutil

        self._psutil = psutil
        self._me = psutil.Process()
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self.samples = 0
        self.rss_before = self.pss_before = self.rss_peak = self.pss_peak = 0
        self.shm_before = self.shm_peak = _devshm_used()

    def sample(self) -> tuple[int, int]:
        rss = pss = 0
        for proc in [self._me, *self._me.children(recursive=True)]:
            try:
                info = proc.memory_full_info()
            except (self._psutil.NoSuchProcess, self._psutil.AccessDenied):
                continue
            rss += info.rss
            pss += getattr(info, "pss", info.rss)
        return rss, pss

    def _record(self) -> None:
        rss, pss = self.sample()
        self.rss_peak = max(self.rss_peak, rss)
        self.pss_peak = max(self.pss_peak, pss)
        self.shm_peak = max(self.shm_peak, _devshm_used())
        self.samples += 1

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            self._record()

    def __enter__(self) -> TreeMemory:
        self.rss_before, self.pss_before = self.rss_peak, self.pss_peak = self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._record()
        self._stop.set()
        self._thread.join()

    def report(self) -> Result:
        return {
            "rss_before": self.rss_before,
            "pss_before": self.pss_before,
            "rss_peak": self.rss_peak,
            "pss_peak": self.pss_peak,
            "pss_added": self.pss_peak - self.pss_before,
            "devshm_added": self.shm_peak - self.shm_before,
            "memory_samples": self.samples,
        }


def _devshm_used() -> int:
    try:
        return shutil.disk_usage("/dev/shm").used
    except OSError:
        return 0


def _make_array(elements: int) -> Any:
    import numpy as np

    # Integers in float64: every partial sum is exact, so all methods must agree exactly.
    return np.arange(elements, dtype=np.float64)


def _measure_shm(call: Call, items: list[Any], elements: int) -> Result:
    gc.collect()
    with TreeMemory() as memory:
        started = time.perf_counter()
        out = call(items)
        seconds = time.perf_counter() - started
    expected = elements * (elements - 1) / 2
    ok = math.isclose(sum(out), expected, rel_tol=1e-12)
    return {"seconds": seconds, "ok": ok, **memory.report()}


def shm_serial(params: dict[str, Any], workers: int) -> Result:
    array = _make_array(params["elements"])
    return _measure_shm(lambda xs: [sum_half(x) for x in xs], [(array, 0), (array, 1)], len(array))


def shm_parlearn(*, explicit_share: bool) -> Runner:
    def run(params: dict[str, Any], workers: int) -> Result:
        from parlearn import parallel

        def call(xs: list[Any]) -> list[Any]:
            return parallel.map(sum_half, xs, backend="processes", workers=workers)

        try:
            warm = _make_array(WARM_ARRAY_ELEMENTS)
            if explicit_share:
                warm = parallel.share(warm)
            call([(warm, 0), (warm, 1)])
            del warm
            array = _make_array(params["elements"])
            share_seconds = 0.0
            if explicit_share:
                started = time.perf_counter()
                array = parallel.share(array)  # the original is dropped: one copy in memory
                share_seconds = time.perf_counter() - started
            result = _measure_shm(call, [(array, 0), (array, 1)], len(array))
            return result | {"share_seconds": share_seconds}
        finally:
            parallel.shutdown_default_pools()

    return run


def shm_pickled(*, halves: bool) -> Runner:
    def run(params: dict[str, Any], workers: int) -> Result:
        def items(array: Any) -> list[Any]:
            middle = len(array) // 2
            return [array[:middle], array[middle:]] if halves else [(array, 0), (array, 1)]

        fn = sum_all if halves else sum_half
        with ProcessPoolExecutor(workers) as executor:

            def call(xs: list[Any]) -> list[Any]:
                return list(executor.map(fn, xs))

            call(items(_make_array(WARM_ARRAY_ELEMENTS)))  # workers start before the array exists
            array = _make_array(params["elements"])
            return _measure_shm(call, items(array), len(array))

    return run


def shm_joblib(params: dict[str, Any], workers: int) -> Result:
    from joblib import Parallel, delayed

    with Parallel(n_jobs=workers, backend="loky") as parallel:

        def call(xs: list[Any]) -> list[Any]:
            return list(parallel(delayed(sum_half)(x) for x in xs))

        warm = _make_array(WARM_ARRAY_ELEMENTS)
        call([(warm, 0), (warm, 1)])
        del warm
        array = _make_array(params["elements"])
        return _measure_shm(call, [(array, 0), (array, 1)], len(array))


# --------------------------------------------------------------------------- configurations


@dataclass(frozen=True)
class Config:
    key: str
    label: str
    role: str  # "serial", "parlearn" or "peer"
    runner: Runner
    how: str = ""  # start method, chunking: what a reader needs to judge the row


def _scenario_configs() -> dict[str, list[Config]]:
    fork = multiprocessing.get_start_method(allow_none=False)
    return {
        "noop": [
            Config("noop/serial", "serial loop (floor)", "serial", mapped("noop", serial)),
            Config(
                "noop/parlearn",
                'parlearn map, backend="processes"',
                "parlearn",
                mapped("noop", _parlearn("processes")),
                "forkserver, automatic chunks",
            ),
            Config(
                "noop/mp-pool",
                "multiprocessing.Pool.map",
                "peer",
                mapped("noop", mp_pool),
                f"{fork}, default chunksize (n / 4 workers)",
            ),
            Config(
                "noop/ppe-1",
                "ProcessPoolExecutor.map",
                "peer",
                mapped("noop", process_pool),
                f"{fork}, chunksize=1 (its default)",
            ),
            Config(
                "noop/ppe-chunked",
                "ProcessPoolExecutor.map",
                "peer",
                mapped("noop", process_pool_chunked),
                f"{fork}, chunksize=n / 4 workers",
            ),
            Config(
                "noop/tpe",
                "ThreadPoolExecutor.map",
                "peer",
                mapped("noop", thread_pool),
                "threads, one future per task",
            ),
            Config(
                "noop/joblib",
                "joblib Parallel",
                "peer",
                mapped("noop", joblib_loky),
                "loky, batch_size='auto'",
            ),
            Config(
                "noop/mpire",
                "mpire WorkerPool.map",
                "peer",
                mapped("noop", mpire_pool),
                "fork, keep_alive, default chunks",
            ),
        ],
        "cpu": [
            Config("cpu/serial", "serial loop", "serial", mapped("cpu", serial)),
            Config(
                "cpu/parlearn",
                'parlearn map, backend="processes"',
                "parlearn",
                mapped("cpu", _parlearn("processes")),
                "forkserver, automatic chunks",
            ),
            Config(
                "cpu/mp-pool",
                "multiprocessing.Pool.map",
                "peer",
                mapped("cpu", mp_pool),
                f"{fork}, default chunksize",
            ),
            Config(
                "cpu/ppe",
                "ProcessPoolExecutor.map",
                "peer",
                mapped("cpu", process_pool),
                f"{fork}, chunksize=1",
            ),
            Config(
                "cpu/tpe",
                "ThreadPoolExecutor.map",
                "peer",
                mapped("cpu", thread_pool),
                "threads: the GIL serialises pure Python",
            ),
            Config(
                "cpu/joblib",
                "joblib Parallel",
                "peer",
                mapped("cpu", joblib_loky),
                "loky, batch_size='auto'",
            ),
            Config(
                "cpu/mpire",
                "mpire WorkerPool.map",
                "peer",
                mapped("cpu", mpire_pool),
                "fork, keep_alive, default chunks",
            ),
        ],
        "shm": [
            Config("shm/serial", "serial: both halves in-process (floor)", "serial", shm_serial),
            Config(
                "shm/parlearn",
                "parlearn share(array), then map",
                "parlearn",
                shm_parlearn(explicit_share=True),
                "items [(shared, 0), (shared, 1)]",
            ),
            Config(
                "shm/parlearn-auto",
                "parlearn map, plain ndarray",
                "peer",
                shm_parlearn(explicit_share=False),
                "auto-shared: copied to shared memory in each call",
            ),
            Config(
                "shm/pickle-whole",
                "ProcessPoolExecutor.map, pickled",
                "peer",
                shm_pickled(halves=False),
                "items [(array, 0), (array, 1)]: the whole array to each worker",
            ),
            Config(
                "shm/pickle-halves",
                "ProcessPoolExecutor.map, pickled",
                "peer",
                shm_pickled(halves=True),
                "items [array[:h], array[h:]]: each worker only its half",
            ),
            Config(
                "shm/joblib",
                "joblib Parallel",
                "peer",
                shm_joblib,
                "loky, arrays > 1 MB memory-mapped (max_nbytes='1M')",
            ),
        ],
        "io": [
            Config("io/serial", "serial loop (time.sleep)", "serial", io_serial),
            Config(
                "io/parlearn-threads",
                'parlearn map, backend="threads"',
                "parlearn",
                mapped("io-threads", _parlearn("threads")),
                "time.sleep",
            ),
            Config(
                "io/parlearn-async",
                'parlearn map, backend="async"',
                "parlearn",
                mapped("io-async", _parlearn("async")),
                "asyncio.sleep",
            ),
            Config(
                "io/tpe",
                "ThreadPoolExecutor.map",
                "peer",
                mapped("io-threads", thread_pool),
                "time.sleep",
            ),
            Config(
                "io/asyncio",
                "asyncio.gather + Semaphore",
                "peer",
                mapped("io-async", asyncio_gather),
                "asyncio.sleep",
            ),
        ],
    }


SCENARIOS = ("noop", "cpu", "shm", "io")
TITLES = {
    "noop": "1. Dispatch overhead: no-op tasks",
    "cpu": "2. CPU-bound: pure-Python tasks",
    "shm": "3. A large array to process workers",
    "io": "4. I/O-bound: waiting tasks",
}


def _config(key: str) -> Config:
    for configs in _scenario_configs().values():
        for config in configs:
            if config.key == key:
                return config
    raise KeyError(key)


def child_main() -> None:
    """Entry point of one measurement's subprocess: ``argv[1]`` is its JSON spec."""
    spec = json.loads(sys.argv[1])
    result = _config(spec["config"]).runner(spec["params"], spec["workers"])
    Path(spec["out"]).write_text(json.dumps(result))


# --------------------------------------------------------------------------- the parent


def calibrate_spin(target_seconds: float) -> tuple[int, float]:
    """Loop count for ``spin`` to take about ``target_seconds`` here, and what it took."""

    def took(loops: int, runs: int) -> list[float]:
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            spin(loops)
            times.append(time.perf_counter() - started)
        return times

    loops = 10_000
    while (best := min(took(loops, 3))) < 0.02:
        loops *= 2
    loops = max(1, round(loops * target_seconds / best))
    return loops, statistics.median(took(loops, 5))


def run_child(config: Config, params: dict[str, Any], workers: int, tmp: Path) -> Result:
    out = tmp / f"{config.key.replace('/', '_')}.json"
    out.unlink(missing_ok=True)
    spec = {"config": config.key, "params": params, "workers": workers, "out": str(out)}
    env = dict(os.environ)
    env.update(dict.fromkeys(THREAD_VARS, "1"))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    command = [
        sys.executable,
        "-c",
        "from benchmarks.parallel_overhead import child_main; child_main()",
        json.dumps(spec),
    ]
    try:
        done = subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=CHILD_TIMEOUT
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {CHILD_TIMEOUT} s"}
    if done.returncode != 0 or not out.exists():
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        return {"error": f"exit code {done.returncode}: " + " | ".join(tail)}
    result: Result = json.loads(out.read_text())
    return result


def _field(rounds: list[Result], name: str) -> list[float]:
    return [r[name] for r in rounds if "error" not in r and name in r]


def _ratios(
    numerator: list[Result], denominator: list[Result], name: str = "seconds"
) -> list[float]:
    """Round-by-round ratios of two configurations' measurements (A and B of the same round)."""
    return [
        a[name] / b[name]
        for a, b in zip(numerator, denominator, strict=True)
        if "error" not in a and "error" not in b and b[name] > 0
    ]


def _ok(rounds: list[Result]) -> str:
    good = [r for r in rounds if "error" not in r]
    if not good:
        return "failed: " + rounds[0].get("error", "?")[:120] if rounds else "not run"
    return "yes" if all(r.get("ok") for r in good) else "NO"


GB = 1e9


@dataclass
class Check:
    name: str
    passed: bool
    detail: str


class Report:
    """Tables and target checks from the rounds of every configuration."""

    def __init__(
        self,
        configs: dict[str, list[Config]],
        rounds: dict[str, list[Result]],
        params: dict[str, dict[str, Any]],
    ) -> None:
        self.configs = configs
        self.rounds = rounds
        self.params = params
        self.checks: list[Check] = []

    def _parlearn(self, scenario: str) -> Config:
        return next(c for c in self.configs[scenario] if c.role == "parlearn")

    def _serial(self, scenario: str) -> Config:
        return next(c for c in self.configs[scenario] if c.role == "serial")

    def noop(self) -> str:
        tasks = self.params["noop"]["tasks"]
        base = self.rounds[self._parlearn("noop").key]
        per_task: dict[str, dict[str, float] | None] = {}
        rows = []
        for c in self.configs["noop"]:
            r = self.rounds[c.key]
            per_task[c.key] = _stats([s / tasks * 1e6 for s in _field(r, "seconds")])
            vs = "" if c.role != "peer" else _ratio(_stats(_ratios(r, base)))
            rows.append([c.label, c.how, _range(per_task[c.key], digits=3), vs, _ok(r)])
        peers = {
            f"{c.label} ({c.how})" if c.how else c.label: stats
            for c in self.configs["noop"]
            if c.role == "peer" and (stats := per_task[c.key]) is not None
        }
        mine = per_task[self._parlearn("noop").key]
        if mine is None or not peers:
            self.checks.append(Check("noop overhead <= best peer", False, "a run failed"))
        else:
            best = min(peers, key=lambda k: peers[k]["median"])
            self.checks.append(
                Check(
                    "noop: parlearn overhead per task <= best peer's",
                    mine["median"] <= peers[best]["median"],
                    f"parlearn {mine['median']:.3f} us vs {best} {peers[best]['median']:.3f} us",
                )
            )
        return (
            _table(
                [
                    "Library",
                    "Setting",
                    "us per task, median (min-max)",
                    "peer / parlearn",
                    "Results equal",
                ],
                rows,
            )
            + f"\n\n{tasks:,} tasks that return their argument, {self._workers('noop')} workers; "
            "time of one warm map call (pool created and a warm-up call made first) / tasks. "
            "The serial loop is the floor: the cost of calling the function at all."
        )

    def cpu(self) -> str:
        p = self.params["cpu"]
        serial = self.rounds[self._serial("cpu").key]
        base = self.rounds[self._parlearn("cpu").key]
        rows = []
        speedups: dict[str, dict[str, float] | None] = {}
        for c in self.configs["cpu"]:
            r = self.rounds[c.key]
            speedups[c.key] = _stats(_ratios(serial, r))
            vs = "" if c.role != "peer" else _ratio(_stats(_ratios(r, base)))
            rows.append(
                [
                    c.label,
                    c.how,
                    _range(_stats(_field(r, "seconds")), digits=3),
                    _ratio(speedups[c.key]),
                    vs,
                    _ok(r),
                ]
            )
        mine = speedups[self._parlearn("cpu").key]
        workers = self._workers("cpu")
        self.checks.append(
            Check(
                f"cpu: parlearn speedup >= {TARGET_SPEEDUP_CPU}",
                mine is not None and mine["median"] >= TARGET_SPEEDUP_CPU,
                "failed" if mine is None else f"{mine['median']:.2f}x (limit {workers:.1f}x)",
            )
        )
        return (
            _table(
                [
                    "Library",
                    "Setting",
                    "seconds, median (min-max)",
                    "speedup over serial",
                    "peer / parlearn",
                    "Results equal",
                ],
                rows,
            )
            + f"\n\n{p['tasks']} tasks of a pure-Python loop ({p['loops']:,} iterations, "
            f"{p['task_ms']:.1f} ms each when calibrated), {workers} workers. The limit is "
            f"{workers:.1f}x ({workers} cores); speedups are serial / parallel, round by round."
        )

    def shm(self) -> str:
        p = self.params["shm"]
        array_bytes = p["elements"] * 8
        base = self.rounds[self._parlearn("shm").key]
        rows = []
        for c in self.configs["shm"]:
            r = self.rounds[c.key]
            share = _stats(_field(r, "share_seconds"))
            vs = "" if c.role != "peer" else _ratio(_stats(_ratios(r, base)), digits=1)
            rows.append(
                [
                    f"{c.label} ({c.how})" if c.how else c.label,
                    _range(share, digits=3) if share and share["max"] > 0 else "",
                    _range(_stats(_field(r, "seconds")), digits=3),
                    vs,
                    _range(_stats(_field(r, "rss_peak")), scale=1 / GB),
                    _range(_stats(_field(r, "pss_peak")), scale=1 / GB),
                    _range(_stats(_field(r, "pss_added")), scale=1 / GB),
                    _range(_stats(_field(r, "devshm_added")), scale=1 / GB),
                    _ok(r),
                ]
            )
        pickled = [
            self.rounds[k]
            for k in ("shm/pickle-whole", "shm/pickle-halves")
            if _field(self.rounds[k], "seconds")
        ]
        speed = [_stats(_ratios(r, base)) for r in pickled]
        speed_ok = [s for s in speed if s is not None]
        best = min(speed_ok, key=lambda s: s["median"]) if speed_ok else None
        self.checks.append(
            Check(
                f"shm: parlearn map >= {TARGET_SHM_RATIO:g}x faster than pickling",
                best is not None and best["median"] >= TARGET_SHM_RATIO,
                "failed" if best is None else f"{best['median']:.1f}x against the faster pickling",
            )
        )
        added = _stats(_field(base, "pss_added"))
        self.checks.append(
            Check(
                "shm: no copy during parlearn's map",
                added is not None and added["max"] < NO_COPY_SHARE * array_bytes,
                "failed"
                if added is None
                else f"tree PSS grew by at most {added['max'] / 1e6:.1f} MB for a "
                f"{array_bytes / 1e6:.0f} MB array (limit {NO_COPY_SHARE:.0%} of it)",
            )
        )
        share = _stats(_field(base, "share_seconds"))
        mapped_s = _stats(_field(base, "seconds"))
        total = ""
        if share and mapped_s and speed_ok:
            both = share["median"] + mapped_s["median"]
            fastest_pickle = min(statistics.median(_field(r, "seconds")) for r in pickled)
            total = (
                f" Counting the one-time share() too, parlearn takes {both:.3f} s: "
                f"{fastest_pickle / both:.1f}x faster than the faster pickling."
            )
        return (
            _table(
                [
                    "Configuration",
                    "share() s",
                    "map s, median (min-max)",
                    "map: peer / parlearn",
                    "peak RSS, tree (GB)",
                    "peak PSS, tree (GB)",
                    "PSS added in map (GB)",
                    "/dev/shm added in map (GB)",
                    "Sum correct",
                ],
                rows,
            )
            + f"\n\nA {array_bytes / 1e9:.2f} GB float64 array, {self._workers('shm')} workers, "
            "each sums one half. Time of the map call alone, after a warm-up; share() is the "
            "one-time copy into shared memory, timed apart (the original array is then dropped). "
            "Memory is sampled every 10 ms over this process and all its children during the map: "
            "RSS counts a shared page once per process that maps it, PSS splits it among them, so "
            "PSS is the real footprint (about 1x the array when nothing is copied)." + total
        )

    def io(self) -> str:
        p = self.params["io"]
        serial = self.rounds[self._serial("io").key]
        rows = []
        for c in self.configs["io"]:
            r = self.rounds[c.key]
            speedup = _stats(_ratios(serial, r))
            if c.role == "serial":
                label = (
                    f"{c.label}, {p['serial_sample']} tasks x {p['tasks'] // p['serial_sample']}"
                )
            else:
                label = c.label
            if c.role == "parlearn":
                target = TARGET_SPEEDUP_IO
                self.checks.append(
                    Check(
                        f"io: {c.label} speedup >= {target:g}",
                        speedup is not None and speedup["median"] >= target,
                        "failed" if speedup is None else f"{speedup['median']:.1f}x",
                    )
                )
            rows.append(
                [
                    label,
                    c.how,
                    _range(_stats(_field(r, "seconds")), digits=3),
                    _ratio(speedup, 1),
                    _ok(r),
                ]
            )
        return (
            _table(
                [
                    "Configuration",
                    "Wait",
                    "seconds, median (min-max)",
                    "speedup over serial",
                    "Results equal",
                ],
                rows,
            )
            + f"\n\n{p['tasks']} tasks that wait {SLEEP_SECONDS * 1000:.0f} ms, "
            f"{self._workers('io')} at a time (workers=200, Semaphore(200)). The serial time is "
            f"measured on {p['serial_sample']} tasks and scaled to {p['tasks']}; the limit is "
            f"{p['tasks']}x (every task waiting at once)."
        )

    def _workers(self, scenario: str) -> int:
        workers: int = self.params[scenario]["workers"]
        return workers


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.parallel_overhead",
        description="parlearn.parallel against concurrent.futures, multiprocessing, joblib and "
        "mpire: per-task overhead, CPU speedup, a large array to workers, I/O waits.",
    )
    parser.add_argument(
        "--repeats", type=int, default=5, help="rounds of every configuration (default 5)"
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run with tiny sizes")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"JSON results (default benchmarks/results/{NAME}.json, {NAME}-quick.json with --quick)",
    )
    parser.add_argument(
        "--scenario",
        choices=SCENARIOS,
        action="append",
        help="run only this scenario (repeatable; default all)",
    )
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = QUICK if args.quick else FULL
    scenarios = tuple(s for s in SCENARIOS if not args.scenario or s in args.scenario)
    out_path = args.out or RESULTS / (f"{NAME}-quick.json" if args.quick else f"{NAME}.json")
    cores = len(os.sched_getaffinity(0))
    facts = _machine_facts(
        ("parlearn", "numpy", "joblib", "mpire", "psutil", "cloudpickle"),
        multiprocessing_start_method=multiprocessing.get_start_method(),
    )

    params: dict[str, dict[str, Any]] = {
        "noop": {"tasks": sizes.noop_tasks, "warmup": sizes.noop_warmup, "workers": cores},
        "shm": {"elements": sizes.array_bytes // 16 * 2, "workers": cores},
        "io": {
            "tasks": sizes.io_tasks,
            "serial_sample": sizes.io_serial_sample,
            "workers": sizes.io_concurrency,
        },
    }
    if "cpu" in scenarios:
        loops, took = calibrate_spin(sizes.cpu_task_seconds)
        params["cpu"] = {
            "tasks": sizes.cpu_tasks,
            "loops": loops,
            "value": spin(loops),
            "task_ms": took * 1000,
            "workers": cores,
        }
        print(f"calibrated: spin({loops:,}) takes {took * 1000:.1f} ms", file=sys.stderr)

    configs = {s: c for s, c in _scenario_configs().items() if s in scenarios}
    rounds: dict[str, list[Result]] = {c.key: [] for cs in configs.values() for c in cs}
    with tempfile.TemporaryDirectory(prefix="parlearn-bench-") as tmp:
        for scenario in scenarios:
            for repeat in range(args.repeats):
                for config in configs[scenario]:
                    p = params[scenario]
                    result = run_child(config, p, p["workers"], Path(tmp))
                    rounds[config.key].append(result)
                    shown = result.get("error") or f"{result['seconds']:.4f} s"
                    print(
                        f"[{scenario} {repeat + 1}/{args.repeats}] {config.key}: {shown}",
                        file=sys.stderr,
                    )

    report = Report(configs, rounds, params)
    sections = [
        f"## parallel_overhead ({'quick smoke run' if args.quick else 'full run'})",
        f"`{' '.join(['python -m benchmarks.parallel_overhead', *(argv if argv is not None else sys.argv[1:])])}`  ",
        f"{facts['cores']} cores ({facts['cpu_model'] or 'unknown CPU'}), {facts['memory_gb']} GB, "
        f"Python {facts['python']}, {facts['platform']}, {facts['date']}; "
        + ", ".join(f"{k} {v}" for k, v in facts["versions"].items())
        + f". {args.repeats} rounds, each configuration in a fresh subprocess, alternating; "
        + ", ".join(f"{v}=1" for v in THREAD_VARS)
        + ".",
    ]
    for scenario in scenarios:
        sections += [f"### {TITLES[scenario]}", getattr(report, scenario)()]
    sections += [
        "### Targets",
        "\n".join(
            f"- {'PASS' if c.passed else 'FAIL'} {c.name}: {c.detail}" for c in report.checks
        ),
    ]
    print("\n\n".join(sections))

    facts["loadavg_at_end"] = os.getloadavg()
    document = {
        "benchmark": NAME,
        "command": [
            sys.executable,
            "-m",
            f"benchmarks.{NAME}",
            *(argv if argv is not None else sys.argv[1:]),
        ],
        "quick": args.quick,
        "repeats": args.repeats,
        "machine": facts,
        "params": params,
        "configs": {
            c.key: {
                "label": c.label,
                "how": c.how,
                "role": c.role,
                "rounds": rounds[c.key],
                "seconds": _stats(_field(rounds[c.key], "seconds")),
            }
            for cs in configs.values()
            for c in cs
        },
        "checks": [asdict(c) for c in report.checks],
    }
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(document, indent=2) + "\n")
    print(f"\nwrote {out_path}", file=sys.stderr)
    if args.check and not all(c.passed for c in report.checks):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
