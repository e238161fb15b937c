"""The public API: argument checking, auto selection, pickling, pools, progress output."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from parlearn import parallel
from parlearn.errors import MissingDependencyError, SerializationError
from parlearn.parallel import Pool
from tests import tasks


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"backend": "proc"}, "unknown backend 'proc'"),
        ({"backend": "threads", "workers": 0}, "workers must be an int >= 1, got 0"),
        ({"timeout": 0}, "timeout must be a positive number"),
        ({"errors": "ignore"}, "errors must be 'raise' or 'collect'"),
        ({"backend": "threads", "chunksize": 0}, "chunksize must be a positive int"),
        ({"workers": 0}, "workers must be an int >= 1, got 0"),  # auto checks before running
        ({"chunksize": 0}, "chunksize must be a positive int"),
    ],
)
def test_bad_arguments_say_what_and_how_to_fix(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parallel.map(tasks.square, range(3), **kwargs)  # type: ignore[arg-type]


def test_pool_rejects_auto() -> None:
    with pytest.raises(ValueError, match="concrete backend"):
        Pool("auto")


def test_auto_gives_correct_results_for_every_kind_of_work() -> None:
    assert parallel.map(tasks.square, range(5)) == [0, 1, 4, 9, 16]
    assert parallel.map(tasks.asquare, range(5)) == [0, 1, 4, 9, 16]
    assert parallel.map(tasks.square, iter(range(5))) == [0, 1, 4, 9, 16]
    assert parallel.map(tasks.square, []) == []

    def wait_a_bit(x: int) -> int:
        time.sleep(0.002)
        return x

    assert parallel.map(wait_a_bit, range(40)) == list(range(40))


def test_auto_raises_a_probe_error_like_any_other() -> None:
    with pytest.raises(ValueError, match="bad item 7"):
        parallel.map(tasks.fail_on_seven, range(10))
    out = parallel.map(tasks.fail_on_seven, range(10), errors="collect")
    assert [f.index for f in out.failures] == [7]


def test_lambdas_and_closures_reach_processes() -> None:
    offset = 10
    assert parallel.map(lambda x: x + offset, range(5), backend="processes", workers=2) == [
        10,
        11,
        12,
        13,
        14,
    ]


MAIN_SCRIPT = """
import dataclasses
from parlearn import parallel

@dataclasses.dataclass
class Point:
    x: int

def shift(p):
    return Point(p.x + 1), (lambda: 0).__class__.__name__

if __name__ == "__main__":
    out = parallel.map(shift, [Point(i) for i in range(4)], backend="processes", workers=2)
    print([p.x for p, _ in out])
"""


def test_classes_and_functions_of_a_script_reach_processes_by_value(tmp_path: Path) -> None:
    # Pickled by reference they would not import in a worker (it has no such __main__): the
    # fast pickler hands them to cloudpickle, which sends them by value, in items and results.
    script = tmp_path / "script.py"
    script.write_text(MAIN_SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[1, 2, 3, 4]"


def test_unpicklable_item_is_named() -> None:
    items = [1, threading.Lock(), 3]
    with pytest.raises(SerializationError, match=r"item 1 .*lock"):
        parallel.map(lambda x: x, items, backend="processes", workers=2, chunksize=3)


def test_unpicklable_function_is_named() -> None:
    lock = threading.Lock()

    def uses_lock(x: int) -> int:
        with lock:
            return x

    with pytest.raises(SerializationError, match="uses_lock"):
        parallel.map(uses_lock, range(3), backend="processes", workers=2)
    # threads need no pickling
    assert parallel.map(uses_lock, range(3), backend="threads") == [0, 1, 2]


def test_unpicklable_result_fails_only_that_item() -> None:
    def make(x: int) -> object:
        return threading.Lock() if x == 2 else x

    out = parallel.map(make, range(4), backend="processes", workers=2, errors="collect")
    assert [f.index for f in out.failures] == [2]
    assert isinstance(out[2].exception, SerializationError)
    assert [out[0], out[1], out[3]] == [0, 1, 3]


def test_pool_reuses_its_workers() -> None:
    with Pool("processes", workers=2) as pool:
        pool.map(tasks.square, range(100), chunksize=1)
        first = set(pool.backend.worker_pids())  # type: ignore[attr-defined]
        pool.map(tasks.square, range(100), chunksize=1)
        assert set(pool.backend.worker_pids()) == first  # type: ignore[attr-defined]


def test_workers_limit_blas_threads_to_their_share() -> None:
    def blas_threads(_: int) -> list[int]:
        from threadpoolctl import threadpool_info

        return [info["num_threads"] for info in threadpool_info()]

    with Pool("processes", workers=2, blas_threads=1) as pool:
        for threads in pool.map(blas_threads, range(2), chunksize=1):
            assert all(n == 1 for n in threads)


def test_progress_not_a_tty_prints_one_summary_line() -> None:
    code = (
        "from parlearn import parallel\n"
        "print(sum(parallel.map(abs, range(1000), backend='threads', progress=True)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == str(sum(range(1000)))  # stdout untouched
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "1000/1000 items" in lines[0]
    assert "\r" not in done.stderr


def test_async_backend_rejects_plain_functions() -> None:
    out = parallel.map(tasks.square, range(2), backend="async", errors="collect")
    assert all(isinstance(f.exception, TypeError) for f in out.failures)
    assert "coroutine function" in str(out.failures[0].exception)


def test_async_concurrency_limit_is_respected() -> None:
    running = 0
    peak = 0

    async def track(x: int) -> int:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)
        running -= 1
        return x

    assert parallel.map(track, range(50), backend="async", workers=5) == list(range(50))
    assert peak == 5


def test_missing_extra_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    monkeypatch.delitem(sys.modules, "parlearn.parallel._ray", raising=False)
    with pytest.raises(MissingDependencyError, match=r"pip install 'parlearn\[ray\]'"):
        parallel.map(tasks.square, range(3), backend="ray")


def test_unordered_imap_yields_as_items_finish() -> None:
    def slow_first(x: int) -> int:
        time.sleep(0.5 if x == 0 else 0.0)
        return x

    out = list(parallel.imap(slow_first, range(6), backend="threads", workers=3, chunksize=1,
                             ordered=False))  # fmt: skip
    assert sorted(out) == list(range(6))
    assert out[-1] == 0


def test_a_script_without_main_guard_works(tmp_path: Path) -> None:
    script = tmp_path / "no_guard.py"
    script.write_text(
        "from parlearn import parallel\n"
        "def f(x):\n"
        "    return x * 2\n"
        "print(parallel.map(f, range(6), backend='processes', workers=2))\n"
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[0, 2, 4, 6, 8, 10]"


def test_a_timeout_in_this_thread_keeps_the_callers_own_alarm() -> None:
    import signal

    fired: list[int] = []
    previous = signal.signal(signal.SIGALRM, lambda *_: fired.append(1))
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.3)
        assert parallel.map(abs, [-1, -2], backend="serial", timeout=5.0) == [1, 2]
        left, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 0 < left <= 0.3  # still armed, with the time it had left
        time.sleep(0.5)
        assert fired == [1]
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
