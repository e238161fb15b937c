"""``parlearn serve``: a model file or folder behind the HTTP API, with many workers.

The work is ``parlearn.serve``; this module maps options to a ``ServeConfig``."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from parlearn.errors import MissingDependencyError

__all__ = ["serve_command"]


class LogLevel(str, Enum):
    debug = "debug"
    info = "info"
    warning = "warning"
    error = "error"


def serve_command(
    path: Annotated[
        Path,
        typer.Argument(
            help="A model file (.npz parlearn artifact, .onnx, .skops; .pkl/.joblib with "
            "--trusted) or a folder of them (NAME.ext, NAME/model.ext, NAME/VERSION/model.ext).",
            show_default=False,
        ),
    ],
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers", "-w", min=1, help="Worker processes.", show_default="one per core"
        ),
    ] = None,
    host: Annotated[
        str, typer.Option(help="Address to listen on (0.0.0.0: every interface).")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="Port to listen on (0: any free port).")
    ] = 8000,
    name: Annotated[
        str | None,
        typer.Option(help="Serve a single model under this name.", show_default="the file's name"),
    ] = None,
    trusted: Annotated[
        bool,
        typer.Option(
            "--trusted",
            help="The model files are trusted: load pickle/joblib files and skops files with "
            "types outside skops' safe list. Loading those runs code from the file.",
        ),
    ] = False,
    batching: Annotated[
        bool, typer.Option("--batching/--no-batching", help="Adaptive micro-batching.")
    ] = True,
    max_batch_size: Annotated[
        int, typer.Option(min=1, help="Most rows one batched model call takes.")
    ] = 64,
    max_delay_ms: Annotated[
        float,
        typer.Option(
            min=0, max=1000, help="Most milliseconds a request waits for others to join its batch."
        ),
    ] = 2.0,
    max_queue: Annotated[
        int,
        typer.Option(
            min=1, help="Requests that may wait per model and worker; beyond: 503 with Retry-After."
        ),
    ] = 512,
    request_timeout: Annotated[
        float, typer.Option(min=0.001, help="Seconds a request may take; beyond: 504.")
    ] = 30.0,
    max_body_mb: Annotated[
        float, typer.Option(min=0.001, help="Largest request body in MiB; beyond: 413.")
    ] = 10.0,
    threads_per_worker: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="BLAS/OpenMP/onnxruntime threads per worker.",
            show_default="cores / workers",
        ),
    ] = None,
    max_requests: Annotated[
        int,
        typer.Option(
            min=0, help="Recycle a worker after this many requests (plus jitter); 0: never."
        ),
    ] = 1_000_000,
    max_requests_jitter: Annotated[
        int, typer.Option(min=0, help="Random extra requests per worker, so workers recycle apart.")
    ] = 100_000,
    graceful_timeout: Annotated[
        float, typer.Option(min=0.1, help="Seconds in-flight requests get to finish on SIGTERM.")
    ] = 30.0,
    access_log: Annotated[bool, typer.Option(help="Log every request (with its id).")] = False,
    log_level: Annotated[LogLevel, typer.Option(help="Log level.")] = LogLevel.info,
) -> None:
    """Serve a trained model over HTTP with many workers (Open Inference Protocol + /predict).

    Each worker loads the models after the fork; concurrent requests are micro-batched.
    Endpoints: POST /predict, POST /v2/models/NAME/infer, GET /v2/health/ready, GET /metrics,
    GET /docs. SIGTERM stops gracefully (in-flight requests finish); Ctrl-C stops at once.
    """
    try:
        from parlearn.serve import BatchPolicy, ServeConfig, serve
    except ImportError as exc:
        raise MissingDependencyError(exc.name or "fastapi", "serve", "parlearn serve") from exc

    config = ServeConfig(
        path=path,
        name=name,
        host=host,
        port=port,
        workers=workers,
        threads_per_worker=threads_per_worker,
        trusted=trusted,
        batching=BatchPolicy(
            enabled=batching,
            max_batch_size=max_batch_size,
            max_delay=max_delay_ms / 1000,
            max_queue=max_queue,
        ),
        request_timeout=request_timeout,
        max_body_bytes=max(1, int(max_body_mb * 1024 * 1024)),
        max_requests=max_requests,
        max_requests_jitter=max_requests_jitter,
        graceful_timeout=graceful_timeout,
        access_log=access_log,
        log_level=log_level.value,
    )
    serve(config)
