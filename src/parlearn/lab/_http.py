"""Fetching a URL: the I/O task of ``parlearn bench io``, blocking and as a coroutine.

:func:`fetch` (blocking: urllib3, one thread-safe connection pool per process) serves the
sequential, threads and processes models; :func:`afetch` (aiohttp, one session per event loop)
serves asyncio. Both follow the same :class:`FetchSettings`: a timeout per attempt, retries with
exponential back-off on transient failures (timeouts, refused or reset connections, HTTP 429,
502, 503, 504), and an optional rate limit per host that every thread, coroutine and process of
a run shares (:class:`RateLimiter`, a lock file per host). Failures raise :class:`FetchError`,
whose message names the URL and what went wrong in words ("cannot resolve host 'x'").

Each returns ``(status, bytes received, digest of the body)``, small enough to cross from a
worker process and enough to check that every model received the same bytes.
"""

from __future__ import annotations

import asyncio
import fcntl
import functools
import hashlib
import os
import struct
import threading
import time
import urllib.parse
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import urllib3
from urllib3 import exceptions as u3

from parlearn.errors import ParlearnError

__all__ = [
    "FetchError",
    "FetchResult",
    "FetchSettings",
    "RateLimiter",
    "afetch",
    "afetch_task",
    "check_urls",
    "close_pool",
    "close_session",
    "fetch",
    "fetch_task",
    "read_urls",
]

FetchResult = tuple[int, int, str]  # status, body bytes, body digest ("" when not kept)
RETRY_STATUSES = frozenset({429, 502, 503, 504})
# Connections kept per host and process: above the largest thread count a benchmark uses, so
# no thread waits for a connection (urllib3 opens extra ones when needed, and drops them).
POOL_MAXSIZE = 256
# Threads that check a URL list before a benchmark: quick, and gentle on the hosts.
PREFLIGHT_WORKERS = 16


@dataclass(frozen=True)
class FetchSettings:
    """How to fetch: ``timeout`` seconds per attempt; ``retries`` after the first attempt,
    waiting ``backoff`` x 2**attempt seconds between them; at most ``rate`` requests per second
    per host across all workers (None: no limit), coordinated through files in ``rate_dir``;
    ``digest``: hash bodies (to compare models) or not (pages that change between requests)."""

    timeout: float = 10.0
    retries: int = 2
    backoff: float = 0.2
    rate: float | None = None
    rate_dir: str | None = None
    digest: bool = True

    def __post_init__(self) -> None:
        if not self.timeout > 0:
            raise ValueError(f"timeout must be > 0 seconds, got {self.timeout!r}")
        if not isinstance(self.retries, int) or self.retries < 0:
            raise ValueError(f"retries must be an int >= 0, got {self.retries!r}")
        if self.rate is not None and not self.rate > 0:
            raise ValueError(
                f"rate must be > 0 requests per second, got {self.rate!r}; pass None for no limit"
            )
        if self.rate is not None and self.rate_dir is None:
            raise ValueError("a rate limit needs rate_dir, a folder shared by every worker")


class FetchError(ParlearnError, OSError):
    """A URL could not be fetched after its retries; ``url`` and ``reason`` say which and why."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.url}: {self.reason}"

    def __reduce__(self) -> tuple[Any, ...]:
        return (FetchError, (self.url, self.reason))


# --------------------------------------------------------------------------- rate limit


class RateLimiter:
    """At most ``rate`` request starts per second per host, shared by every thread, coroutine
    and process that uses the same ``folder``.

    Each host has a file holding the time its next request may start. :meth:`reserve` locks it
    (``flock``), takes that slot, moves it on by ``1 / rate`` and says how long to wait; the
    caller sleeps (``time.sleep`` or ``asyncio.sleep``), so no lock is held while waiting.
    ``time.monotonic`` is one clock for all processes of a machine."""

    def __init__(self, folder: str | os.PathLike[str], rate: float) -> None:
        if not rate > 0:
            raise ValueError(f"rate must be > 0 requests per second, got {rate!r}")
        self.folder = Path(folder)
        self.interval = 1.0 / rate

    def reserve(self, host: str) -> float:
        """Seconds to wait before starting a request to ``host``."""
        name = hashlib.sha1(host.encode()).hexdigest()[:16]
        fd = os.open(self.folder / f"rate_{name}", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            raw = os.pread(fd, 8, 0)
            now = time.monotonic()
            slot = max(now, struct.unpack("d", raw)[0] if len(raw) == 8 else now)
            os.pwrite(fd, struct.pack("d", slot + self.interval), 0)
            return slot - now
        finally:
            os.close(fd)  # also releases the lock


def _rate_wait(url: str, settings: FetchSettings) -> float:
    if settings.rate is None or settings.rate_dir is None:
        return 0.0
    host = urllib.parse.urlsplit(url).netloc
    return RateLimiter(settings.rate_dir, settings.rate).reserve(host)


def _backoff(settings: FetchSettings, attempt: int) -> float:
    return float(settings.backoff * 2**attempt)


def _result(status: int, body: bytes, settings: FetchSettings) -> FetchResult:
    digest = hashlib.blake2b(body, digest_size=8).hexdigest() if settings.digest else ""
    return status, len(body), digest


# --------------------------------------------------------------------------- blocking

_pool: urllib3.PoolManager | None = None
_pool_lock = threading.Lock()


def _pool_manager() -> urllib3.PoolManager:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = urllib3.PoolManager(maxsize=POOL_MAXSIZE, block=False, retries=False)
        return _pool


def close_pool(_: object = None) -> None:
    """Close this process's connections (the pool is made again on the next fetch)."""
    global _pool
    with _pool_lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.clear()


