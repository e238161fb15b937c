"""Each concurrency model on small workloads: correct results in every model, task errors."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path

import pytest

from parlearn.errors import ParlearnError
from parlearn.lab import (
    MODES,
    LocalServer,
    TaskError,
    Workload,
    generate_images,
    images_workload,
    io_workload,
    load_items,
    loop_workload,
    numeric_loop,
    python_workload,
    resize_image,
)
from parlearn.lab._http import close_pool, fetch
from parlearn.lab._modes import MeasureSpec, _fingerprint, measure


def measure_all(workload: Workload, workers: int = 2) -> dict[str, tuple[str, int]]:
    """The fingerprint of each model's results, and its failure count."""
    seen = {}
    for mode in MODES:
        counts = (1,) if mode == "sequential" else (workers,)
        (point,) = measure(MeasureSpec(workload, mode, counts, repeats=1))
        assert point.mode == mode and point.workers == counts[0]
        assert len(point.seconds) == 1 and point.seconds[0] > 0
        assert (point.startup is None) == (mode == "sequential")
        seen[mode] = (point.fingerprint, point.failures)
    return seen


def test_loop_gives_the_same_results_in_every_model() -> None:
    workload = loop_workload(5, 3000)
    expected = _fingerprint([numeric_loop([seed, 3000]) for seed in range(5)])
    assert measure_all(workload) == dict.fromkeys(MODES, (expected, 0))


def test_images_give_the_same_results_in_every_model(tmp_path: Path) -> None:
    paths = generate_images(tmp_path, 3, (64, 48))
    workload = images_workload(paths, scale=0.5)
    expected = _fingerprint([resize_image(str(p), 0.5) for p in paths])
    assert resize_image(str(paths[0]), 0.5)[1:3] == (32, 24)
    assert measure_all(workload) == dict.fromkeys(MODES, (expected, 0))


def test_io_gives_the_same_bodies_in_every_model() -> None:
    with LocalServer(latency=0.005, payload=2048) as server:
        workload = io_workload(server.urls(8), retries=0)
        try:
            expected = _fingerprint([fetch(u) for u in server.urls(8)])
        finally:
            close_pool()
        assert measure_all(workload, workers=4) == dict.fromkeys(MODES, (expected, 0))
        assert server.peak_in_flight >= 2  # threads and asyncio really overlapped requests


def test_io_counts_failed_requests_instead_of_stopping() -> None:
    with LocalServer(latency=0.0) as server:
        urls = [server.url(0), "http://127.0.0.1:1/refused", server.url(1)]
    # The server is gone now: every request fails, and is counted.
    workload = io_workload(urls, retries=0, timeout=2)
    for mode in ("sequential", "threads"):
        counts = (1,) if mode == "sequential" else (2,)
        (point,) = measure(MeasureSpec(workload, mode, counts, repeats=1))
        assert point.failures == 3
        assert point.first_failure is not None and "cannot connect" in point.first_failure


def test_user_functions_plain_and_async(user_module: Callable[..., str]) -> None:
    name = user_module("lab_user_tasks_a")
    items = [1, 2, 3, 4, 5]
    expected = _fingerprint([2 * x for x in items])
    plain = python_workload(f"{name}:double", items)
    assert plain.coroutine_function is None
    assert measure_all(plain) == dict.fromkeys(MODES, (expected, 0))
    coroutine = python_workload(f"{name}:adouble", items)
    assert coroutine.coroutine_function == f"{name}:adouble"
    assert measure_all(coroutine) == dict.fromkeys(MODES, (expected, 0))


@pytest.mark.parametrize("mode", ["sequential", "threads", "asyncio", "processes"])
def test_a_function_that_raises_names_the_item_and_the_error(
    user_module: Callable[..., str], mode: str
) -> None:
    name = user_module("lab_user_tasks_b")
    workload = python_workload(f"{name}:picky", [1, 2, 3, 4])
    counts = (1,) if mode == "sequential" else (2,)
    with pytest.raises(TaskError) as caught:
        measure(MeasureSpec(workload, mode, counts, repeats=1))
    message = str(caught.value)
    assert (
        f"{name}:picky raised ValueError: three is bad on item 2 (3) in the {mode} run" in message
    )
    assert f"{name}.py:" in message and "in picky" in message
    assert caught.value.index == 2
    assert pickle.loads(pickle.dumps(caught.value)).index == 2


def test_a_module_that_does_not_import(user_module: Callable[..., str]) -> None:
    with pytest.raises(ParlearnError, match="cannot import module 'lab_no_such_module'"):
        python_workload("lab_no_such_module:f", [1])
    broken = user_module("lab_broken_module", "x = 1 / 0\n")
    with pytest.raises(
        ParlearnError, match="importing module 'lab_broken_module' failed with ZeroDivisionError"
    ):
        python_workload(f"{broken}:f", [1])
    fine = user_module("lab_user_tasks_c")
    with pytest.raises(ParlearnError, match=r"has no 'nope'; it defines .*double"):
        python_workload(f"{fine}:nope", [1])
    with pytest.raises(ValueError, match="expected MODULE:FUNCTION"):
        python_workload(fine, [1])


def test_load_items(tmp_path: Path) -> None:
    file = tmp_path / "items.jsonl"
    file.write_text('1\n"two"\n\n[3, 4]\n{"five": 5}\n')
    assert load_items(file) == [1, "two", [3, 4], {"five": 5}]
    file.write_text("1\n{oops\n")
    with pytest.raises(ValueError, match=r"line 2 of .*items.jsonl is not JSON"):
        load_items(file)
    file.write_text("\n")
    with pytest.raises(ValueError, match="holds no items"):
        load_items(file)
    with pytest.raises(FileNotFoundError, match="no such items file"):
        load_items(tmp_path / "nope.jsonl")


def test_workload_crosses_as_json() -> None:
    workload = io_workload(["http://a.example/"], timeout=3.0)
    assert Workload.from_dict(workload.to_dict()) == workload
    spec = MeasureSpec(workload, "threads", (2, 4), repeats=2)
    assert MeasureSpec.from_dict(spec.to_dict()) == spec


def test_bad_specs() -> None:
    workload = loop_workload(1, 10)
    with pytest.raises(ValueError, match="unknown mode 'gpu'"):
        MeasureSpec(workload, "gpu")
    with pytest.raises(ValueError, match="repeats must be >= 1, got 0"):
        MeasureSpec(workload, "threads", (2,), repeats=0)
    with pytest.raises(ValueError, match="has no items"):
        Workload("x", "x", "m:f", ())
