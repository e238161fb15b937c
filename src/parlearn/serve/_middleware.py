"""One pure-ASGI middleware around every request: its id, its metrics, its log line.

- Request id: the client's ``X-Request-ID`` when it is a sane token (letters, digits, ``-``,
  ``_``, ``.``, ``:``; at most 128 characters), a fresh random one otherwise; it goes back in
  the ``X-Request-ID`` response header, into error bodies, and into every log line about the
  request.
- Metrics: requests by route template (never the raw path, so the label set stays small),
  method and status; latency; requests in flight.
- Logs: a line per server error (5xx) here, per client error (4xx, with its message) where it
  is refused, and per request with ``access_log``.
- Draining workers add ``Connection: close`` so keep-alive clients move elsewhere.

Pure ASGI rather than Starlette's ``BaseHTTPMiddleware``: no extra task per request.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from parlearn.serve._lifecycle import WorkerState
from parlearn.serve._metrics import ServeMetrics

__all__ = ["ServingMiddleware", "request_id_of"]

log = logging.getLogger("parlearn.serve")
access = logging.getLogger("parlearn.serve.access")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_SANE_ID = re.compile(rb"^[A-Za-z0-9._:-]{1,128}$")


def request_id_of(scope: Scope) -> str:
    """The request id the middleware gave this request ("" outside the middleware)."""
    state = scope.get("state") or {}
    return str(state.get("request_id", ""))


class ServingMiddleware:
    def __init__(
        self, app: ASGIApp, metrics: ServeMetrics, state: WorkerState, *, access_log: bool
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.state = state
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = b""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                if _SANE_ID.match(value):
                    rid = value
                break
        if not rid:
            rid = os.urandom(8).hex().encode()
        request_id = rid.decode()
        if "state" not in scope:
            scope["state"] = {}
        scope["state"]["request_id"] = request_id
        started = time.perf_counter()
        status = 500
        draining = self.state.draining

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [*message.get("headers", ()), (b"x-request-id", rid)]
                if draining or self.state.draining:
                    headers.append((b"connection", b"close"))
                message = {**message, "headers": headers}
            await send(message)

        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("request_id=%s %s %s failed", request_id, scope["method"], scope["path"])
            raise
        finally:
            self.metrics.in_flight.dec()
            seconds = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.observe_request(template, scope["method"], status, seconds)
            if self.access_log or status >= 500:  # 4xx: the handler logged its message
                access.log(
                    logging.WARNING if status >= 500 else logging.INFO,
                    "request_id=%s %s %s %d %.2fms",
                    request_id, scope["method"], scope["path"], status, seconds * 1000,
                )  # fmt: skip
