"""A local HTTP server with a set latency and payload, so I/O benchmarks need no network.

::

    caller thread                       server thread (its own event loop)
    LocalServer(...).__enter__ ──start──► aiohttp web app on 127.0.0.1:<free port>
         │   ◄──── port ready ───────────  GET /item/{i}: sleep(latency), send payload
    clients (threads, processes, asyncio)  GET /status/{code}: answer with that status
         │                                  (thousands of connections at once: one
    __exit__ ───── stop the loop ─────────►  coroutine each, no thread per connection)
         └──── join: connections closed, thread ended, port freed

The latency is an ``asyncio.sleep``, so the server waits the way a remote one does: without
using a core, and for every request at once. Bodies are deterministic (the item number, then
fixed pseudo-random bytes), so every client model must get the same bytes back.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
from collections.abc import AsyncIterator
from types import TracebackType

from aiohttp import web

__all__ = ["LocalServer"]

# The kernel's queue of connections not yet accepted: well above the largest concurrency a
# benchmark uses, so no connection waits for a SYN retransmit (1 s) and skews a timing.
BACKLOG = 4096
# Waiting for in-flight requests at shutdown: long enough for the latencies used here.
SHUTDOWN_SECONDS = 2.0


class LocalServer:
    """An HTTP server on loopback, started by ``with`` (or :meth:`start`) and stopped at exit.

    >>> with LocalServer(latency=0.02, payload=16384) as server:   # doctest: +SKIP
    ...     urls = server.urls(100)

    ``latency`` is seconds before each answer; ``payload`` is bytes per body."""

    def __init__(self, *, latency: float = 0.02, payload: int = 16 * 1024, host: str = "127.0.0.1"):
        if not latency >= 0:
            raise ValueError(f"latency must be >= 0 seconds, got {latency!r}")
        if not isinstance(payload, int) or payload < 0:
            raise ValueError(f"payload must be a number of bytes >= 0, got {payload!r}")
        self.latency = latency
        self.payload = payload
        self.host = host
        self.requests = 0  # answered so far
        self.in_flight = 0  # being answered now
        self.peak_in_flight = 0  # the most answered at once: how much concurrency clients got
        self._body = random.Random(0).randbytes(payload)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop: asyncio.Event | None = None
        self._port: int | None = None
        self._error: BaseException | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the server is not running; use it in a with block")
        return self._port

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def url(self, item: int) -> str:
        """The URL of one item."""
        return f"http://{self.host}:{self.port}/item/{item}"

    def urls(self, count: int) -> list[str]:
        """URLs of ``count`` distinct items."""
        return [self.url(i) for i in range(count)]

    def body(self, item: int) -> bytes:
        """The exact body the server sends for ``item``."""
        head = f"{item}\n".encode()
        return (head + self._body)[: max(self.payload, len(head))]

    def start(self) -> LocalServer:
        if self._thread is not None:
            raise RuntimeError("the server was already started; create a new LocalServer")
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._serve, args=(ready,), name="parlearn-lab-server", daemon=True
        )
        self._thread.start()
        ready.wait()
        if self._error is not None:
            self._thread.join()
            raise OSError(f"the local HTTP server could not start on {self.host}: {self._error}")
        return self

    def close(self) -> None:
        """Stop serving, close every connection and end the server thread. Idempotent."""
        thread, loop, stop = self._thread, self._loop, self._stop
        if thread is None or loop is None or stop is None or not thread.is_alive():
            return
        loop.call_soon_threadsafe(stop.set)
        thread.join()

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ----------------------------------------------------------------- the server thread

    def _serve(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main(ready))
        except BaseException as exc:  # reported to start(), never lost in a thread
            self._error = exc
        finally:
            ready.set()
            loop.close()

    async def _main(self, ready: threading.Event) -> None:
        self._stop = asyncio.Event()
        app = web.Application()
        app.router.add_get("/item/{item}", self._item)
        app.router.add_get("/status/{code}", self._status)
        runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=SHUTDOWN_SECONDS
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, 0, backlog=BACKLOG)
            await site.start()
            self._port = int(runner.addresses[0][1])
            ready.set()
            await self._stop.wait()
        finally:
            await runner.cleanup()

    @contextlib.asynccontextmanager
    async def _counted(self) -> AsyncIterator[None]:
        # Only the server's event loop touches the counters: no lock needed.
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            yield
        finally:
            self.in_flight -= 1
            self.requests += 1

    async def _item(self, request: web.Request) -> web.Response:
        try:
            item = int(request.match_info["item"])
        except ValueError:
            raise web.HTTPNotFound() from None
        async with self._counted():
            if self.latency:
                await asyncio.sleep(self.latency)
        return web.Response(body=self.body(item), content_type="application/octet-stream")

    async def _status(self, request: web.Request) -> web.Response:
        code = int(request.match_info["code"]) if request.match_info["code"].isdigit() else 400
        async with self._counted():
            if self.latency:
                await asyncio.sleep(self.latency)
        return web.Response(status=code if 200 <= code < 600 else 400, text=f"status {code}\n")
