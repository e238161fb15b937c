"""Pickling for process workers: cloudpickle (lambdas, closures) plus shared-memory arrays.

Errors name what could not be pickled, so a user knows which argument to fix.
"""

from __future__ import annotations

import copyreg
import io
import pickle
import sys
import types
from collections.abc import Sequence
from typing import Any

import cloudpickle
import numpy as np

from parlearn.errors import SerializationError
from parlearn.parallel._shm import SharedArray, ShareScope, reduce_array

__all__ = ["dumps", "dumps_function", "dumps_items", "dumps_result", "loads"]

loads = pickle.loads


class _ByValue(Exception):
    """Raised by the fast pickler for what only cloudpickle can send (see ``dumps``)."""


class _SharedArrays:
    """Pickler state for arrays that travel as shared-memory references (``reduce_array``)."""

    def __init__(self, file: io.BytesIO, scope: ShareScope | None, refer_to_owned: bool) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)  # type: ignore[call-arg]
        self._scope = scope
        self._refer_to_owned = refer_to_owned

    def _reduce_array(self, array: np.ndarray) -> Any:  # type: ignore[type-arg]
        return _reduce_array(array, self._scope, self._refer_to_owned)


class _FastPickler(_SharedArrays, pickle.Pickler):
    """The C pickler, plus shared-memory arrays. Functions and classes go by reference, so
    one that a worker could not import (defined in ``__main__``, nested, a lambda) stops it:
    ``dumps`` then starts again with cloudpickle, which sends them by value."""

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, np.ndarray):
            return self._reduce_array(obj)
        if isinstance(obj, (type, types.FunctionType)) and not _importable(obj):
            raise _ByValue
        return NotImplemented


class _Pickler(_SharedArrays, cloudpickle.Pickler):  # type: ignore[misc]
    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, np.ndarray):
            reduced = self._reduce_array(obj)
            if reduced is not NotImplemented:
                return reduced
        return super().reducer_override(obj)


def _importable(obj: Any) -> bool:
    """Whether a worker can import ``obj`` by its module and name, as pickle would."""
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", "")
    return (
        module is not None
        and module != "__main__"
        and module in sys.modules
        and "<" not in qualname  # <lambda>, <locals>
    )


def dumps(obj: Any, scope: ShareScope | None = None, *, refer_to_owned: bool = True) -> bytes:
    """Pickle ``obj`` for a process worker: the C pickler when it can, else cloudpickle
    (lambdas, closures, functions of ``__main__``), with large arrays in ``scope``."""
    buf = io.BytesIO()
    try:
        _FastPickler(buf, scope, refer_to_owned).dump(obj)
        return buf.getvalue()
    except (_ByValue, pickle.PicklingError, AttributeError, TypeError):
        buf = io.BytesIO()  # arrays already shared stay in scope and are found again
    _Pickler(buf, scope, refer_to_owned).dump(obj)
    return buf.getvalue()


_dtypes: dict[str, np.dtype] = {}  # type: ignore[type-arg]  # parsed type strings


def _array_from_buffer(buffer: Any, dtype: str, shape: tuple[int, ...]) -> np.ndarray:  # type: ignore[type-arg]
    parsed = _dtypes.get(dtype)
    if parsed is None:
        parsed = _dtypes[dtype] = np.dtype(dtype)
    return np.frombuffer(buffer, dtype=parsed).reshape(shape)


def _compact(array: np.ndarray) -> Any:  # type: ignore[type-arg]
    """A plain numeric array as its buffer, type string and shape, or NotImplemented (NumPy's
    own reduction: other layouts, dtypes and subclasses). NumPy's pickles a dtype object per
    array, which costs more to write and read than a small array's data. In-band, the buffer
    travels as a bytearray (bytes if the array is read-only), as NumPy's does."""
    if (
        array.flags.c_contiguous
        and array.dtype.kind in "biufc"
        and type(array) in (np.ndarray, SharedArray)
    ):
        buffer = pickle.PickleBuffer(array)  # type: ignore[arg-type]
        return _array_from_buffer, (buffer, array.dtype.str, array.shape)
    return NotImplemented


def _reduce_array(
    array: np.ndarray,  # type: ignore[type-arg]
    scope: ShareScope | None,
    refer_to_owned: bool,
) -> Any:
    """A shared-memory reference, else the compact form, else NotImplemented (NumPy's own)."""
    reduced = reduce_array(array, scope, refer_to_owned=refer_to_owned)
    return _compact(array) if reduced is NotImplemented else reduced


def _reduce_result_array(array: np.ndarray) -> Any:  # type: ignore[type-arg]
    reduced = _reduce_array(array, None, False)
    return array.__reduce_ex__(pickle.HIGHEST_PROTOCOL) if reduced is NotImplemented else reduced


def dumps_result(obj: Any) -> bytes:
    """Pickle a worker's results for the parent, as ``dumps(obj, refer_to_owned=False)``.

    The C pickler with arrays in its dispatch table: C looks up each object's type and Python
    runs only for arrays, where ``dumps``' ``reducer_override`` runs for every list, dict and
    object -- most of the cost of encoding many small results, with the dtypes. What it cannot
    pickle by reference (a class or function a worker got by value) goes through ``dumps``.
    """
    table = {**copyreg.dispatch_table}
    table[np.ndarray] = table[SharedArray] = _reduce_result_array
    buf = io.BytesIO()
    pickler = pickle.Pickler(buf, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = table
    try:
        pickler.dump(obj)
        return buf.getvalue()
    except (pickle.PicklingError, AttributeError, TypeError):
        return dumps(obj, None, refer_to_owned=False)


def _short(obj: Any, limit: int = 80) -> str:
    text = repr(obj)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def dumps_function(fn: Any, scope: ShareScope | None = None) -> bytes:
    try:
        return dumps(fn, scope)
    except Exception as exc:
        raise SerializationError(
            f"the function {_short(fn)} cannot be sent to process workers: {exc}. "
            "Whatever it references must be picklable; use backend='threads' to keep it in "
            "this process, or create the unpicklable object inside the function"
        ) from exc


def dumps_items(items: Sequence[Any], indices: Sequence[int], scope: ShareScope | None) -> bytes:
    try:
        return dumps(list(items), scope)
    except Exception as exc:
        for index, item in zip(indices, items, strict=False):
            try:
                dumps(item, scope)
            except Exception as item_exc:
                raise SerializationError(
                    f"item {index} ({_short(item)}, type {type(item).__name__}) cannot be sent "
                    f"to process workers: {item_exc}. Make it picklable or use "
                    "backend='threads'"
                ) from item_exc
        raise SerializationError(f"items cannot be sent to process workers: {exc}") from exc
