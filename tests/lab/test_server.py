"""The local HTTP server: bodies, latency, many connections at once, a clean stop."""

from __future__ import annotations

import asyncio
import socket
import threading

import aiohttp
import pytest
import urllib3

from parlearn.lab import LocalServer


def test_serves_each_item_its_own_body() -> None:
    with LocalServer(latency=0.0, payload=1000) as server:
        http = urllib3.PoolManager()
        for item in (0, 7, 123):
            response = http.request("GET", server.url(item))
            assert response.status == 200
            assert response.data == server.body(item)
            assert len(response.data) == 1000
            assert response.data.startswith(f"{item}\n".encode())
        assert http.request("GET", server.url(0) + "x").status == 404
        assert http.request("GET", f"http://127.0.0.1:{server.port}/status/503").status == 503
        http.clear()
        assert server.requests == 4


def test_answers_many_requests_at_once() -> None:
    """With a latency, 64 concurrent requests are all in the server at the same moment: the
    server does not serialise them (what makes asyncio and thread numbers real)."""

    async def fetch_all(urls: list[str]) -> list[bytes]:
        async with aiohttp.ClientSession() as session:

            async def get(url: str) -> bytes:
                async with session.get(url) as response:
                    return await response.read()

            return await asyncio.gather(*(get(u) for u in urls))

    with LocalServer(latency=0.2, payload=64) as server:
        bodies = asyncio.run(fetch_all(server.urls(64)))
        assert bodies == [server.body(i) for i in range(64)]
        assert server.peak_in_flight == 64
        assert server.in_flight == 0


def test_stops_cleanly_and_frees_its_port() -> None:
    threads_before = threading.active_count()
    server = LocalServer(latency=0.0)
    with server:
        port = server.port
        assert server.running
    assert not server.running
    assert threading.active_count() == threads_before
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0  # nobody listens any more
    server.close()  # twice is fine


def test_stops_on_error_inside_the_block() -> None:
    threads_before = threading.active_count()
    with pytest.raises(RuntimeError, match="boom"), LocalServer(latency=0.0):
        raise RuntimeError("boom")
    assert threading.active_count() == threads_before


def test_bad_settings_name_the_value() -> None:
    with pytest.raises(ValueError, match="latency must be >= 0 seconds, got -1"):
        LocalServer(latency=-1)
    with pytest.raises(ValueError, match="payload must be a number of bytes >= 0"):
        LocalServer(payload=-5)
    with pytest.raises(RuntimeError, match="not running"):
        _ = LocalServer().port
