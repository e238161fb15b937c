"""Training data read in chunks, for data larger than memory.

::

    NpySource("X.npy", "y.npy")          .npy files (any size), read with plain file reads
    ParquetSource("data/", target="y")   a Parquet file or a folder of them, in record batches
    CsvSource("data.csv", target="y")    CSV parsed in blocks by pyarrow's streaming reader
    ArraySource(X, y)                    an array or np.memmap, in row slices

    source.chunks() ─► (X chunk (rows, n_features), y chunk (rows,)), one at a time

Memory stays bounded by the chunk size: a source holds one chunk at a time, and a chunk read
from a memory-mapped array gives its pages back after the copy. ``chunk_bytes`` (default 64
MiB of features) sets the size; see ``docs/learn.md`` for how to choose it.

``SGDClassifier.fit(source)`` and ``SGDRegressor.fit(source)`` train on a source; so can
your own loop with ``partial_fit`` on each chunk.
"""

from __future__ import annotations

import contextlib
import os
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from parlearn.errors import MissingDependencyError
from parlearn.learn._blocks import _madvise

__all__ = [
    "DEFAULT_CHUNK_BYTES",
    "ArraySource",
    "CsvSource",
    "NpySource",
    "ParquetSource",
    "Source",
]

Array = NDArray[Any]
# 64 MiB of features per chunk: large enough that a round of local SGD over it keeps every
# worker busy for tens of milliseconds, small enough that three chunks (one being read, one
# waiting, one training) stay far below memory.
DEFAULT_CHUNK_BYTES = 64 * 2**20
_MADV_DONTNEED = 4


