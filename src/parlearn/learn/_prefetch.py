"""Read ahead: the next chunk is read by a background thread while the workers train on the
current one, so disk and CPU work at the same time."""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

__all__ = ["prefetch"]

T = TypeVar("T")
_DONE = object()


def prefetch(items: Iterator[T], depth: int = 1) -> Iterator[T]:
    """The items of ``items``, produced at most ``depth`` ahead by a background thread.

    An exception in the producer is raised here, at the item where it happened; closing this
    generator (or an error in the consumer) stops the producer.
    """
    slots: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(value: object) -> bool:
        """Put ``value`` in the queue unless the consumer has stopped; False if it has."""
        while not stop.is_set():
            try:
                slots.put(value, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not offer(item):
                    return
            offer(_DONE)
        except BaseException as exc:
            offer(exc)
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()  # a source generator's open files

    thread = threading.Thread(target=produce, name="parlearn-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = slots.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            with contextlib.suppress(queue.Empty):
                slots.get(timeout=0.05)
        thread.join()
