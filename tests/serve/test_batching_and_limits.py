"""Micro-batching really batches, overload gets 503, slowness gets 504, and a request that
breaks the model fails alone: real servers around the slow test model (one worker)."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.serve.conftest import Response, Server

pytestmark = pytest.mark.slow


def _predict(server: Server, rows: list[list[float]]) -> Response:
    return server.post("/predict", {"instances": rows})


def _batch_requests(metrics: str) -> tuple[float, float]:
    """(number of model calls, calls with exactly one request) from /metrics."""
    count = re.search(r"parlearn_batch_requests_count\{[^}]*\} ([\d.e+]+)", metrics)
    single = re.search(r'parlearn_batch_requests_bucket\{le="1.0",[^}]*\} ([\d.e+]+)', metrics)
    if count is None or single is None:  # no model call yet
        return 0.0, 0.0
    return float(count.group(1)), float(single.group(1))


def test_concurrent_requests_are_batched_and_each_gets_its_own_rows(slow_server: Server) -> None:
    calls_before, single_before = _batch_requests(slow_server.metrics())
    # Each call sleeps 50 ms, so requests that arrive meanwhile queue and run together.
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda i: _predict(slow_server, [[0.05, i], [0.0, -i]]), range(48)))
    for i, answer in enumerate(answers):
        assert answer.status == 200
        assert answer.json() == {"predictions": [2.0 * i, -2.0 * i]}
    calls, single = _batch_requests(slow_server.metrics())
    assert calls - calls_before < 48  # fewer model calls than requests
    assert calls - calls_before > single - single_before  # some call held more than one request
    rows = re.findall(
        r'parlearn_batch_size_bucket\{le="1.0",[^}]*\} ([\d.e+]+)', slow_server.metrics()
    )
    assert rows  # rows per call are recorded too


def test_request_over_its_time_limit_is_504(slow_server: Server) -> None:
    answer = _predict(slow_server, [[1.5, 1.0]])  # the limit is 1 s
    assert answer.status == 504
    assert "1 s limit" in answer.json()["error"]
    time.sleep(0.6)  # let the model finish before the next test
    assert _predict(slow_server, [[0.0, 3.0]]).json() == {"predictions": [6.0]}


def test_a_request_that_breaks_the_model_fails_alone(slow_server: Server) -> None:
    barrier = threading.Barrier(9)

    def one(i: int) -> Response:
        barrier.wait()
        rows = [[-1.0, 0.0]] if i == 0 else [[0.02, float(i)]]
        return _predict(slow_server, rows)

    with ThreadPoolExecutor(9) as pool:
        answers = list(pool.map(one, range(9)))
    assert answers[0].status == 500
    assert "ValueError: a row asked the model to fail" in answers[0].json()["error"]
    for i, answer in enumerate(answers[1:], start=1):
        assert answer.status == 200 and answer.json() == {"predictions": [2.0 * i]}
    assert slow_server.request("GET", "/v2/health/live").status == 200


@pytest.fixture()
def tiny_queue_server(slow_model_file: Path) -> Iterator[Server]:
    running = Server(slow_model_file, "--trusted", "--workers", "1", "--max-queue", "1")
    try:
        yield running
    finally:
        running.stop()


def test_full_queue_is_503_with_retry_after(tiny_queue_server: Server) -> None:
    server = tiny_queue_server
    # A slow call: from now on the batcher expects calls of this size to be slow and runs
    # them on the model thread, so the event loop goes on queueing requests meanwhile.
    _predict(server, [[0.3, 0.0]])
    busy = threading.Thread(target=_predict, args=(server, [[1.0, 0.0]]))
    busy.start()
    time.sleep(0.3)  # the model is busy for a second: the queue can hold one request
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda i: _predict(server, [[0.0, i]]), range(6)))
    busy.join()
    refused = [a for a in answers if a.status == 503]
    assert refused, [a.status for a in answers]
    assert all(a.headers["retry-after"] == "1" for a in refused)
    assert "overloaded" in refused[0].json()["error"]
    assert {a.status for a in answers} <= {200, 503}
    assert 'parlearn_request_errors_total{code="503",route="/predict"}' in server.metrics()
