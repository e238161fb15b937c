"""Shared-memory NumPy arrays: large data reaches process workers without a copy.

::

    parent                                   worker
    share(a) ── SharedMemory "parlearn_…" ──► attach(name) (mmap of the same pages)
       │         (one copy, into the segment)      │
       └── pickled as (name, offset, shape, strides, dtype): a few bytes

A segment is owned by the process that created it. The owner unlinks it when the owning
array is garbage collected, when :meth:`SharedArray.close`/the job scope ends, at interpreter
exit, and -- if the owner is killed outright -- Python's resource tracker unlinks it. Names start
with ``parlearn_`` so a leak is easy to spot in ``/dev/shm``.

Outside parlearn's own pickler (plain ``pickle``, Ray) a SharedArray pickles as an ordinary
array, so it is always safe to send anywhere.
"""

from __future__ import annotations

import contextlib
import itertools
import mmap
import os
import secrets
import sys
import threading
import weakref
from dataclasses import dataclass
from multiprocessing import shared_memory
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

__all__ = ["SEGMENT_PREFIX", "ShareScope", "SharedArray", "share", "shared_empty", "shared_zeros"]

SEGMENT_PREFIX = "parlearn_"
_counter = itertools.count()


@dataclass(frozen=True)
class _Segment:
    name: str
    address: int
    size: int
    mapping: mmap.mmap


class SharedArray(np.ndarray):  # type: ignore[type-arg]
    """A NumPy array whose memory is a named shared-memory segment.

    Use it like any ndarray. Passed to a process worker it travels as a reference: workers read
    it without a copy, and their writes are seen by the parent (writable shared output).
    """

    _segment: _Segment | None

    def __array_finalize__(self, obj: Any) -> None:
        self._segment = getattr(obj, "_segment", None)

    def __reduce_ex__(self, protocol: Any) -> Any:
        # Outside parlearn's pickler: an ordinary array (data copied into the pickle).
        return np.asarray(self).__reduce_ex__(protocol)

    @property
    def segment_name(self) -> str | None:
        """Name of the shared-memory segment, or None if this array's data is not in one."""
        seg = _segment_of(self)
        return seg.name if seg is not None else None

    def close(self) -> None:
        """Unlink the segment now (owner only); the memory is freed once no array uses it."""
        seg = _segment_of(self)
        if seg is not None:
            _unlink(seg.name)


def _segment_of(array: np.ndarray) -> _Segment | None:  # type: ignore[type-arg]
    """The segment that holds ``array``'s data, if any (views and slices included)."""
    if type(array) is np.ndarray and array.base is None:
        return None  # a plain array owning its memory (the common case: no lookups)
    seg = getattr(array, "_segment", None)
    if seg is None:
        base = array.base
        while base is not None and seg is None:
            seg = getattr(base, "_segment", None)
            base = getattr(base, "base", None)
    assert seg is None or isinstance(seg, _Segment)
    if seg is None:
        return None
    start = array.__array_interface__["data"][0]
    # Results of arithmetic on a SharedArray inherit the attribute but not the memory.
    if not (seg.address <= start < seg.address + seg.size) and array.nbytes > 0:
        return None
    return seg


# Segments this process created and has not unlinked yet.
_owned: dict[str, tuple[shared_memory.SharedMemory, _Segment]] = {}
_owned_lock = threading.Lock()


# Names this process has unlinked, in order, so pools can tell their workers to drop their
# mappings of them (a mapping keeps the memory alive after the name is gone). Bounded: a pool
# that falls further behind than this only keeps a few stale mappings until its workers stop.
_UNLINKED_KEPT = 4096
_unlinked: list[str] = []
_unlinked_base = 0  # how many names were trimmed from the front of _unlinked


def unlinked_after(position: int) -> tuple[list[str], int]:
    """Names unlinked since ``position`` (a value this function returned before, or 0), and the
    position to pass next time."""
    if position == _unlinked_base + len(_unlinked):  # nothing new (the common case): no lock
        return [], position
    with _owned_lock:
        start = max(position - _unlinked_base, 0)
        return _unlinked[start:], _unlinked_base + len(_unlinked)


def _unlink(name: str) -> None:
    global _unlinked_base
    with _owned_lock:
        shm, _ = _owned.pop(name, (None, None))
        if shm is not None:
            _unlinked.append(name)
            if len(_unlinked) > _UNLINKED_KEPT:
                drop = len(_unlinked) - _UNLINKED_KEPT
                del _unlinked[:drop]
                _unlinked_base += drop
    if shm is not None:
        with contextlib.suppress(FileNotFoundError):
            shm.unlink()


def _map(shm: shared_memory.SharedMemory) -> mmap.mmap:
    # Our own mapping of the segment, independent of the SharedMemory object: the arrays keep it
    # alive for as long as they live, and SharedMemory.close() cannot fail on exported buffers.
    mapping = mmap.mmap(shm._fd, shm.size)  # type: ignore[attr-defined]
    shm.close()
    return mapping


def _array_on(
    seg: _Segment, shape: tuple[int, ...], dtype: DTypeLike, offset: int = 0, strides: Any = None
) -> SharedArray:
    arr = np.ndarray(shape, dtype=dtype, buffer=seg.mapping, offset=offset, strides=strides)
    shared: SharedArray = arr.view(SharedArray)
    shared._segment = seg
    return shared


