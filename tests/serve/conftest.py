"""Real servers for the serving tests: ``parlearn serve`` in its own process group on a free
loopback port, stopped (and its whole group killed) when the test or module is done.

Models are built once per session from scikit-learn's digits: a parlearn artifact, ONNX
models (two versions) and a skops file, plus the pickled :class:`SlowModel`.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import pickle
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from parlearn.models import ModelArtifact, save_model
from tests.serve.slow_model import SlowModel

ROOT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 60


class Response:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)


class Server:
    """One ``parlearn serve`` process tree, its port and its log."""

    def __init__(self, path: Path, *args: str) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}  # the pickled test model's module
        self.process = subprocess.Popen(
            [sys.executable, "-m", "parlearn.cli", "serve", str(path), "--port", "0", *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # its own process group: teardown kills master and workers
        )
        self.lines: list[str] = []
        self._port: int | None = None
        self._got_port = threading.Event()
        self._reader = threading.Thread(target=self._read_log, daemon=True)
        self._reader.start()
        try:
            self._wait_ready()
        except BaseException:
            self.kill()
            raise

    def _read_log(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line)
            found = re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", line)
            if found:
                self._port = int(found.group(1))
                self._got_port.set()
        self._got_port.set()

    @property
    def port(self) -> int:
        assert self._port is not None
        return self._port

    @property
    def log(self) -> str:
        return "".join(self.lines)

    def wait_for_log(self, text: str, timeout: float = 30) -> bool:
        """Whether ``text`` shows up in the log within ``timeout`` (the log arrives through a
        pipe, a little after the response)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in line for line in self.lines):
                return True
            time.sleep(0.02)
        return False

    def _wait_ready(self) -> None:
        if not self._got_port.wait(STARTUP_SECONDS) or self._port is None:
            raise RuntimeError(f"server did not start:\n{self.log}")
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.log}")
            try:
                if self.request("GET", "/v2/health/ready").status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server not ready in {STARTUP_SECONDS} s:\n{self.log}")

    def connection(self, timeout: float = 30) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        connection: http.client.HTTPConnection | None = None,
    ) -> Response:
        own = connection is None
        conn = connection or self.connection()
        data = body if isinstance(body, bytes | None) else json.dumps(body).encode()
        try:
            conn.request(method, path, body=data, headers=headers or {})
            answer = conn.getresponse()
            return Response(answer.status, dict(answer.getheaders()), answer.read())
        finally:
            if own:
                conn.close()

    def post(self, path: str, body: Any, **kwargs: Any) -> Response:
        return self.request("POST", path, body, **kwargs)

    def workers(self) -> set[int]:
        """The pids of the master's live worker processes."""
        import psutil

        try:
            children = psutil.Process(self.process.pid).children()
        except psutil.NoSuchProcess:
            return set()
        return {c.pid for c in children if c.status() != psutil.STATUS_ZOMBIE}

    def wait_for_workers(self, count: int, timeout: float = STARTUP_SECONDS) -> set[int]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pids = self.workers()
            if len(pids) == count:
                return pids
            time.sleep(0.05)
        raise AssertionError(f"expected {count} workers, have {self.workers()}:\n{self.log}")

    def metrics(self) -> str:
        return self.request("GET", "/metrics").body.decode()

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM (graceful) and wait; the return code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        finally:
            self.kill()

    def kill(self) -> None:
        """Kill whatever of the group is left; never leaves a process behind."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        if self.process.poll() is None:
            self.process.wait(10)
        self._reader.join(5)
        if self.process.stderr is not None:
            self.process.stderr.close()


@pytest.fixture(scope="session")
def digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    data = load_digits()
    return data.data / 16.0, data.target  # pixels in [0, 1]: the solvers converge fast


@pytest.fixture(scope="session")
def model_folder(
    tmp_path_factory: pytest.TempPathFactory, digits: tuple[np.ndarray, np.ndarray]
) -> Path:
    """``digits.npz`` (parlearn), ``onnx_digits/1`` and ``/2`` (ONNX), ``sk_digits.skops``."""
    from skl2onnx import to_onnx
    from sklearn.linear_model import LogisticRegression
    from sklearn.tree import DecisionTreeClassifier
    from skops.io import dump

    X, y = digits
    folder = tmp_path_factory.mktemp("models")
    logistic = LogisticRegression(max_iter=5000).fit(X, y)
    save_model(
        folder / "digits.npz",
        ModelArtifact(
            "logistic",
            [logistic.coef_.T.copy(), logistic.intercept_.copy()],
            {"num_features": 64, "num_classes": 10},
        ),
    )
    for version, depth in ((1, 4), (2, 8)):
        tree = DecisionTreeClassifier(max_depth=depth, random_state=0).fit(X, y)
        onnx_model = to_onnx(tree, X[:1].astype(np.float32), options={"zipmap": False})
        (folder / "onnx_digits" / str(version)).mkdir(parents=True)
        (folder / "onnx_digits" / str(version) / "model.onnx").write_bytes(
            onnx_model.SerializeToString()
        )
    dump(LogisticRegression(C=0.01, max_iter=5000).fit(X, y), folder / "sk_digits.skops")
    (folder / "notes.txt").write_text("not a model: ignored")
    return folder


@pytest.fixture(scope="session")
def slow_model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("slow") / "slow.pkl"
    path.write_bytes(pickle.dumps(SlowModel()))
    return path


@pytest.fixture(scope="session")
def server(model_folder: Path) -> Iterator[Server]:
    """Two workers serving the model folder; a 64 KiB body limit (the 413 test)."""
    running = Server(model_folder, "--workers", "2", "--max-body-mb", "0.0625")
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def slow_server(slow_model_file: Path) -> Iterator[Server]:
    """One worker serving the slow model, with a 1 s time limit per request."""
    running = Server(slow_model_file, "--trusted", "--workers", "1", "--request-timeout", "1")
    try:
        yield running
    finally:
        running.stop()
