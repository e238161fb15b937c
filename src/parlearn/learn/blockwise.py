"""Block-wise linear algebra over row blocks of large arrays, in parallel.

::

    matmul(A, B, out=None)   A @ B: block i of rows of A times B ─► rows i of out
    add(A, B, out=None)      A + B (B of A's shape, or one row broadcast to every row)
    gram(A)                  A.T @ A: per-block products added in block order
    tmatmul(A, B)            A.T @ B (B with as many rows as A): the same reduction

``A`` (and ``B`` for ``add``/``tmatmul``) may be an ordinary array, a shared array
(``parlearn.parallel.share``) or a memory-mapped file (``np.load(path, mmap_mode="r")``,
``np.memmap``). Process workers read shared arrays without a copy and reopen memory-mapped
files themselves, so a file larger than memory streams through them; an ordinary array is
copied to shared memory once. ``out`` may be any writable array: a shared array or a writable
``np.memmap`` is written by the workers directly, anything else is filled by the caller as
blocks come back. Without ``out``, the result is a new shared array (an ``ndarray``, ready
for the next parallel step).

Reductions (``gram``, ``tmatmul``) add the blocks in block order: the result does not depend
on the number of workers. Each call runs on its own pool (one BLAS thread per worker),
closed when the call returns. Blocks are ``block_rows`` rows (default: about 8 MiB of ``A``).

The estimators use the same machinery: ``Ridge`` is ``gram`` and ``tmatmul`` on centred
data, the solvers' gradients are ``tmatmul`` of a per-row residual.
"""

from __future__ import annotations

import mmap
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from parlearn import parallel
from parlearn.learn._blocks import _madvise, plan_blocks, to_shared
from parlearn.learn._execution import BACKENDS, BlockExecutor, resolve_backend
from parlearn.learn._objective import sum_in_order

__all__ = ["add", "gram", "matmul", "tmatmul"]

Array = NDArray[Any]
_MADV_DONTNEED = 4


@dataclass(frozen=True)
class MemmapRef:
    """A C-contiguous region of a file, reopened as ``np.memmap`` where it is used."""

    filename: str
    offset: int
    shape: tuple[int, ...]
    dtype: str
    writable: bool

    def open(self) -> np.memmap[Any, Any]:
        mode: Literal["r", "r+"] = "r+" if self.writable else "r"
        view: np.memmap[Any, Any] = np.memmap(
            self.filename,
            dtype=np.dtype(self.dtype),
            mode=mode,
            offset=self.offset,
            shape=self.shape,
        )
        return view


def _memmap_ref(array: np.memmap[Any, Any], writable: bool) -> MemmapRef | None:
    """A reference to ``array``'s bytes in its file, or None if it cannot be reopened."""
    filename = getattr(array, "filename", None)
    base = getattr(array, "_mmap", None)
    if filename is None or base is None or not array.flags.c_contiguous:
        return None
    start = int(array.offset) - int(array.offset) % mmap.ALLOCATIONGRANULARITY
    base_address = np.frombuffer(base, dtype=np.uint8).__array_interface__["data"][0]
    offset = start + array.__array_interface__["data"][0] - base_address
    return MemmapRef(str(filename), offset, tuple(array.shape), array.dtype.str, writable)


def _resolve(value: Any) -> Any:
    return value.open() if isinstance(value, MemmapRef) else value


def _release(array: Any, start: int, stop: int) -> None:
    """Give back the pages of rows [start, stop) of a memory-mapped array once read."""
    if isinstance(array, np.memmap):
        _madvise(array[start:stop], _MADV_DONTNEED)


def _block_task(item: tuple[Any, ...]) -> Any:
    op, a_ref, b_ref, out_ref, start, stop = item
    A, B, out = _resolve(a_ref), _resolve(b_ref), _resolve(out_ref)
    rows = A[start:stop]
    if op == "matmul":
        result = rows @ B
    elif op == "add":
        result = rows + (B[start:stop] if B.ndim == A.ndim and len(B) == len(A) else B)
    elif op == "gram":
        result = rows.T @ rows
    elif op == "tmatmul":
        result = rows.T @ B[start:stop]
    else:
        raise ValueError(f"unknown block operation {op!r}")
    _release(A, start, stop)
    if isinstance(B, np.memmap) and len(B) == len(A):
        _release(B, start, stop)
    if op in ("gram", "tmatmul"):
        return np.asarray(result, dtype=np.float64)
    if out is None:
        return result
    out[start:stop] = result
    if isinstance(out, np.memmap):
        out.flush()
    return None


def _as_2d_or_1d(name: str, value: Any) -> Array:
    array = value if isinstance(value, np.ndarray) else np.asarray(value)
    if array.ndim not in (1, 2):
        raise ValueError(f"{name} must be 1-d or 2-d, got shape {array.shape}")
    if array.dtype.hasobject or array.dtype.kind not in "biufc":
        raise ValueError(f"{name} holds {array.dtype} values; block-wise algebra needs numbers")
    return array


class _Placement:
    """Arrays as process workers can reach them (references, not copies), and the segments
    this call created, removed at the end."""

    def __init__(self, backend: str, stack: ExitStack) -> None:
        self.backend = backend
        self._stack = stack

    def read(self, array: Array) -> Any:
        if self.backend != "processes":
            return array
        if isinstance(array, np.memmap):
            ref = _memmap_ref(array, writable=False)
            if ref is not None:
                return ref
        if isinstance(array, parallel.SharedArray) and array.segment_name is not None:
            return array
        shared = to_shared(np.ascontiguousarray(array))
        if shared is not array:
            self._stack.callback(shared.close)
        return shared

    def write(self, out: Array | None) -> Any:
        """Where workers write the result: None when they send blocks back instead."""
        if out is None or self.backend in ("ray",):
            return None
        if self.backend != "processes":
            return out
        if isinstance(out, np.memmap):
            return _memmap_ref(out, writable=True)
        if isinstance(out, parallel.SharedArray) and out.segment_name is not None:
            return out
        return None


