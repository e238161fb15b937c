"""The ASGI app one worker runs: the endpoints over the models, their batchers and metrics.

::

    ServingMiddleware (request id, metrics, logs)
      └─ InferenceEndpoints
           POST /v2/models/{name}[/versions/{v}]/infer    Open Inference Protocol
           POST /predict                                  {"instances": [[...]]}
           └─ FastAPI, everything else:
                GET  /v2/health/live  /v2/health/ready  /v2
                GET  /v2/models/{name}[/versions/{v}]          model metadata
                GET  /v2/models/{name}[/versions/{v}]/ready
                GET  /metrics  /docs  /openapi.json

The models are loaded in the app's lifespan: in each worker, after gunicorn forked it, so no
model state is shared between workers; the worker accepts connections only once they are
loaded and warmed. The inference endpoints are answered in front of FastAPI, on raw ASGI
(``_inference.py``), and validate bodies on NumPy arrays (``_validation.py``); FastAPI serves
the rest and the OpenAPI document.
"""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from starlette.exceptions import HTTPException

from parlearn import __version__
from parlearn.serve._config import ServeConfig
from parlearn.serve._errors import RequestError
from parlearn.serve._inference import InferenceEndpoints
from parlearn.serve._lifecycle import WorkerState
from parlearn.serve._metrics import ServeMetrics
from parlearn.serve._middleware import ServingMiddleware, request_id_of
from parlearn.serve._protocol import error_body, model_metadata, server_metadata
from parlearn.serve._repository import ModelSource
from parlearn.serve._runtime import ModelRuntime
from parlearn.serve._schemas import RESPONSES, ModelMetadata, install_openapi

__all__ = ["create_app"]

log = logging.getLogger("parlearn.serve")
JSON = "application/json"


def create_app(
    sources: Sequence[ModelSource], config: ServeConfig, state: WorkerState | None = None
) -> ServingMiddleware:
    """The ASGI app serving ``sources`` (found by ``discover_models``) with ``config``."""
    state = state or WorkerState()
    metrics = ServeMetrics()
    runtime = ModelRuntime(sources, config, metrics)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=config.threads)  # BLAS/OpenMP threads of this worker
        runtime.load()
        # Everything loaded so far lives as long as the worker: keep it out of the garbage
        # collector's full passes, which otherwise stall requests for milliseconds.
        gc.collect()
        gc.freeze()
        state.ready = True
        log.info("worker %d ready: %s", os.getpid(), runtime.models().describe())
        yield
        state.ready = False
        await runtime.close()

    api = FastAPI(
        title="parlearn serve",
        version=__version__,
        description=(
            "Model inference over HTTP: the Open Inference Protocol (KServe v2) and a plain "
            '`POST /predict`. Errors are `{"error", "field", "request_id"}`; every response '
            "carries `X-Request-ID`."
        ),
        lifespan=lifespan,
    )
    install_openapi(api)

    async def on_request_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestError)
        rid = request_id_of(request.scope)
        level = logging.WARNING if exc.status >= 500 else logging.INFO
        log.log(level, "request_id=%s %d %s", rid, exc.status, exc.message)
        return Response(
            error_body(exc.message, rid, exc.field),
            status_code=exc.status,
            headers=exc.headers,
            media_type=JSON,
        )

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        message = {404: "no such endpoint; see /docs for the endpoints"}.get(
            exc.status_code, str(exc.detail)
        )
        rid = request_id_of(request.scope)
        log.info("request_id=%s %d %s", rid, exc.status_code, message)
        return Response(
            error_body(message, rid),
            status_code=exc.status_code,
            headers=exc.headers,
            media_type=JSON,
        )

    api.add_exception_handler(RequestError, on_request_error)
    api.add_exception_handler(HTTPException, on_http_error)

    # ------------------------------------------------------------------ health, metadata

    @api.get("/v2/health/live", tags=["health"])
    async def live() -> dict[str, bool]:
        """The worker answers (liveness)."""
        return {"live": True}

    @api.get("/v2/health/ready", tags=["health"], responses={503: {"description": "not ready"}})
    async def ready() -> Response:
        """The models are loaded and warmed (readiness)."""
        if state.ready:
            return Response(b'{"ready":true}', media_type=JSON)
        return Response(
            b'{"ready":false}', status_code=503, headers={"Retry-After": "1"}, media_type=JSON
        )

    @api.get("/v2", tags=["metadata"])
    async def server() -> dict[str, Any]:
        """Server metadata."""
        return server_metadata()

    def metadata(name: str, version: str | None) -> Response:
        repository = runtime.models()
        entry = repository.get(name, version)
        size = runtime.max_batch_size(entry)
        return Response(model_metadata(entry, repository, size), media_type=JSON)

    @api.get(
        "/v2/models/{name}", tags=["metadata"], response_model=ModelMetadata, responses=RESPONSES
    )
    async def model(name: str) -> Response:
        """A model's inputs, outputs and versions (its latest version)."""
        return metadata(name, None)

    @api.get(
        "/v2/models/{name}/versions/{version}",
        tags=["metadata"],
        response_model=ModelMetadata,
        responses=RESPONSES,
    )
    async def model_version(name: str, version: str) -> Response:
        """One version's inputs and outputs."""
        return metadata(name, version)

    @api.get("/v2/models/{name}/ready", tags=["health"], responses=RESPONSES)
    async def model_ready(name: str) -> dict[str, Any]:
        """The model is loaded and ready for inference."""
        entry = runtime.models().get(name)
        return {"name": entry.name, "ready": state.ready}

    @api.get("/v2/models/{name}/versions/{version}/ready", tags=["health"], responses=RESPONSES)
    async def model_version_ready(name: str, version: str) -> dict[str, Any]:
        """This version is loaded and ready for inference."""
        entry = runtime.models().get(name, version)
        return {"name": entry.name, "version": entry.version, "ready": state.ready}

    @api.get("/metrics", tags=["metrics"])
    async def prometheus() -> Response:
        """Prometheus metrics of all workers."""
        text, content_type = metrics.render()
        return Response(text, media_type=content_type)

    endpoints = InferenceEndpoints(api, runtime, config)
    return ServingMiddleware(endpoints, metrics, state, access_log=config.access_log)
