"""run_bench: the sweep, the report, fresh processes, and a failing task through them."""

from __future__ import annotations

import io
import json
from collections.abc import Callable

import psutil
import pytest
from rich.console import Console

from parlearn.lab import (
    BenchPlan,
    LocalServer,
    TaskError,
    io_workload,
    loop_workload,
    python_workload,
    run_bench,
    sweep_points,
)
from parlearn.lab.report import amdahl_notes, print_report, reports_to_json


@pytest.mark.parametrize(
    ("most", "sweep", "points"),
    [(32, True, (2, 4, 8, 16, 32)), (6, True, (2, 4, 6)), (2, True, (2,)), (1, True, (1,)),
     (32, False, (32,))],
)  # fmt: skip
def test_sweep_points(most: int, sweep: bool, points: tuple[int, ...]) -> None:
    assert sweep_points(most, sweep) == points


def test_report_in_process_has_every_model_a_fit_and_a_recommendation() -> None:
    plan = BenchPlan(workers=4, processes=2, repeats=2, fresh_process=False)
    report = run_bench(loop_workload(4, 20_000), plan)
    assert report.baseline.mode == "sequential" and report.baseline.speedup.median == 1.0
    assert [m.mode for m in report.modes] == ["threads", "asyncio", "processes"]
    assert [p.workers for p in report.mode("threads").points] == [2, 4]
    assert [p.workers for p in report.mode("processes").points] == [2]
    for mode in report.modes:
        assert all(p.same_results for p in mode.points)
        assert all(len(p.timing.samples) == 2 for p in mode.points)
        assert mode.fit is not None and 0.0 <= mode.fit.serial_fraction <= 1.0
        assert mode.fit.workers == (1, *(p.workers for p in mode.points))
    assert report.recommendation.mode in ("sequential", "threads", "asyncio", "processes")
    assert report.recommendation.bound is not None
    assert amdahl_notes(report)[0].startswith("Amdahl (")
    document = json.loads(json.dumps(reports_to_json([report])))  # JSON all the way down
    (only,) = document["reports"]
    assert only["workload"]["items"] == 4
    assert only["recommendation"]["summary"] == report.recommendation.summary
    predicted = report.mode("threads").predictions()
    assert only["modes"][0]["fit"]["predictions"] == {str(n): v for n, v in predicted.items()}
    assert sorted(predicted) == [8, 16, 32]  # 2, 4 and 8 times the most workers measured
    assert only["machine"]["cores"] >= 1
    assert 0.0 <= only["machine"]["cpu_busy_before"] <= 1.0

    # The printed report: tables, the recommendation, and a warning on a busy machine.
    report.machine["cpu_busy_before"] = 0.9
    console = Console(file=io.StringIO(), width=140)
    print_report(report, console, title="parlearn bench test")
    text = console.file.getvalue()
    assert "parlearn bench test: 4 pure-Python loops" in text
    assert f"Recommendation: {report.recommendation.summary}" in text
    assert "other programs kept the machine 90% busy around this run" in text


@pytest.mark.slow
def test_fresh_processes_measure_io_and_leave_nothing_behind() -> None:
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    with LocalServer(latency=0.01, payload=512) as server:
        plan = BenchPlan(workers=4, processes=2, repeats=1)
        report = run_bench(io_workload(server.urls(8)), plan)
    assert report.plan.fresh_process
    for mode in report.modes:
        assert all(p.same_results and p.failures == 0 for p in mode.points)
    assert report.mode("asyncio").top.speedup.median > 1  # overlapping 10 ms waits
    after = {p.pid for p in psutil.Process().children(recursive=True)}
    assert after <= before


def test_a_failing_task_in_a_fresh_process_is_one_clear_error(
    user_module: Callable[..., str],
) -> None:
    name = user_module("lab_user_tasks_d")
    workload = python_workload(f"{name}:picky", [1, 2, 3])
    with pytest.raises(
        TaskError,
        match=r"picky raised ValueError: three is bad on item 2 \(3\) in the sequential run",
    ):
        run_bench(workload, BenchPlan(modes=("sequential", "threads"), workers=2))


def test_a_task_that_prints_does_not_corrupt_the_results(
    user_module: Callable[..., str],
) -> None:
    name = user_module("lab_user_tasks_e")
    workload = python_workload(f"{name}:chatty", [1, 2, 3])
    report = run_bench(workload, BenchPlan(modes=("sequential", "threads"), workers=2, repeats=1))
    assert report.mode("threads").top.same_results


def test_bad_plans_say_what_to_do() -> None:
    with pytest.raises(ValueError, match="unknown mode 'gpu'"):
        BenchPlan(modes=("gpu",))
    with pytest.raises(ValueError, match="at least one of threads, asyncio, processes"):
        BenchPlan(modes=("sequential",))
    with pytest.raises(ValueError, match="repeats must be >= 1"):
        BenchPlan(repeats=0)


def test_items_that_are_not_json_cannot_cross_to_a_fresh_process(
    user_module: Callable[..., str],
) -> None:
    name = user_module("lab_user_tasks_f")
    workload = python_workload(f"{name}:double", [{1, 2}])  # a set is not a JSON value
    with pytest.raises(ValueError, match="must be JSON values"):
        run_bench(workload, BenchPlan(modes=("sequential", "threads"), workers=2, repeats=1))