@contextmanager
def _plan(
    A: Array, block_rows: int | None, backend: str, workers: int | None
) -> Iterator[tuple[str, int | None, list[tuple[int, int]]]]:
    if backend not in BACKENDS:
        raise ValueError(
            f"backend must be one of {', '.join(map(repr, BACKENDS))}, got {backend!r}"
        )
    if block_rows is not None and (
        isinstance(block_rows, bool) or not isinstance(block_rows, int) or block_rows < 1
    ):
        raise ValueError(f"block_rows must be an int >= 1, got {block_rows!r}")
    row_bytes = max(A[:1].nbytes, 1)
    blocks = plan_blocks(len(A), row_bytes, None if block_rows is None else block_rows * row_bytes)
    name, count = resolve_backend(backend, workers, A.nbytes)
    yield name, count, blocks


def _run(
    op: str,
    A: Array,
    B: Array,
    out: Array | None,
    out_shape: tuple[int, ...],
    out_dtype: Any,
    *,
    block_rows: int | None,
    backend: str,
    workers: int | None,
) -> Array:
    if out is not None and (out.shape != out_shape):
        raise ValueError(f"out has shape {out.shape}; the result has shape {out_shape}")
    with _plan(A, block_rows, backend, workers) as (name, count, blocks), ExitStack() as stack:
        place = _Placement(name, stack)
        target = (
            out
            if out is not None
            else (
                parallel.shared_empty(out_shape, out_dtype)
                if name == "processes"
                else np.empty(out_shape, out_dtype)
            )
        )
        a_ref, b_ref, out_ref = place.read(A), place.read(B), place.write(target)
        items = [(op, a_ref, b_ref, out_ref, start, stop) for start, stop in blocks]
        with BlockExecutor(_block_task, name, count) as run:
            for (start, stop), block in zip(blocks, run.map(items), strict=True):
                if block is not None:
                    target[start:stop] = block
        if isinstance(target, np.memmap):
            target.flush()
        return target


def _reduce(
    op: str, A: Array, B: Array | None, *, block_rows: int | None, backend: str, workers: int | None
) -> NDArray[np.float64]:
    with _plan(A, block_rows, backend, workers) as (name, count, blocks), ExitStack() as stack:
        place = _Placement(name, stack)
        a_ref = place.read(A)
        b_ref = None if B is None else place.read(B)
        items = [(op, a_ref, b_ref, None, start, stop) for start, stop in blocks]
        if not items:
            width = A.shape[1] if A.ndim == 2 else 1
            other = width if B is None else (B.shape[1] if B.ndim == 2 else 1)
            return np.zeros((width, other)).squeeze()
        with BlockExecutor(_block_task, name, count) as run:
            result: NDArray[np.float64] = sum_in_order(run.map(items))
        return result


def matmul(
    A: Any,
    B: Any,
    out: Array | None = None,
    *,
    block_rows: int | None = None,
    backend: str = "auto",
    workers: int | None = None,
) -> Array:
    """``A @ B``, row block by row block of ``A`` in parallel, into ``out`` if given."""
    A, B = _as_2d_or_1d("A", A), _as_2d_or_1d("B", B)
    if A.ndim != 2 or A.shape[1] != B.shape[0]:
        raise ValueError(
            f"matmul: A {A.shape} and B {B.shape} do not align: A must be 2-d with as many "
            "columns as B has rows"
        )
    shape = (A.shape[0], *B.shape[1:])
    dtype = np.result_type(A.dtype, B.dtype)
    return _run(
        "matmul", A, B, out, shape, dtype, block_rows=block_rows, backend=backend, workers=workers
    )


def add(
    A: Any,
    B: Any,
    out: Array | None = None,
    *,
    block_rows: int | None = None,
    backend: str = "auto",
    workers: int | None = None,
) -> Array:
    """``A + B`` by row blocks; ``B`` has ``A``'s shape or is one row (broadcast)."""
    A, B = _as_2d_or_1d("A", A), _as_2d_or_1d("B", B)
    if B.shape != A.shape and B.shape != A.shape[1:]:
        raise ValueError(
            f"add: B has shape {B.shape}; it must be A's shape {A.shape} or one row {A.shape[1:]}"
        )
    dtype = np.result_type(A.dtype, B.dtype)
    return _run(
        "add", A, B, out, A.shape, dtype, block_rows=block_rows, backend=backend, workers=workers
    )


def gram(
    A: Any, *, block_rows: int | None = None, backend: str = "auto", workers: int | None = None
) -> NDArray[np.float64]:
    """``A.T @ A`` (float64), the blocks' products added in block order."""
    A = _as_2d_or_1d("A", A)
    if A.ndim != 2:
        raise ValueError(f"gram: A must be 2-d, got shape {A.shape}")
    return _reduce("gram", A, None, block_rows=block_rows, backend=backend, workers=workers)


def tmatmul(
    A: Any,
    B: Any,
    *,
    block_rows: int | None = None,
    backend: str = "auto",
    workers: int | None = None,
) -> NDArray[np.float64]:
    """``A.T @ B`` (float64) for ``B`` with as many rows as ``A``, added in block order."""
    A, B = _as_2d_or_1d("A", A), _as_2d_or_1d("B", B)
    if A.ndim != 2 or len(B) != len(A):
        raise ValueError(f"tmatmul: A {A.shape} and B {B.shape} must have the same number of rows")
    return _reduce("tmatmul", A, B, block_rows=block_rows, backend=backend, workers=workers)
