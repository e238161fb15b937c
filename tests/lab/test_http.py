"""Fetching: the blocking and coroutine clients agree, retry, time out, and name failures."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import pytest

from parlearn.errors import ParlearnError
from parlearn.lab import FetchError, FetchSettings, LocalServer, RateLimiter, check_urls, read_urls
from parlearn.lab._http import afetch, close_pool, close_session, fetch

FAST = FetchSettings(timeout=5.0, retries=2, backoff=0.01)


def afetch_once(url: str, settings: FetchSettings) -> tuple[int, int, str]:
    async def run() -> tuple[int, int, str]:
        try:
            return await afetch(url, settings)
        finally:
            await close_session()

    return asyncio.run(run())


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed when the block ends: nobody listens


def test_blocking_and_async_fetch_return_the_same() -> None:
    with LocalServer(latency=0.0, payload=4096) as server:
        try:
            blocking = fetch(server.url(3), FAST)
        finally:
            close_pool()
        coroutine = afetch_once(server.url(3), FAST)
    assert blocking == coroutine
    assert blocking[:2] == (200, 4096)


def test_transient_statuses_are_retried_then_returned() -> None:
    with LocalServer(latency=0.0) as server:
        url = f"http://127.0.0.1:{server.port}/status/503"
        try:
            assert fetch(url, FAST)[0] == 503
        finally:
            close_pool()
        assert server.requests == 3  # the first attempt and two retries
        assert afetch_once(url, FAST)[0] == 503
        assert server.requests == 6
        assert fetch(f"http://127.0.0.1:{server.port}/status/404", FAST)[0] == 404
        close_pool()
        assert server.requests == 7  # not transient: no retry


@pytest.mark.parametrize("client", ["blocking", "async"])
def test_unreachable_host_is_named_in_words(client: str) -> None:
    url = f"http://127.0.0.1:{closed_port()}/x"
    with pytest.raises(FetchError, match="cannot connect: connection refused") as caught:
        if client == "blocking":
            fetch(url, FAST)
        else:
            afetch_once(url, FAST)
    assert caught.value.url == url


@pytest.mark.parametrize("client", ["blocking", "async"])
def test_a_slow_answer_times_out(client: str) -> None:
    settings = FetchSettings(timeout=0.1, retries=0)
    with LocalServer(latency=1.0) as server, pytest.raises(FetchError, match=r"within 0\.1 s"):
        if client == "blocking":
            try:
                fetch(server.url(0), settings)
            finally:
                close_pool()
        else:
            afetch_once(server.url(0), settings)


def test_fetch_error_survives_pickling() -> None:
    import pickle

    error = pickle.loads(pickle.dumps(FetchError("http://x/", "cannot connect")))
    assert (error.url, error.reason, str(error)) == (
        "http://x/",
        "cannot connect",
        "http://x/: cannot connect",
    )


def test_rate_limiter_spaces_requests_per_host(tmp_path: Path) -> None:
    limiter = RateLimiter(tmp_path, rate=10)  # one start per 0.1 s
    waits = [limiter.reserve("a.example") for _ in range(3)]
    assert waits[0] == pytest.approx(0.0, abs=0.01)
    assert waits[1] == pytest.approx(0.1, abs=0.01)
    assert waits[2] == pytest.approx(0.2, abs=0.01)
    assert limiter.reserve("b.example") == pytest.approx(0.0, abs=0.01)  # its own budget
    # Another limiter on the same folder (another process, say) shares the slots.
    assert RateLimiter(tmp_path, rate=10).reserve("a.example") == pytest.approx(0.3, abs=0.02)


def test_rate_limit_slows_fetches(tmp_path: Path) -> None:
    settings = FetchSettings(rate=20, rate_dir=str(tmp_path), retries=0)
    with LocalServer(latency=0.0) as server:
        started = time.monotonic()
        try:
            for i in range(4):
                fetch(server.url(i), settings)
        finally:
            close_pool()
        assert time.monotonic() - started >= 3 / 20 * 0.9  # 4 starts need 3 intervals


def test_read_urls(tmp_path: Path) -> None:
    file = tmp_path / "urls.txt"
    file.write_text("# mine\n\nhttp://a.example/1\n  https://b.example/2  \n")
    assert read_urls(file) == ["http://a.example/1", "https://b.example/2"]
    file.write_text("http://a.example/\nftp://b.example/\n")
    with pytest.raises(
        ValueError, match=r"line 2 of .*urls.txt: 'ftp://b.example/' is not an http"
    ):
        read_urls(file)
    file.write_text("# nothing\n")
    with pytest.raises(ValueError, match="holds no URLs"):
        read_urls(file)
    with pytest.raises(FileNotFoundError, match="no such URL file"):
        read_urls(tmp_path / "missing.txt")


def test_check_urls_names_every_bad_url() -> None:
    dead = f"http://127.0.0.1:{closed_port()}/gone"
    with LocalServer(latency=0.0) as server:
        good = server.url(1)
        missing = f"http://127.0.0.1:{server.port}/status/404"
        check_urls([good, good], FAST)  # fine: no error
        with pytest.raises(ParlearnError) as caught:
            check_urls([good, dead, missing], FAST, source="urls.txt")
    message = str(caught.value)
    assert "2 of 3 URLs in urls.txt cannot be fetched" in message
    assert f"{dead}: cannot connect: connection refused" in message
    assert f"{missing}: HTTP 404" in message
    assert "remove them" in message


def test_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="timeout must be > 0 seconds, got 0"):
        FetchSettings(timeout=0)
    with pytest.raises(ValueError, match="retries must be an int >= 0"):
        FetchSettings(retries=-1)
    with pytest.raises(ValueError, match="rate_dir"):
        FetchSettings(rate=5)