def _create(nbytes: int) -> _Segment:
    name = f"{SEGMENT_PREFIX}{os.getpid()}_{next(_counter)}_{secrets.token_hex(4)}"
    shm = shared_memory.SharedMemory(name=name, create=True, size=max(nbytes, 1))
    size = shm.size
    mapping = _map(shm)
    address = np.frombuffer(mapping, dtype=np.uint8).__array_interface__["data"][0]
    seg = _Segment(name, address, size, mapping)
    with _owned_lock:
        _owned[name] = (shm, seg)
    return seg


def shared_empty(shape: int | tuple[int, ...], dtype: DTypeLike = np.float64) -> SharedArray:
    """A new uninitialised array in shared memory (for outputs that workers fill in)."""
    shape_t = (shape,) if isinstance(shape, int) else tuple(shape)
    nbytes = int(np.prod(shape_t, dtype=np.int64)) * np.dtype(dtype).itemsize
    seg = _create(nbytes)
    arr = _array_on(seg, shape_t, dtype)
    weakref.finalize(arr, _unlink, seg.name)
    return arr


def shared_zeros(shape: int | tuple[int, ...], dtype: DTypeLike = np.float64) -> SharedArray:
    """A new zero-filled array in shared memory."""
    arr = shared_empty(shape, dtype)
    arr.fill(0)
    return arr


def share(array: ArrayLike) -> SharedArray:
    """Copy ``array`` into shared memory once; workers then read it without another copy.

    An array already in shared memory is returned as it is.
    """
    if isinstance(array, SharedArray) and _segment_of(array) is not None:
        return array
    src = np.asarray(array)
    if src.dtype.hasobject:
        raise TypeError(
            f"cannot share an array of dtype {src.dtype}: object arrays hold pointers that mean "
            "nothing in another process; convert it to a numeric dtype first"
        )
    out = shared_empty(src.shape, src.dtype)
    np.copyto(out, src)
    return out


# --------------------------------------------------------------------------- worker side

_attached: dict[str, _Segment] = {}


def _attach(name: str) -> _Segment:
    with _owned_lock:
        own = _owned.get(name)
    if own is not None:  # one of ours coming back (a worker returned a view of it)
        return own[1]
    seg = _attached.get(name)
    if seg is None:
        kwargs: dict[str, Any] = {"track": False} if sys.version_info >= (3, 13) else {}
        # Before 3.13 attaching also registers the name with the resource tracker; our workers
        # share the parent's tracker, which keeps a set of names, so nothing changes there.
        shm = shared_memory.SharedMemory(name=name, **kwargs)
        size = shm.size
        mapping = _map(shm)
        address = np.frombuffer(mapping, dtype=np.uint8).__array_interface__["data"][0]
        seg = _attached[name] = _Segment(name, address, size, mapping)
    return seg


def _rebuild(
    name: str, offset: int, shape: tuple[int, ...], strides: tuple[int, ...], dtype: np.dtype
) -> SharedArray:  # type: ignore[type-arg]
    return _array_on(_attach(name), shape, dtype, offset, strides)


def forget_attached(names: list[str] | None = None) -> None:
    """Drop this process's mappings of other processes' segments: those named (their owner has
    unlinked them), or all. Arrays still using a mapping keep it alive until they go."""
    if names is None:
        _attached.clear()
    else:
        for name in names:
            _attached.pop(name, None)


# --------------------------------------------------------------------------- pickling

# Arrays at least this large are moved to shared memory automatically when sent to process
# workers: below it, pickling is as cheap as creating a segment and mapping it in each worker.
AUTO_SHARE_BYTES = 1 << 20


class ShareScope:
    """Segments created automatically for one job; unlinked together when the job ends."""

    def __init__(self, threshold: int = AUTO_SHARE_BYTES) -> None:
        self.threshold = threshold
        self._by_id: dict[int, tuple[np.ndarray, SharedArray]] = {}  # type: ignore[type-arg]
        self._lock = threading.Lock()

    def shared_copy(self, array: np.ndarray) -> SharedArray:  # type: ignore[type-arg]
        with self._lock:
            hit = self._by_id.get(id(array))
            if hit is None:
                # Keep the source alive so its id cannot be reused during the job.
                hit = self._by_id[id(array)] = (array, share(array))
            return hit[1]

    def close(self) -> None:
        with self._lock:
            entries = list(self._by_id.values())
            self._by_id.clear()
        for _, shared in entries:
            shared.close()


def reduce_array(
    array: np.ndarray,  # type: ignore[type-arg]
    scope: ShareScope | None,
    *,
    refer_to_owned: bool = True,
) -> Any:
    """Pickle reduction for an array sent to a process worker, or NotImplemented.

    ``refer_to_owned=False`` (a worker sending results) copies arrays in segments this process
    owns, since the owner may unlink them before the receiver attaches.
    """
    seg = _segment_of(array)
    if seg is not None and not refer_to_owned:
        with _owned_lock:
            if seg.name in _owned:
                return NotImplemented
    if seg is None:
        if (
            scope is None
            or array.nbytes < scope.threshold
            or array.dtype.hasobject
            or not (array.flags.c_contiguous or array.flags.f_contiguous)
        ):
            return NotImplemented
        array = scope.shared_copy(array)
        seg = _segment_of(array)
        assert seg is not None
    offset = array.__array_interface__["data"][0] - seg.address
    return _rebuild, (seg.name, offset, array.shape, array.strides, array.dtype)