def fetch(url: str, settings: FetchSettings = FetchSettings()) -> FetchResult:
    """GET ``url``, blocking; retries transient failures, then raises :class:`FetchError`."""
    timeout = urllib3.Timeout(total=settings.timeout)
    for attempt in range(settings.retries + 1):
        last = attempt == settings.retries
        time.sleep(_rate_wait(url, settings))
        try:
            response = _pool_manager().request("GET", url, timeout=timeout, redirect=True)
        except u3.HTTPError as exc:
            reason, transient = _describe_urllib3(exc, settings.timeout)
            if last or not transient:
                raise FetchError(url, reason) from None
        else:
            if response.status not in RETRY_STATUSES or last:
                return _result(response.status, response.data, settings)
        time.sleep(_backoff(settings, attempt))
    raise AssertionError("unreachable")  # pragma: no cover


def _describe_urllib3(exc: u3.HTTPError, timeout: float) -> tuple[str, bool]:
    """What went wrong, in words, and whether trying again may help."""
    if isinstance(exc, u3.NameResolutionError):
        return f"cannot resolve host {exc.conn.host!r} (no network, or a typo?)", False
    if isinstance(exc, u3.NewConnectionError):  # before ConnectTimeoutError: a subclass of it
        return f"cannot connect: {_os_reason(exc)}", True
    if isinstance(exc, u3.ConnectTimeoutError):
        return f"no connection within {timeout:g} s", True
    if isinstance(exc, u3.ReadTimeoutError):
        return f"no answer within {timeout:g} s", True
    if isinstance(exc, u3.LocationValueError):
        return f"not a valid URL ({exc})", False
    if isinstance(exc, u3.SSLError):
        return f"TLS error: {exc}", False
    if isinstance(exc, u3.ProtocolError):
        return f"connection broken: {_os_reason(exc)}", True
    return f"{type(exc).__name__}: {exc}", True


def _os_reason(exc: BaseException) -> str:
    """The operating system's words for a failed connection ("connection refused"), the same
    whichever library raised it."""
    inner: BaseException | None = exc
    while inner is not None:
        os_error = getattr(inner, "os_error", None)  # aiohttp keeps the OSError here
        for candidate in (os_error, inner):
            if isinstance(candidate, OSError) and candidate.errno:
                return os.strerror(candidate.errno).lower()
        inner = inner.__cause__ or inner.__context__
    text = str(exc)
    return text.split(": ", 1)[-1] if ": " in text else text


# --------------------------------------------------------------------------- asyncio

_sessions: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aiohttp.ClientSession] = (
    weakref.WeakKeyDictionary()
)


def _session() -> aiohttp.ClientSession:
    loop = asyncio.get_running_loop()
    session = _sessions.get(loop)
    if session is None or session.closed:
        # limit=0: no cap of its own; the concurrency is the model's (the async backend's
        # workers), not aiohttp's default of 100 connections.
        connector = aiohttp.TCPConnector(limit=0)
        session = _sessions[loop] = aiohttp.ClientSession(connector=connector)
    return session


