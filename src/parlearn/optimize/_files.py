"""LP and MPS files, read and written by HiGHS, with clear errors.

::

    read_model(path) ─► highspy readModel (MPS free or fixed, RANGES, BOUNDS, OBJSENSE,
                        objective offset; LP) ─► getLp() ─► ModelArrays ─► Model (with names)
        HiGHS failed or warned ─► _checks.check_mps / check_lp ─► MalformedFileError(line)
    write_model(model, path) ─► Highs.passModel + names ─► writeModel (to a temporary file
                                 beside the target, then renamed: never a half-written file)

Conventions (the same as HiGHS and CPLEX):

- A value in the RHS section for the objective row is the objective's constant with its sign
  flipped: ``RHS obj -7.113`` means objective = c x + 7.113 (Netlib's ``e226``; Netlib's
  published value leaves the constant out).
- A RANGES value ``R`` on row ``r`` with bound ``b``: ``L`` rows become ``[b - |R|, b]``,
  ``G`` rows ``[b, b + |R|]``, ``E`` rows ``[b, b + R]`` or ``[b + R, b]`` by the sign of ``R``.
- Written LP files split a ranged row into two rows (``NAMElo``, ``NAMEup``): the LP format has
  no ranges. MPS keeps them as RANGES.
- MPS is written in fixed columns when every name fits in 8 characters, free otherwise; either
  reads back.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from parlearn.optimize._checks import check_lp, check_mps
from parlearn.optimize._errors import MalformedFileError
from parlearn.optimize._model import Model, ModelArrays
from parlearn.optimize._solve import import_highspy

__all__ = ["FORMATS", "read_model", "write_model"]

# format name -> the extension HiGHS decides by
FORMATS = {"mps": ".mps", "free-mps": ".mps", "fixed-mps": ".mps", "lp": ".lp"}


def _format_of(path: Path, format: str | None) -> str:
    if format is not None:
        if format.lower() not in FORMATS:
            raise ValueError(
                f"unknown model file format {format!r}; use one of {', '.join(FORMATS)}"
            )
        return format.lower()
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes[-1:] == [".gz"]:
        suffixes = suffixes[:-1]
    if suffixes and suffixes[-1] in (".mps", ".lp"):
        return suffixes[-1][1:]
    raise ValueError(
        f"cannot tell the format of {path.name!r} from its extension; name it .lp or .mps, or "
        "pass format='lp' or format='mps'"
    )


@contextlib.contextmanager
def _as_extension(path: Path, extension: str) -> Iterator[Path]:
    """``path`` under a name HiGHS recognises (a symlink in a temporary folder if need be)."""
    if path.name.lower().endswith((extension, extension + ".gz")):
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="parlearn-optimize-") as folder:
        link = Path(folder) / ("model" + extension)
        os.symlink(path.resolve(), link)
        yield link


class _Log:
    """HiGHS's log lines, captured instead of printed."""

    def __init__(self, highs: Any) -> None:
        self.lines: list[str] = []
        highs.setOptionValue("log_to_console", False)
        highs.cbLogging.subscribe(self._on_log)

    def _on_log(self, event: Any) -> None:
        self.lines.append(str(event.message).strip())

    def having(self, prefix: str) -> list[str]:
        return [line[len(prefix) :].strip() for line in self.lines if line.startswith(prefix)]


def read_model(path: str | Path, *, format: str | None = None, check: bool = True) -> Model:
    """Read an LP or MPS file (free or fixed MPS; ``.gz`` too) into a :class:`Model`.

    ``format`` (``"mps"``, ``"free-mps"``, ``"fixed-mps"``, ``"lp"``) overrides the extension.
    A file HiGHS cannot read, or reads only in part, raises :class:`MalformedFileError` with
    the line and what is wrong. The file is checked line by line before HiGHS reads it, since
    HiGHS takes some mistakes silently (``2.x`` read as 2 in MPS, a bound on an unknown column
    dropped, LP text before the first section ignored); the check reads about 200,000 lines a
    second: ``check=False`` skips it (and then runs only if HiGHS fails)."""
    highspy = import_highspy()
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {str(path)!r}")
    kind = _format_of(path, format)
    checker = check_lp if kind == "lp" else check_mps
    if check and not path.name.lower().endswith(".gz"):
        problem = checker(path)
        if problem is not None:
            raise MalformedFileError(path, *problem)
    highs = highspy.Highs()
    log = _Log(highs)
    if kind == "fixed-mps":
        highs.setOptionValue("mps_parser_type_free", False)
    with _as_extension(path, FORMATS[kind]) as readable:
        status = highs.readModel(str(readable))
    errors, warned = log.having("ERROR:"), log.having("WARNING:")
    if status == highspy.HighsStatus.kError or warned:
        problem = None if check or path.name.lower().endswith(".gz") else checker(path)
        if problem is not None:
            raise MalformedFileError(path, *problem)
        if status == highspy.HighsStatus.kError:
            reason = "; ".join(e.replace(str(readable), path.name) for e in errors)
            raise MalformedFileError(
                path, None, f"HiGHS cannot read it: {reason or 'parser error'}"
            )
        for warning in warned:
            if "ignor" in warning:  # HiGHS skipped part of the file; notes are not worth one
                warnings.warn(f"{path}: {warning}", stacklevel=2)
    return _model_from_highs(highs, path)


