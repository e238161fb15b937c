"""Messages between the pool and its workers: written whole where they fit one write, in the
framing ``Connection.recv_bytes`` reads (``_worker.send_whole``)."""

from __future__ import annotations

import multiprocessing as mp
import threading
from typing import Any

import pytest

from parlearn.parallel import _worker


@pytest.mark.parametrize("size", [0, 1, 16_384, 16_385, 200_000])
def test_a_whole_message_reads_back_with_recv_bytes(size: int) -> None:
    ours, theirs = mp.Pipe(duplex=True)
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
    got: list[bytes] = []
    try:
        reader = threading.Thread(target=lambda: got.append(theirs.recv_bytes()))
        reader.start()  # a message over the socket's buffer needs its reader running
        _worker.send_whole(ours, payload)
        _worker.send_whole(ours, b"next")
        reader.join(10)
        assert got == [payload] and theirs.recv_bytes() == b"next"
    finally:
        ours.close()
        theirs.close()


def test_a_message_over_the_one_write_size_goes_through_send_bytes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_worker, "ONE_WRITE_BYTES", 10)
    ours, theirs = mp.Pipe(duplex=True)
    sent: list[Any] = []
    real = type(ours).send_bytes

    def counting(self: Any, data: Any, *args: Any) -> None:
        sent.append(len(data))
        real(self, data, *args)

    monkeypatch.setattr(type(ours), "send_bytes", counting)
    try:
        _worker.send_whole(ours, b"x" * 11)
        _worker.send_whole(ours, b"y" * 10)
        assert theirs.recv_bytes() == b"x" * 11 and theirs.recv_bytes() == b"y" * 10
        assert sent == [11]  # only the larger one
    finally:
        ours.close()
        theirs.close()


def test_writing_to_a_closed_peer_raises_os_error() -> None:
    ours, theirs = mp.Pipe(duplex=True)
    theirs.close()
    try:
        with pytest.raises(OSError):
            _worker.send_whole(ours, b"lost")
    finally:
        ours.close()
