"""The gunicorn worker: uvicorn (uvloop + httptools) running the app, plus recycling that
drains connections before the worker exits.

uvicorn's own request limit closes idle keep-alive connections at once, so a client that
sends its next request at that moment sees the connection drop. Recycling here goes in
three steps instead::

    limit reached ─► stop accepting (other workers take new connections)
                 ─► every response says "Connection: close" (clients reconnect elsewhere
                    after their current request)
                 ─► once no connection is left (or keepalive + 1 s passed): exit;
                    the gunicorn master starts a fresh worker
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import sys
from typing import TYPE_CHECKING, Any

from gunicorn.arbiter import Arbiter
from uvicorn.server import Server
from uvicorn_worker import UvicornWorker

if TYPE_CHECKING:
    from parlearn.serve._runner import GunicornServer

__all__ = ["ServeWorker"]

log = logging.getLogger("parlearn.serve")
# How often a worker compares its request count with its limit.
_RECYCLE_CHECK_SECONDS = 0.5


class ServeWorker(UvicornWorker):  # type: ignore[misc]
    CONFIG_KWARGS: dict[str, Any] = {  # noqa: RUF012 (uvicorn's own class attribute)
        "loop": "uvloop",
        "http": "httptools",
        "lifespan": "on",
        "server_header": False,
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("parlearn.serve", "parlearn.serve.access"):
            logger = logging.getLogger(name)
            logger.handlers = self.log.error_log.handlers
            logger.setLevel(self.log.error_log.level)
            logger.propagate = False
        self.config.limit_max_requests = None  # recycling is done below, draining first
        # Finish in-flight requests within the master's grace period, a little before it
        # sends SIGKILL.
        self.config.timeout_graceful_shutdown = max(1, int(self.cfg.graceful_timeout) - 1)

    def _server_app(self) -> GunicornServer:
        return self.app  # type: ignore[no-any-return]

    async def _serve(self) -> None:
        self.config.app = self.wsgi
        server = Server(config=self.config)
        self._install_sigquit_handler()
        recycler = asyncio.get_running_loop().create_task(self._recycle(server))
        try:
            await server.serve(sockets=self.sockets)
        finally:
            recycler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await recycler
        if not server.started:
            sys.exit(Arbiter.WORKER_BOOT_ERROR)

    async def _recycle(self, server: Server) -> None:
        owner = self._server_app()
        config = owner.serve_config
        if config.max_requests == 0:
            return
        limit = config.max_requests + random.randint(0, config.max_requests_jitter)
        while server.server_state.total_requests < limit:
            await asyncio.sleep(_RECYCLE_CHECK_SECONDS)
            if server.should_exit:
                return
        log.info(
            "worker %d answered %d requests (limit %d): recycling it, draining its connections",
            self.pid, server.server_state.total_requests, limit,
        )  # fmt: skip
        owner.worker_state.draining = True
        for listener in getattr(server, "servers", []):
            listener.close()  # the master's socket stays open in the other workers
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self.cfg.keepalive + 1
        while server.server_state.connections and loop.time() < give_up:
            await asyncio.sleep(0.05)
        server.should_exit = True
