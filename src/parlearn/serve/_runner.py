"""``serve()``: gunicorn's pre-fork master running uvicorn workers that each load the models.

::

    parlearn serve PATH
      master: discover_models(PATH), load each once to fail fast with a clear message,
              set BLAS thread variables and the metrics folder, bind the socket
        ├── fork ─► worker 1: create_app ─► lifespan: load + warm models ─► accept
        ├── fork ─► worker 2: ...
        └── ...   a worker that dies is replaced; SIGTERM: each worker stops accepting,
                  finishes its in-flight requests (up to graceful_timeout), exits;
                  SIGINT (Ctrl-C) / SIGQUIT: quick stop; SIGHUP: replace all workers
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import tempfile
from typing import Any

from gunicorn.app.base import BaseApplication

from parlearn.serve._app import create_app
from parlearn.serve._config import ServeConfig
from parlearn.serve._lifecycle import WorkerState
from parlearn.serve._loaders import load_predictor
from parlearn.serve._metrics import MULTIPROC_ENV
from parlearn.serve._middleware import ASGIApp
from parlearn.serve._repository import ModelSource, discover_models

__all__ = ["GunicornServer", "check_models", "serve"]

log = logging.getLogger("parlearn.serve")
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
# gunicorn kills a worker whose event loop has not checked in for this long (a hung worker);
# generous, since model loading happens before the first check-in.
_HEARTBEAT_TIMEOUT = 120


class GunicornServer(BaseApplication):  # type: ignore[misc]
    """gunicorn configured from a :class:`ServeConfig`; each worker builds its own app."""

    def __init__(self, config: ServeConfig, sources: list[ModelSource]) -> None:
        self.serve_config = config
        self.sources = sources
        self.worker_state = WorkerState()
        super().__init__(prog="parlearn serve")

    def load_config(self) -> None:
        config = self.serve_config
        host = f"[{config.host}]" if ":" in config.host else config.host
        settings: dict[str, Any] = {
            "bind": [f"{host}:{config.port}"],
            "workers": config.worker_count,
            "worker_class": "parlearn.serve._worker.ServeWorker",
            "timeout": _HEARTBEAT_TIMEOUT,
            # gunicorn takes whole seconds
            "graceful_timeout": math.ceil(config.graceful_timeout),
            "keepalive": math.ceil(config.keepalive),
            "max_requests": 0,  # recycling is the worker's own, draining first
            "loglevel": config.log_level,
            "errorlog": "-",
            "accesslog": None,
            "preload_app": False,  # the models load in each worker, after the fork
            "proc_name": "parlearn-serve",
            # gunicorn >= 24 opens a control socket at one fixed path per user, which two
            # servers on one machine would fight over; nothing here uses it.
            "control_socket_disable": True,
            "when_ready": _when_ready,
            "child_exit": _child_exit,
        }
        for key, value in settings.items():
            if key in self.cfg.settings:  # control_socket_disable exists from gunicorn 24 on
                self.cfg.set(key, value)

    def load(self) -> ASGIApp:
        """Runs in the worker, after the fork: a fresh app and worker state."""
        self.worker_state = WorkerState()
        return create_app(self.sources, self.serve_config, self.worker_state)


def _when_ready(server: Any) -> None:
    owner: GunicornServer = server.app
    config = owner.serve_config
    names = ", ".join(f"{s.name} (version {s.version})" for s in owner.sources)
    addresses = ", ".join(str(listener) for listener in server.LISTENERS)
    server.log.info(
        "parlearn serve: %s at %s with %d workers; API docs at /docs", names, addresses,
        config.worker_count,
    )  # fmt: skip


def _child_exit(server: Any, worker: Any) -> None:
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


def check_models(config: ServeConfig) -> list[ModelSource]:
    """The models ``config`` serves, each loaded once here so a bad file fails now, in one
    clear error, rather than in every worker."""
    sources = discover_models(config.path, name=config.name, trusted=config.trusted)
    for source in sources:
        load_predictor(source.path, trusted=config.trusted, threads=config.threads)
    return sources


def serve(config: ServeConfig) -> None:
    """Run the server until it is stopped (SIGTERM: gracefully; Ctrl-C: quickly)."""
    sources = check_models(config)
    for name in THREAD_VARS:
        os.environ[name] = str(config.threads)
    metrics_dir = tempfile.mkdtemp(prefix="parlearn-serve-metrics-")
    os.environ[MULTIPROC_ENV] = metrics_dir
    master = os.getpid()
    try:
        GunicornServer(config, sources).run()
    finally:
        # Workers are forked inside run() and leave it through this block too (gunicorn
        # ends them with SystemExit): only the master may remove the folder.
        if os.getpid() == master:
            shutil.rmtree(metrics_dir, ignore_errors=True)
            os.environ.pop(MULTIPROC_ENV, None)