class Source(ABC):
    """Rows of features and targets, read one chunk at a time."""

    n_features: int
    dtype: np.dtype[Any]

    @abstractmethod
    def chunks(self) -> Iterator[tuple[Array, Array]]:
        """``(X, y)`` chunks in a fixed order: X (rows, n_features) of ``dtype``, y (rows,)."""

    def labels(self) -> Array:
        """The distinct targets, found by one pass over the targets (subclasses that can
        read the targets alone do so)."""
        seen: set[Any] = set()
        for _, y in self.chunks():
            seen.update(np.unique(y).tolist())
        return np.array(sorted(seen))

    def _rows_per_chunk(self, chunk_rows: int | None, chunk_bytes: int) -> int:
        if chunk_rows is not None:
            if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, int) or chunk_rows < 1:
                raise ValueError(f"chunk_rows must be an int >= 1, got {chunk_rows!r}")
            return chunk_rows
        if isinstance(chunk_bytes, bool) or not isinstance(chunk_bytes, int) or chunk_bytes < 1:
            raise ValueError(f"chunk_bytes must be an int >= 1, got {chunk_bytes!r}")
        return max(1, chunk_bytes // max(self.n_features * self.dtype.itemsize, 1))


def _float_dtype(dtype: Any) -> np.dtype[Any]:
    """float32 stays float32; every other numeric type trains as float64."""
    return np.dtype(np.float32) if np.dtype(dtype) == np.float32 else np.dtype(np.float64)


def _check_file(path: str | os.PathLike[str], what: str) -> Path:
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{what} {str(p)!r} does not exist; check the path")
    return p


class _NpyFile:
    """A .npy file's header, and its rows read with plain reads (no mapping: the pages go to
    the page cache, not to this process's memory)."""

    def __init__(self, path: str | os.PathLike[str], what: str) -> None:
        self.path = _check_file(path, what)
        with open(self.path, "rb") as fh:
            try:
                version = np.lib.format.read_magic(fh)
                if version == (1, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
                else:
                    shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
            except ValueError as exc:
                raise ValueError(f"{str(self.path)!r} is not a .npy file: {exc}") from exc
            self.offset = fh.tell()
        if fortran and len(shape) > 1:
            raise ValueError(
                f"{str(self.path)!r} is stored in Fortran (column) order; rows cannot be read "
                "in chunks: save it with np.save(path, np.ascontiguousarray(array))"
            )
        if dtype.hasobject or dtype.kind not in "biuf":
            raise ValueError(
                f"{str(self.path)!r} holds {dtype} values; training needs numbers: convert "
                "the array (e.g. array.astype(np.float32)) and save it again"
            )
        self.shape: tuple[int, ...] = tuple(shape)
        self.dtype = np.dtype(dtype)
        self.row_bytes = int(np.prod(shape[1:], dtype=np.int64)) * self.dtype.itemsize

    def read(self, fh: Any, start: int, stop: int) -> Array:
        out = np.empty((stop - start, *self.shape[1:]), dtype=self.dtype)
        view = out.reshape(-1).view(np.uint8).data
        fh.seek(self.offset + start * self.row_bytes)
        filled = 0
        while filled < len(view):
            got = fh.readinto(view[filled:])
            if not got:
                raise ValueError(
                    f"{str(self.path)!r} ended early: its header promises {self.shape[0]} rows"
                )
            filled += got
        return out


class NpySource(Source):
    """Features from a 2-d ``.npy`` file and targets from a 1-d one (or an array), in chunks.

    >>> source = NpySource("X.npy", "y.npy", chunk_bytes=256 * 2**20)    # doctest: +SKIP
    """

    def __init__(
        self,
        X: str | os.PathLike[str],
        y: str | os.PathLike[str] | Sequence[Any] | Array,
        *,
        chunk_rows: int | None = None,
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    ) -> None:
        self._X = _NpyFile(X, "features file")
        if len(self._X.shape) != 2:
            raise ValueError(
                f"the features file {str(self._X.path)!r} holds an array of shape "
                f"{self._X.shape}; it must be 2-d (samples x features)"
            )
        self._y_file: _NpyFile | None = None
        self._y_array: Array | None = None
        if isinstance(y, (str, os.PathLike)):
            self._y_file = _NpyFile(y, "targets file")
            y_shape = self._y_file.shape
        else:
            self._y_array = np.asarray(y)
            y_shape = self._y_array.shape
        if len(y_shape) != 1 or y_shape[0] != self._X.shape[0]:
            raise ValueError(
                f"the targets have shape {y_shape}, the features {self._X.shape}: pass one "
                f"target per row, a 1-d array of {self._X.shape[0]}"
            )
        self.n_rows = self._X.shape[0]
        self.n_features = self._X.shape[1]
        self.dtype = _float_dtype(self._X.dtype)
        self.chunk_rows = self._rows_per_chunk(chunk_rows, chunk_bytes)

    def chunks(self) -> Iterator[tuple[Array, Array]]:
        with contextlib.ExitStack() as stack:
            fx = stack.enter_context(open(self._X.path, "rb", buffering=0))
            _sequential(fx)
            fy = None
            if self._y_file is not None:
                fy = stack.enter_context(open(self._y_file.path, "rb", buffering=0))
            for start in range(0, self.n_rows, self.chunk_rows):
                stop = min(start + self.chunk_rows, self.n_rows)
                X = self._X.read(fx, start, stop).astype(self.dtype, copy=False)
                if fy is not None and self._y_file is not None:
                    y = self._y_file.read(fy, start, stop)
                else:
                    assert self._y_array is not None
                    y = np.array(self._y_array[start:stop])
                yield X, y

    def labels(self) -> Array:
        if self._y_array is not None:
            return np.unique(self._y_array)
        assert self._y_file is not None
        seen: Array = np.array([], dtype=self._y_file.dtype)
        with open(self._y_file.path, "rb", buffering=0) as fy:
            step = max(self.chunk_rows, 1 << 20)
            for start in range(0, self.n_rows, step):
                part = self._y_file.read(fy, start, min(start + step, self.n_rows))
                seen = np.union1d(seen, part)
        return seen


def _sequential(fh: Any) -> None:
    """Ask the kernel for aggressive read-ahead on a file read from start to end."""
    with contextlib.suppress(AttributeError, OSError):
        os.posix_fadvise(fh.fileno(), 0, 0, os.POSIX_FADV_SEQUENTIAL)


class ArraySource(Source):
    """An in-memory array or an ``np.memmap`` (e.g. ``np.load(path, mmap_mode="r")``) with its
    targets, in row slices. The pages of a memory-mapped chunk are released after it is
    copied, so a file larger than memory streams through in bounded memory."""

    def __init__(
        self,
        X: Array,
        y: Sequence[Any] | Array,
        *,
        chunk_rows: int | None = None,
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    ) -> None:
        X = X if isinstance(X, np.ndarray) else np.asarray(X)
        if X.ndim != 2:
            raise ValueError(f"X has shape {X.shape}; it must be 2-d (samples x features)")
        if X.dtype.hasobject or X.dtype.kind not in "biuf":
            raise ValueError(f"X holds {X.dtype} values; training needs numbers")
        y_array = y if isinstance(y, np.ndarray) else np.asarray(y)
        if y_array.ndim != 1 or len(y_array) != len(X):
            raise ValueError(
                f"y has shape {y_array.shape}, X {X.shape}: pass one target per row of X"
            )
        self._X, self._y = X, y_array
        self.n_rows, self.n_features = X.shape
        self.dtype = _float_dtype(X.dtype)
        self.chunk_rows = self._rows_per_chunk(chunk_rows, chunk_bytes)

    def chunks(self) -> Iterator[tuple[Array, Array]]:
        for start in range(0, self.n_rows, self.chunk_rows):
            stop = min(start + self.chunk_rows, self.n_rows)
            X = np.array(self._X[start:stop], dtype=self.dtype, order="C")
            y = np.array(self._y[start:stop])
            for source in (self._X, self._y):
                if isinstance(source, np.memmap):
                    _madvise(source[start:stop], _MADV_DONTNEED)
            yield X, y

    def labels(self) -> Array:
        return np.unique(self._y)


def _pyarrow() -> Any:
    try:
        import pyarrow
    except ImportError as exc:
        raise MissingDependencyError("pyarrow", "learn", "Parquet and CSV sources") from exc
    return pyarrow


class _TableSource(Source):
    """What Parquet and CSV share: choosing columns and turning record batches into arrays."""

    target: str
    features: list[str]

    def _columns(
        self, schema: Any, target: str, features: Sequence[str] | None, where: str
    ) -> None:
        pa = _pyarrow()
        names = list(schema.names)
        if target not in names:
            raise ValueError(f"{where} has no target column {target!r}; its columns are {names}")
        chosen = [n for n in names if n != target] if features is None else list(features)
        missing = [n for n in chosen if n not in names]
        if missing:
            raise ValueError(f"{where} has no column(s) {missing}; its columns are {names}")
        for name in chosen:
            kind = schema.field(name).type
            if not (
                pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)
            ):
                raise ValueError(
                    f"column {name!r} of {where} holds {kind} values; features must be "
                    f"numbers: convert it, or leave it out with features=[...]"
                )
        if not chosen:
            raise ValueError(f"{where} has no feature columns besides the target {target!r}")
        self.target, self.features = target, chosen
        floats = {schema.field(n).type for n in chosen}
        self.dtype = np.dtype(np.float32) if floats == {pa.float32()} else np.dtype(np.float64)
        self.n_features = len(chosen)

    def _arrays(self, batch: Any) -> tuple[Array, Array]:
        X = np.empty((batch.num_rows, self.n_features), dtype=self.dtype)
        for j, name in enumerate(self.features):
            column = batch.column(name)
            X[:, j] = column.to_numpy(zero_copy_only=False)
            if column.null_count:
                X[np.asarray(column.is_null()), j] = np.nan  # checked later: NaN is refused
        y = batch.column(self.target).to_numpy(zero_copy_only=False)
        return X, np.asarray(y)


class ParquetSource(_TableSource):
    """A Parquet file, or a folder of ``*.parquet`` files (read in name order), in record
    batches of ``chunk_rows`` rows (default: about ``chunk_bytes`` of features)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        target: str,
        *,
        features: Sequence[str] | None = None,
        chunk_rows: int | None = None,
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    ) -> None:
        pq = _parquet()
        root = _check_file(path, "Parquet path")
        self.files = sorted(root.glob("*.parquet")) if root.is_dir() else [root]
        if not self.files:
            raise FileNotFoundError(f"the folder {str(root)!r} holds no *.parquet files")
        try:
            schema = pq.read_schema(self.files[0])
        except Exception as exc:
            raise ValueError(f"{str(self.files[0])!r} is not a Parquet file: {exc}") from exc
        self._columns(schema, target, features, repr(str(self.files[0])))
        self.chunk_rows = self._rows_per_chunk(chunk_rows, chunk_bytes)

    def chunks(self) -> Iterator[tuple[Array, Array]]:
        pq = _parquet()
        for file in self.files:
            with pq.ParquetFile(file) as reader:
                columns = [*self.features, self.target]
                for batch in reader.iter_batches(batch_size=self.chunk_rows, columns=columns):
                    yield self._arrays(batch)

    def labels(self) -> Array:
        pq = _parquet()
        seen: Array = np.array([])
        for file in self.files:
            column = pq.read_table(file, columns=[self.target]).column(self.target)
            seen = (
                np.union1d(seen, column.to_numpy()) if len(seen) else np.unique(column.to_numpy())
            )
        return seen


def _parquet() -> Any:
    _pyarrow()
    import pyarrow.parquet as pq

    return pq


class CsvSource(_TableSource):
    """A CSV file with a header row, parsed in blocks of about ``chunk_bytes`` of text by
    pyarrow's streaming reader (column types are inferred from the first block)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        target: str,
        *,
        features: Sequence[str] | None = None,
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
        delimiter: str = ",",
    ) -> None:
        self.path = _check_file(path, "CSV file")
        if isinstance(chunk_bytes, bool) or not isinstance(chunk_bytes, int) or chunk_bytes < 1:
            raise ValueError(f"chunk_bytes must be an int >= 1, got {chunk_bytes!r}")
        self.chunk_bytes = chunk_bytes
        self.delimiter = delimiter
        with self._reader() as reader:
            self._columns(reader.schema, target, features, repr(str(self.path)))

    def _reader(self) -> Any:
        _pyarrow()
        from pyarrow import csv

        try:
            return csv.open_csv(
                self.path,
                read_options=csv.ReadOptions(block_size=self.chunk_bytes),
                parse_options=csv.ParseOptions(delimiter=self.delimiter),
            )
        except Exception as exc:
            raise ValueError(f"cannot read {str(self.path)!r} as CSV: {exc}") from exc

    def chunks(self) -> Iterator[tuple[Array, Array]]:
        with self._reader() as reader:
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    return
                except Exception as exc:  # a later block that does not parse as the first did
                    raise ValueError(f"cannot parse {str(self.path)!r}: {exc}") from exc
                if batch.num_rows:
                    yield self._arrays(batch)