def _model_from_highs(highs: Any, path: Path) -> Model:
    highspy = import_highspy()
    lp = highs.getLp()
    n, m = int(lp.num_col_), int(lp.num_row_)
    matrix = lp.a_matrix_
    start = np.asarray(matrix.start_, dtype=np.int64)
    index = np.asarray(matrix.index_, dtype=np.int64)
    value = np.asarray(matrix.value_, dtype=np.float64)
    if matrix.format_ == highspy.MatrixFormat.kRowwise:
        rows = sp.csr_array((value, index, start), shape=(m, n))
    else:
        rows = sp.csc_array((value, index, start), shape=(m, n)).tocsr()
    rows.sort_indices()
    integrality = np.zeros(n, np.uint8)
    kinds = list(lp.integrality_)
    for j, kind in enumerate(kinds):
        if kind == highspy.HighsVarType.kInteger:
            integrality[j] = 1
        elif kind != highspy.HighsVarType.kContinuous:
            raise MalformedFileError(
                path, None, f"variable {j} is {kind.name}: only continuous and integer "
                "variables are supported (no semi-continuous or semi-integer)"
            )  # fmt: skip
    arrays = ModelArrays(
        maximize=lp.sense_ == highspy.ObjSense.kMaximize,
        offset=float(lp.offset_),
        cost=np.asarray(lp.col_cost_, dtype=np.float64),
        col_lower=np.asarray(lp.col_lower_, dtype=np.float64),
        col_upper=np.asarray(lp.col_upper_, dtype=np.float64),
        integrality=integrality,
        row_lower=np.asarray(lp.row_lower_, dtype=np.float64),
        row_upper=np.asarray(lp.row_upper_, dtype=np.float64),
        start=rows.indptr.astype(np.int32),
        index=rows.indices.astype(np.int32),
        value=rows.data.astype(np.float64),
    )
    try:
        name = lp.model_name_ or path.name.split(".")[0]
        column_names, row_names = list(lp.col_names_), list(lp.row_names_)
    except UnicodeDecodeError as exc:
        raise MalformedFileError(
            path, None, f"names that are not UTF-8 text ({exc.reason}); is this a text file?"
        ) from None
    return Model.from_arrays(
        arrays, name=name, column_names=column_names or None, row_names=row_names or None
    )


def write_model(model: Model, path: str | Path, *, format: str | None = None) -> Path:
    """Write ``model`` as an LP or MPS file; returns the path.

    The format comes from the extension (``.lp``, ``.mps``) or ``format``. The file is
    written beside the target and renamed into place, so a reader never sees half a file."""
    from parlearn.optimize._solve import HighsSolver, SolveOptions

    highspy = import_highspy()
    path = Path(path)
    kind = _format_of(path, format)
    solver = HighsSolver(model.arrays(), SolveOptions())
    highs = solver.highs
    names = model.names()
    lp = highs.getLp()
    lp.col_names_ = names.columns
    lp.row_names_ = names.rows
    lp.model_name_ = model.name
    highs.passModel(lp)
    _Log(highs)  # keep HiGHS quiet
    folder = path.parent if str(path.parent) else Path(".")
    descriptor, temporary = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=FORMATS[kind], dir=folder
    )
    os.close(descriptor)
    os.chmod(temporary, 0o644)  # mkstemp's 0600 would survive the rename
    try:
        status = highs.writeModel(temporary)
        if status == highspy.HighsStatus.kError:
            raise OSError(f"HiGHS could not write {path}")
        os.replace(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
    return path
