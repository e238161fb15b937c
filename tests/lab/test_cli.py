"""``parlearn bench``, run as a user runs it: tables, JSON, plots, and bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest
from typer.testing import CliRunner

from parlearn.cli import app
from parlearn.lab import LocalServer, generate_images

runner = CliRunner()
SMALL_IO = ["--requests", "8", "--latency-ms", "5", "--workers", "4", "--repeats", "1"]
SMALL_CPU = ["--tasks", "2", "--size", "64x48", "--task-ms", "2", "--repeats", "1"]


def parlearn(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "parlearn.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def scratch_dirs() -> set[str]:
    return {n for n in os.listdir(tempfile.gettempdir()) if n.startswith("parlearn_bench_")}


def test_bench_io_prints_its_table_and_recommendation(tmp_path: Path) -> None:
    plot = tmp_path / "io.png"
    result = runner.invoke(app, ["bench", "io", *SMALL_IO, "--in-process", "--plot", str(plot)])
    assert result.exit_code == 0, result.output
    for word in ("sequential", "threads", "asyncio", "processes", "serial fraction"):
        assert word in result.output
    assert "Recommendation: I/O-bound:" in result.output
    assert "GET 8 URLs from a local server (5 ms latency" in result.output
    assert plot.read_bytes()[:4] == b"\x89PNG"


def test_bench_cpu_runs_both_workloads(tmp_path: Path) -> None:
    before = scratch_dirs()
    result = runner.invoke(app, ["bench", "cpu", *SMALL_CPU, "--in-process", "--no-sweep"])
    assert result.exit_code == 0, result.output
    assert "resize 2 generated 64x48 JPEGs to 25% (Pillow)" in result.output
    assert "2 pure-Python loops of ~2 ms each" in result.output
    assert result.output.count("Recommendation:") == 2
    assert scratch_dirs() <= before  # the generated images are gone


def test_bench_cpu_with_your_images(tmp_path: Path) -> None:
    generate_images(tmp_path, 2, (40, 30))
    (tmp_path / "notes.txt").write_text("not an image")
    result = runner.invoke(
        app, ["bench", "cpu", "--images", str(tmp_path), "--repeats", "1", "--in-process"]
    )
    assert result.exit_code == 0, result.output
    assert f"resize 2 images from {tmp_path}" in result.output
    assert "pure-Python" not in result.output


def test_bench_python_json_is_machine_readable(user_module: Callable[..., str]) -> None:
    name = user_module("lab_cli_tasks_a")
    Path("items.jsonl").write_text("\n".join(str(i) for i in range(6)) + "\n")
    done = parlearn(
        "bench", "python", f"{name}:double", "--items", "items.jsonl", "--json", "--repeats", "1",
        "--workers", "2", "--in-process",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    (report,) = document["reports"]
    assert report["workload"]["function"] == f"{name}:double"
    assert [m["mode"] for m in report["modes"]] == ["threads", "asyncio", "processes"]
    assert all(p["same_results"] for m in report["modes"] for p in m["points"])
    assert report["recommendation"]["mode"] in ("sequential", "threads", "asyncio", "processes")


def test_module_that_does_not_import_is_one_clear_line(user_module: Callable[..., str]) -> None:
    Path("items.jsonl").write_text("1\n")
    done = parlearn("bench", "python", "lab_cli_missing:f", "--items", "items.jsonl")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "cannot import module 'lab_cli_missing'" in done.stderr
    assert "PYTHONPATH" in done.stderr


def test_function_that_raises_is_one_clear_line(user_module: Callable[..., str]) -> None:
    name = user_module("lab_cli_tasks_b")
    Path("items.jsonl").write_text("1\n2\n3\n")
    done = parlearn("bench", "python", f"{name}:picky", "--items", "items.jsonl", "--repeats", "1")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "picky raised ValueError: three is bad on item 2 (3)" in done.stderr


def test_unreachable_url_list_is_one_clear_line(tmp_path: Path) -> None:
    urls = tmp_path / "urls.txt"
    with LocalServer(latency=0.0) as server:
        good = server.url(0)
    urls.write_text(f"{good}\nhttp://127.0.0.1:1/nothing\n")
    done = parlearn("bench", "io", "--urls", str(urls), "--retries", "0")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "2 of 2 URLs in" in done.stderr
    assert "http://127.0.0.1:1/nothing: cannot connect: connection refused" in done.stderr


def test_your_urls_are_fetched_rate_limited(tmp_path: Path) -> None:
    urls = tmp_path / "urls.txt"
    with LocalServer(latency=0.005) as server:
        urls.write_text("\n".join(server.urls(6)) + "\n")
        result = runner.invoke(
            app,
            ["bench", "io", "--urls", str(urls), "--rate", "200", "--workers", "2",
             "--repeats", "1", "--no-sweep", "--in-process"],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        assert "at most 200 requests/s per host" in result.output
        assert server.requests >= 6 * 5  # the check, then every model


def test_bad_options_name_the_fix() -> None:
    done = parlearn("bench", "cpu", "--size", "big")
    assert done.returncode != 0
    assert "expected WIDTHxHEIGHT" in done.stderr
    done = parlearn("bench", "io", "--rate", "5")
    assert done.returncode != 0
    assert "--rate applies to --urls only" in done.stderr


@pytest.mark.slow
def test_default_fresh_processes_leave_nothing_behind() -> None:
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    result = runner.invoke(app, ["bench", "io", *SMALL_IO, "--no-sweep"])
    assert result.exit_code == 0, result.output
    assert "each model in a fresh process" in result.output
    assert {p.pid for p in psutil.Process().children(recursive=True)} <= before


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_or_kill_stops_everything_and_cleans_up(signum: int) -> None:
    before = scratch_dirs()
    process = subprocess.Popen(
        [sys.executable, "-m", "parlearn.cli", "bench", "io", "--latency-ms", "200",
         "--requests", "64", "--repeats", "5"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    parent = psutil.Process(process.pid)
    deadline = time.monotonic() + 60
    while not parent.children() and time.monotonic() < deadline:  # the measuring child is up
        time.sleep(0.1)
    time.sleep(1.0)
    family = [parent, *parent.children(recursive=True)]
    assert len(family) >= 2
    process.send_signal(signum)  # to the parent only, as a supervisor would
    _, err = process.communicate(timeout=60)
    assert process.returncode != 0
    assert "Traceback" not in err
    _, alive = psutil.wait_procs(family, timeout=20)
    assert not alive, f"still running after the signal: {alive}"
    assert scratch_dirs() <= before  # the temporary folder is gone too