async def close_session(_: object = None) -> None:
    """Close the session of the running event loop (call it on that loop before it ends)."""
    session = _sessions.pop(asyncio.get_running_loop(), None)
    if session is not None:
        await session.close()


async def afetch(url: str, settings: FetchSettings = FetchSettings()) -> FetchResult:
    """GET ``url`` as a coroutine; the same retries, rate limit and errors as :func:`fetch`."""
    timeout = aiohttp.ClientTimeout(total=settings.timeout)
    for attempt in range(settings.retries + 1):
        last = attempt == settings.retries
        await asyncio.sleep(_rate_wait(url, settings))
        try:
            async with _session().get(url, timeout=timeout) as response:
                body = await response.read()
                status = response.status
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            reason, transient = _describe_aiohttp(exc, url, settings.timeout)
            if last or not transient:
                raise FetchError(url, reason) from None
        else:
            if status not in RETRY_STATUSES or last:
                return _result(status, body, settings)
        await asyncio.sleep(_backoff(settings, attempt))
    raise AssertionError("unreachable")  # pragma: no cover


def _describe_aiohttp(exc: BaseException, url: str, timeout: float) -> tuple[str, bool]:
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        host = urllib.parse.urlsplit(url).hostname
        return f"cannot resolve host {host!r} (no network, or a typo?)", False
    if isinstance(exc, aiohttp.ClientConnectorSSLError | aiohttp.ClientSSLError):
        return f"TLS error: {exc}", False
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect: {_os_reason(exc)}", True
    if isinstance(exc, asyncio.TimeoutError):
        return f"no answer within {timeout:g} s", True
    if isinstance(exc, aiohttp.InvalidURL | ValueError):
        return f"not a valid URL ({exc})", False
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientOSError):
        return f"connection broken: {_os_reason(exc)}", True
    return f"{type(exc).__name__}: {exc}", True


# --------------------------------------------------------------------------- URL files


def read_urls(path: str | os.PathLike[str]) -> list[str]:
    """The URLs of a file: one per line; blank lines and lines starting with # are skipped."""
    file = Path(path)
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise FileNotFoundError(f"no such URL file: {file}") from None
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{file} is not UTF-8 text ({exc.reason}); write one URL per line"
        ) from None
    urls: list[str] = []
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        parts = urllib.parse.urlsplit(text)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(
                f"line {number} of {file}: {text!r} is not an http(s) URL; write one URL per "
                "line, like https://example.org/page"
            )
        urls.append(text)
    if not urls:
        raise ValueError(f"{file} holds no URLs; write one http(s) URL per line")
    return urls


# --------------------------------------------------------------------------- workload tasks


def fetch_task(url: str, **settings: Any) -> FetchResult:
    """:func:`fetch` with the settings as keyword arguments (how a :class:`Workload` calls)."""
    return fetch(url, FetchSettings(**settings))


async def afetch_task(url: str, **settings: Any) -> FetchResult:
    """:func:`afetch` with the settings as keyword arguments."""
    return await afetch(url, FetchSettings(**settings))


def check_urls(
    urls: Sequence[str], settings: FetchSettings, *, source: str = "the URL list"
) -> None:
    """Fetch each distinct URL once (threads, with the same retries and rate limit) and raise
    one error naming every URL that fails or answers with an HTTP error, before a benchmark
    spends minutes on them."""
    from parlearn import parallel
    from parlearn.parallel import Failure

    unique = list(dict.fromkeys(urls))
    try:
        with parallel.Pool("threads", workers=min(PREFLIGHT_WORKERS, len(unique))) as pool:
            task = functools.partial(fetch, settings=settings)
            results = pool.map(task, unique, chunksize=1, errors="collect")
    finally:
        close_pool()
    problems = []
    for url, result in zip(unique, results, strict=True):
        if isinstance(result, Failure):
            exc = result.exception
            problems.append(str(exc) if isinstance(exc, FetchError) else f"{url}: {exc!r}")
        elif result[0] >= 400:
            problems.append(f"{url}: HTTP {result[0]}")
    if problems:
        shown = "; ".join(problems[:5]) + (
            f"; and {len(problems) - 5} more" if len(problems) > 5 else ""
        )
        raise ParlearnError(
            f"{len(problems)} of {len(unique)} URLs in {source} cannot be fetched: {shown}. "
            "Fix them or remove them from the file: every URL must answer for the timings to "
            "mean something"
        )
