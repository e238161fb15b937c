"""Row blocks: the unit of parallel work and of the reduction order, and the data's way into
shared memory.

::

    X (n x d) ─► blocks [0, b) [b, 2b) ...   b rows ~ BLOCK_BYTES, from n, d and dtype only
                  │
                  └─► tiles of ~TILE_BYTES rows inside a block: X_tile @ w and X_tile.T @ r
                      run back to back while the tile is still in cache (a tile is a whole
                      8 MiB block unless the block is larger)

Blocks depend on the data's shape and dtype, never on the number of workers: each block's
partial sum is computed the same way wherever it runs, and the parent adds them in block
order, so the model is bit-for-bit the same on 1, 2 or 64 workers.
"""

from __future__ import annotations

import contextlib
import ctypes
import mmap
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np
from numpy.typing import NDArray

from parlearn import parallel

__all__ = [
    "BLOCK_BYTES",
    "TILE_BYTES",
    "assert_finite",
    "keep_shared",
    "placed",
    "plan_blocks",
    "populate",
    "shared_arrays",
    "tiles",
    "to_shared",
]

# A block is what one dispatch to a worker computes: large enough that the ~100 us of sending
# the weights and returning a gradient is a small share of its work (8 MiB take ~1 ms to read),
# small enough that a large data set makes dozens of them, so two or more workers finish
# close together.
BLOCK_BYTES = 8 * 2**20
# The rows one kernel step takes: X_tile @ w, the loss, X_tile.T @ r. Smaller tiles would keep
# the second product in a small L2 cache, but measured here (2-core Xeon, 2 MiB L2, large L3)
# 1 MiB tiles are no faster than 8 MiB ones, and they multiply the NumPy calls per pass: on
# the threads backend every call takes the GIL, and at 1 MiB two threads ran no faster than
# one (at 8 MiB they run 1.6x faster). So a tile is a whole block by default.
TILE_BYTES = 8 * 2**20

# Copies into shared memory at least this large are split among a thread per core.
COPY_THREADS_BYTES = 64 * 2**20

# madvise advice values (Linux >= 5.14): fill the page tables of a range in one call instead of
# one page fault per 4 KiB page, several times faster on a fresh shared-memory segment.
_MADV_POPULATE_READ = 22
_MADV_POPULATE_WRITE = 23


