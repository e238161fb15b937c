"""The pre-fork server's life: a killed worker is replaced while the others keep serving,
SIGTERM lets in-flight requests finish, recycling drains a worker without dropping requests,
and nothing is left behind."""

from __future__ import annotations

import http.client
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from tests.serve.conftest import Server

pytestmark = pytest.mark.slow

ROW = [0.0] * 64


class Load:
    """``clients`` threads sending /predict on keep-alive connections until stopped; a failed
    request counts and the client reconnects."""

    def __init__(self, server: Server, clients: int, body: dict[str, object]) -> None:
        self.server = server
        self.body = body
        self.ok = 0
        self.failed = 0
        self.other_status = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._client) for _ in range(clients)]
        for thread in self._threads:
            thread.start()

    def _client(self) -> None:
        conn: http.client.HTTPConnection | None = None
        while not self._stop.is_set():
            conn = conn or self.server.connection(timeout=10)
            try:
                answer = self.server.post("/predict", self.body, connection=conn)
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = None
                with self._lock:
                    self.failed += 1
                continue
            with self._lock:
                if answer.status == 200:
                    self.ok += 1
                else:
                    self.other_status += 1
        if conn is not None:
            conn.close()

    def count(self) -> int:
        with self._lock:
            return self.ok

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)


def _wait_until(condition: object, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_killed_worker_is_respawned_and_at_most_its_requests_fail(model_folder: Path) -> None:
    server = Server(model_folder / "digits.npz", "--workers", "2")
    try:
        before = server.wait_for_workers(2)
        load = Load(server, clients=8, body={"instances": [ROW]})
        try:
            _wait_until(lambda: load.count() > 200)
            victim = min(before)
            os.kill(victim, signal.SIGKILL)
            _wait_until(lambda: victim not in server.workers() and len(server.workers()) == 2)
            after = server.workers()
            assert len(after - before) == 1  # a fresh worker beside the survivor
            served = load.count()
            _wait_until(lambda: load.count() > served + 500)  # serving again, on both
        finally:
            load.stop()
        # Only requests in flight on the killed worker can fail: at most one per client.
        assert load.failed <= 8, load.failed
        assert load.other_status == 0
        assert server.request("GET", "/v2/health/ready").status == 200
    finally:
        assert server.stop() == 0
    assert not server.workers()


def test_sigterm_finishes_in_flight_requests_then_exits(slow_model_file: Path) -> None:
    server = Server(slow_model_file, "--trusted", "--workers", "2", "--graceful-timeout", "10")
    results: list[object] = []
    try:
        workers = server.wait_for_workers(2)
        slow = [
            threading.Thread(
                target=lambda i=i: results.append(
                    server.post("/predict", {"instances": [[1.5, i]]})
                )
            )
            for i in range(3)
        ]
        for thread in slow:
            thread.start()
        time.sleep(0.5)  # the requests are in the workers now
        server.process.send_signal(signal.SIGTERM)
        for thread in slow:
            thread.join(30)
        assert server.process.wait(30) == 0
    finally:
        server.kill()
    assert sorted(r.json()["predictions"][0] for r in results) == [0.0, 2.0, 4.0]  # type: ignore[attr-defined]
    assert all(r.status == 200 for r in results)  # type: ignore[attr-defined]
    for pid in workers:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    with pytest.raises(OSError):
        server.request("GET", "/v2/health/live")


def test_recycled_worker_drains_without_dropping_requests(model_folder: Path) -> None:
    server = Server(
        model_folder / "digits.npz",
        "--workers", "1", "--max-requests", "300", "--max-requests-jitter", "0",
    )  # fmt: skip
    try:
        first = server.wait_for_workers(1)
        load = Load(server, clients=4, body={"instances": [ROW]})
        try:
            _wait_until(lambda: server.workers() and server.workers() != first)
            served = load.count()
            _wait_until(lambda: load.count() > served + 100)
        finally:
            load.stop()
        assert load.failed == 0 and load.other_status == 0
        assert server.wait_for_log("recycling it, draining its connections")
    finally:
        assert server.stop() == 0


def test_bad_model_file_stops_the_server_before_it_starts(tmp_path: Path) -> None:
    (tmp_path / "model.npz").write_bytes(b"not a zip")
    with pytest.raises(RuntimeError) as caught:
        Server(tmp_path / "model.npz")
    message = " ".join(str(caught.value).split())  # the CLI wraps its error line at 80 columns
    assert "model.npz' is not a parlearn model artifact" in message
    assert "Traceback" not in message
