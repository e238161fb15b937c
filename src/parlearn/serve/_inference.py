"""The inference endpoints, on the hot path: raw ASGI in front of the FastAPI app.

``POST /predict`` and ``POST /v2/models/{name}[/versions/{version}]/infer`` are answered
here, bytes in and bytes out, without FastAPI's routing, dependency solving and response
classes (about a third of a small model's time per request); every other request goes on to
FastAPI. The OpenAPI document still describes these two endpoints (``_schemas.py``).

Per request: read the body (413 past the limit) ─► parse and validate (400 / 404 / 422)
─► the model's batcher (503 / 504) ─► the response body; any ``RequestError`` becomes the
JSON error body with its status and headers.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from parlearn.serve._config import ServeConfig
from parlearn.serve._errors import RequestError
from parlearn.serve._middleware import ASGIApp, Receive, Scope, Send, request_id_of
from parlearn.serve._protocol import error_body, predict_body, v2_infer_body
from parlearn.serve._runtime import ModelRuntime
from parlearn.serve._validation import parse_json, parse_predict, parse_v2, to_array

__all__ = ["InferenceEndpoints", "RouteTemplate"]

log = logging.getLogger("parlearn.serve")

_V2_INFER = re.compile(r"^/v2/models/([^/]+)/(?:versions/([^/]+)/)?infer$")
_JSON = (b"content-type", b"application/json")


@dataclass(frozen=True)
class RouteTemplate:
    """The route a request matched, as the metrics label it (like a FastAPI route's path)."""

    path: str


PREDICT = RouteTemplate("/predict")
V2_INFER = RouteTemplate("/v2/models/{name}/infer")
V2_INFER_VERSION = RouteTemplate("/v2/models/{name}/versions/{version}/infer")


class _Disconnected(Exception):
    """The client went away before its body arrived: nobody to answer."""


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The request body; 413 as soon as it is known to be over ``limit`` bytes."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            if value.isdigit() and int(value) > limit:
                raise _too_large(limit)
            break
    chunks = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _too_large(limit: int) -> RequestError:
    return RequestError(
        413,
        f"the request body is over the {limit:,}-byte limit (--max-body-mb); send fewer rows per "
        "request",
        headers={"Connection": "close"},  # the unread rest must not be taken for a request
    )


Handler = Callable[[bytes, str, tuple[str | None, ...]], Awaitable[bytes]]


class InferenceEndpoints:
    """ASGI: answers the inference endpoints, passes everything else to ``app``."""

    def __init__(self, app: ASGIApp, runtime: ModelRuntime, config: ServeConfig) -> None:
        self.app = app
        self.runtime = runtime
        self.config = config

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            if path == "/predict":
                await self._answer(scope, receive, send, PREDICT, self._predict, ())
                return
            if path.startswith("/v2/models/") and path.endswith("/infer"):
                match = _V2_INFER.match(path)
                if match is not None:
                    name, version = match.groups()
                    route = V2_INFER if version is None else V2_INFER_VERSION
                    await self._answer(scope, receive, send, route, self._v2, (name, version))
                    return
        await self.app(scope, receive, send)

    async def _answer(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        route: RouteTemplate,
        handler: Handler,
        params: tuple[str | None, ...],
    ) -> None:
        scope["route"] = route
        request_id = request_id_of(scope)
        headers: list[tuple[bytes, bytes]] = [_JSON]
        try:
            if scope["method"] != "POST":
                raise RequestError(
                    405,
                    f"{scope['method']} is not allowed here; use POST",
                    headers={"Allow": "POST"},
                )
            content = await handler(await self._body(scope, receive), request_id, params)
            status = 200
        except _Disconnected:
            return
        except RequestError as exc:
            status = exc.status
            content = error_body(exc.message, request_id, exc.field)
            headers += [(k.lower().encode(), v.encode()) for k, v in exc.headers.items()]
            level = logging.WARNING if status >= 500 else logging.INFO
            log.log(level, "request_id=%s %d %s", request_id, status, exc.message)
        headers.append((b"content-length", str(len(content)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})

    async def _body(self, scope: Scope, receive: Receive) -> bytes:
        with self.runtime.arrivals:  # a batch forming now may wait for this request
            return await read_body(scope, receive, self.config.max_body_bytes)

    def _deadline(self) -> float:
        return asyncio.get_running_loop().time() + self.config.request_timeout

    async def _predict(self, body: bytes, request_id: str, params: tuple[str | None, ...]) -> bytes:
        deadline = self._deadline()
        name, version, instances = parse_predict(parse_json(body))
        repository = self.runtime.models()
        if name is None:
            entry = repository.default()
            if version is not None:
                entry = repository.get(entry.name, version)
        else:
            entry = repository.get(name, version)
        rows = to_array(instances, "instances", entry.predictor)
        first = entry.predictor.outputs[0].name
        outputs = await self.runtime.infer(entry, rows, (first,), deadline)
        return predict_body(outputs[first])

    async def _v2(self, body: bytes, request_id: str, params: tuple[str | None, ...]) -> bytes:
        deadline = self._deadline()
        name, version = params
        payload: Any = parse_json(body)
        entry = self.runtime.models().get(str(name), version)
        request = parse_v2(payload, entry.predictor, entry.name)
        outputs = await self.runtime.infer(entry, request.rows, request.outputs, deadline)
        return v2_infer_body(entry, request.id or request_id, outputs, request.outputs)