def plan_blocks(
    n_rows: int, row_bytes: int, block_bytes: int | None = None
) -> list[tuple[int, int]]:
    """``[(start, stop), ...]`` covering ``range(n_rows)`` in blocks of about ``block_bytes``
    (default ``BLOCK_BYTES``).

    A function of its arguments only (never of the workers), so the reduction order is fixed.
    """
    if n_rows <= 0:
        return []
    size = BLOCK_BYTES if block_bytes is None else block_bytes
    rows = max(1, size // max(row_bytes, 1))
    return [(start, min(start + rows, n_rows)) for start in range(0, n_rows, rows)]


def tiles(start: int, stop: int, row_bytes: int, tile_bytes: int | None = None) -> Iterator[slice]:
    """Slices of ``range(start, stop)`` of about ``tile_bytes`` (default ``TILE_BYTES``) each."""
    size = TILE_BYTES if tile_bytes is None else tile_bytes
    rows = max(1, size // max(row_bytes, 1))
    for first in range(start, stop, rows):
        yield slice(first, min(first + rows, stop))


def _madvise(array: NDArray[Any], advice: int) -> bool:
    """Apply ``advice`` to the pages under ``array``; False where the system refuses."""
    if not sys.platform.startswith("linux") or array.nbytes == 0:
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        madvise = libc.madvise
    except (OSError, AttributeError):
        return False
    madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    madvise.restype = ctypes.c_int
    address = array.__array_interface__["data"][0]
    start = address - address % mmap.PAGESIZE
    return bool(madvise(start, array.nbytes + (address - start), advice) == 0)


def populate(array: NDArray[Any], *, write: bool = False) -> bool:
    """Map every page of ``array`` now (one system call rather than a fault per page).

    Only an optimisation: on kernels without ``MADV_POPULATE_*`` it does nothing and the pages
    fault in on first use as usual.
    """
    return _madvise(array, _MADV_POPULATE_WRITE if write else _MADV_POPULATE_READ)


def keep_shared(original: Any, validated: NDArray[Any]) -> NDArray[Any]:
    """``original`` when it is a shared array and ``validated`` is the same memory seen as a
    plain array (scikit-learn's validation returns base-class views), so a caller's
    ``parallel.share(X)`` is not copied again; otherwise ``validated``."""
    if (
        isinstance(original, parallel.SharedArray)
        and original.segment_name is not None
        and validated.dtype == original.dtype
        and validated.shape == original.shape
        and validated.strides == original.strides
        and validated.__array_interface__["data"][0] == original.__array_interface__["data"][0]
    ):
        return original
    return validated


def to_shared(array: NDArray[Any], *, check_finite: str | None = None) -> parallel.SharedArray:
    """``array`` in shared memory: as it is when it already lives there, else one copy.

    The copy goes block by block; ``check_finite`` (the input's name, e.g. ``"X"``) checks
    each block for NaN and infinity while it is still in cache, with scikit-learn's message.
    """
    if isinstance(array, parallel.SharedArray) and array.segment_name is not None:
        if check_finite is not None:
            assert_finite(array, check_finite)
        return array
    out = parallel.shared_empty(array.shape, array.dtype)
    try:
        flat_in = array.reshape(len(array), -1) if array.ndim else array.reshape(1)
        flat_out = out.reshape(len(out), -1) if out.ndim else out.reshape(1)
        blocks = plan_blocks(len(flat_in), max(flat_in[:1].nbytes, 1))

        def copy(part: list[tuple[int, int]]) -> None:
            rows = slice(part[0][0], part[-1][1])
            populate(flat_out[rows], write=True)
            for start, stop in part:
                np.copyto(flat_out[start:stop], flat_in[start:stop])
                if check_finite is not None:
                    assert_finite(flat_out[start:stop], check_finite)

        # Filling fresh pages is the kernel's work (allocate, zero, map) more than a memcpy:
        # a thread per core shares it (the system calls and copies release the GIL).
        threads = (
            min(parallel.cpu_count(), len(blocks)) if array.nbytes >= COPY_THREADS_BYTES else 1
        )
        parts = [
            blocks[len(blocks) * i // threads : len(blocks) * (i + 1) // threads]
            for i in range(threads)
        ]
        parts = [p for p in parts if p]
        if len(parts) > 1:
            parallel.map(copy, parts, backend="threads", workers=len(parts))
        elif parts:
            copy(parts[0])
    except BaseException:
        out.close()
        raise
    return out


def assert_finite(array: NDArray[Any], name: str) -> None:
    """scikit-learn's check and messages for NaN and infinity, in NumPy only (workers must
    not pay for importing scikit-learn). One sum over the array in the common, finite case."""
    if array.dtype.kind not in "fc" or np.isfinite(array.sum(dtype=np.float64)):
        return
    if np.isnan(array).any():
        raise ValueError(
            f"Input {name} contains NaN. Remove or impute the missing values (for example "
            "with sklearn.impute.SimpleImputer) before fitting."
        )
    if np.isinf(array).any():
        raise ValueError(
            f"Input {name} contains infinity or a value too large for {array.dtype!r}."
        )


@contextlib.contextmanager
def shared_arrays(
    *arrays: NDArray[Any] | None, check_finite: str | None = None
) -> Iterator[list[Any]]:
    """The arrays in shared memory for the duration of the block; segments this created are
    removed at the end, even on an error. ``check_finite`` names the first array (``"X"``)
    to check it for NaN and infinity while it is copied."""
    made: list[parallel.SharedArray] = []
    out: list[Any] = []
    try:
        for position, array in enumerate(arrays):
            if array is None:
                out.append(None)
                continue
            shared = to_shared(array, check_finite=check_finite if position == 0 else None)
            if shared is not array:
                made.append(shared)
            out.append(shared)
        yield out
    finally:
        for shared in made:
            shared.close()


@contextlib.contextmanager
def placed(
    backend: str, *arrays: NDArray[Any] | None, check_finite: str | None = None
) -> Iterator[list[Any]]:
    """The arrays where ``backend``'s workers read them without a copy per call: in shared
    memory for ``processes``, as they are for the others. ``check_finite`` names the first
    array, checked for NaN and infinity either way."""
    if backend == "processes":
        with shared_arrays(*arrays, check_finite=check_finite) as out:
            yield out
        return
    if check_finite is not None and arrays and arrays[0] is not None:
        assert_finite(arrays[0], check_finite)
    yield list(arrays)
