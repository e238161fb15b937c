"""The model: variables (columns), constraints (rows) and an objective, stored as NumPy blocks.

Each ``add_variables`` call appends one block of bounds and integrality; each
``add_constraints`` call appends one CSR block of rows. Nothing is copied term by term: a
100,000-variable transportation model is a handful of array appends. ``Model.arrays()``
concatenates the blocks once into :class:`ModelArrays`, the row-wise form HiGHS takes as is::

    add_variables ─► _Columns: lower, upper, integrality blocks + name blocks
    add_constraints ─► _Rows: CSR blocks (indptr, indices, data), lower, upper + name blocks
    minimize / maximize ─► LinearExpression (objective) + sense
    arrays() ─► ModelArrays (cost, bounds, CSR, row bounds, offset, sense)   cached until a change
               ─► _solve.solve_arrays (HiGHS) · _files.write_model · solve_many's workers

Names are generated only when asked for (a file is written, a result is printed): an array
block stores its prefix and shape, and ``x[3,7]`` is formatted from the index on demand.
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from parlearn.optimize._arrays import ConstraintArray, ExpressionArray, VariableArray
from parlearn.optimize._errors import ModelError
from parlearn.optimize._expr import (
    Constraint,
    FloatArray,
    IntArray,
    LinearExpression,
    Variable,
    as_expression,
)

if TYPE_CHECKING:
    from parlearn.optimize._result import Result

__all__ = ["Model", "ModelArrays", "NameTable"]

_BAD_NAME = re.compile(r"\s|^$")


# --------------------------------------------------------------------------- names


@dataclass
class _NameBlock:
    start: int
    count: int
    prefix: str
    # An array block: prefix(i,j). Parentheses, not brackets: HiGHS's LP writer renames
    # variables whose names hold brackets, and both file formats keep parentheses.
    shape: tuple[int, ...] | None
    explicit: list[str] | None  # one name per entry (scalars, files)

    def name(self, offset: int) -> str:
        if self.explicit is not None:
            return self.explicit[offset]
        assert self.shape is not None
        position = np.unravel_index(offset, self.shape)
        return f"{self.prefix}({','.join(str(int(p)) for p in position)})"


class _Names:
    """Names of one axis (columns or rows), kept as blocks and formatted on demand."""

    def __init__(self, default_prefix: str) -> None:
        self._blocks: list[_NameBlock] = []
        self._starts: list[int] = []
        self._taken: set[str] = set()  # explicit names and array prefixes
        self._default = default_prefix
        self._lookup: dict[str, int] | None = None

    def _check(self, name: str, what: str) -> None:
        if _BAD_NAME.search(name):
            raise ModelError(
                f"{what} name {name!r} is empty or contains whitespace; LP and MPS files "
                "cannot hold it, so pick a name without spaces"
            )
        if name in self._taken:
            raise ModelError(f"{what} name {name!r} is already used in this model; pick another")

    def add_array(self, start: int, shape: tuple[int, ...], prefix: str | None, what: str) -> None:
        if prefix is None:
            prefix = self._default
            k = 1
            while prefix in self._taken:
                prefix, k = f"{self._default}{k}", k + 1
        self._check(prefix, what)
        self._taken.add(prefix)
        self._append(_NameBlock(start, int(np.prod(shape)), prefix, shape, None))

    def add_one(self, start: int, name: str | None, what: str) -> None:
        if name is None:
            name = f"{self._default}{start}"
            while name in self._taken:
                name = "_" + name
        else:
            self._check(name, what)
        self._taken.add(name)
        last = self._blocks[-1] if self._blocks else None
        if last is not None and last.explicit is not None and last.start + last.count == start:
            last.explicit.append(name)  # consecutive scalars share one block
            last.count += 1
            self._lookup = None
        else:
            self._append(_NameBlock(start, 1, "", None, [name]))

    def add_list(self, start: int, names: Sequence[str], what: str) -> None:
        """Names read from a file: kept as they are (fixed MPS names may hold blanks)."""
        self._taken.update(names)
        if len(set(names)) != len(names):
            raise ModelError(f"{what} names repeat; every {what} needs its own name")
        self._append(_NameBlock(start, len(names), "", None, list(names)))

    def _append(self, block: _NameBlock) -> None:
        self._blocks.append(block)
        self._starts.append(block.start)
        self._lookup = None

    def name(self, index: int) -> str:
        k = bisect.bisect_right(self._starts, index) - 1
        block = self._blocks[k]
        return block.name(index - block.start)

    def all(self, total: int) -> list[str]:
        names: list[str] = []
        for block in self._blocks:
            if block.explicit is not None:
                names.extend(block.explicit)
            else:
                names.extend(block.name(i) for i in range(block.count))
        assert len(names) == total
        return names

    def index(self, name: str, total: int) -> int | None:
        if self._lookup is None:
            self._lookup = {n: i for i, n in enumerate(self.all(total))}
        return self._lookup.get(name)


class NameTable:
    """Column and row names of a model, formatted on first use (a result of a 100,000-variable
    model that prints ten non-zeros formats ten names)."""

    def __init__(
        self,
        columns: _Names | Sequence[str],
        rows: _Names | Sequence[str],
        num_columns: int,
        num_rows: int,
    ) -> None:
        self._sources = (columns, rows)
        self._counts = (num_columns, num_rows)
        self._lists: list[list[str] | None] = [
            list(columns) if not isinstance(columns, _Names) else None,
            list(rows) if not isinstance(rows, _Names) else None,
        ]

    def _list(self, axis: int) -> list[str]:
        cached = self._lists[axis]
        if cached is None:
            source = self._sources[axis]
            assert isinstance(source, _Names)
            cached = self._lists[axis] = source.all(self._counts[axis])
        return cached

    @property
    def columns(self) -> list[str]:
        return self._list(0)

    @property
    def rows(self) -> list[str]:
        return self._list(1)

    def column(self, index: int) -> str:
        source = self._sources[0]
        return source.name(index) if isinstance(source, _Names) else source[index]

    def row(self, index: int) -> str:
        source = self._sources[1]
        return source.name(index) if isinstance(source, _Names) else source[index]


# --------------------------------------------------------------------------- storage


class _Columns:
    def __init__(self) -> None:
        self.count = 0
        self._lower: list[FloatArray] = []
        self._upper: list[FloatArray] = []
        self._integer: list[npt.NDArray[np.uint8]] = []
        self._cache: tuple[FloatArray, FloatArray, npt.NDArray[np.uint8]] | None = None
        self.names = _Names("x")

    def append(self, lower: FloatArray, upper: FloatArray, integer: npt.NDArray[np.uint8]) -> int:
        start = self.count
        self._lower.append(lower)
        self._upper.append(upper)
        self._integer.append(integer)
        self.count += len(lower)
        self._cache = None
        return start

    def arrays(self) -> tuple[FloatArray, FloatArray, npt.NDArray[np.uint8]]:
        if self._cache is None:
            if self.count == 0:
                self._cache = (np.empty(0), np.empty(0), np.empty(0, np.uint8))
            else:
                self._cache = (
                    np.concatenate(self._lower),
                    np.concatenate(self._upper),
                    np.concatenate(self._integer),
                )
                self._lower, self._upper, self._integer = (
                    [self._cache[0]],
                    [self._cache[1]],
                    [self._cache[2]],
                )
        return self._cache

    def lower(self, index: Any) -> Any:
        return self.arrays()[0][index]

    def upper(self, index: Any) -> Any:
        return self.arrays()[1][index]

    def integrality(self, index: Any) -> Any:
        return self.arrays()[2][index]

    def name(self, index: int) -> str:
        return self.names.name(index)


class _Rows:
    def __init__(self) -> None:
        self.count = 0
        self.nonzeros = 0
        self._blocks: list[tuple[IntArray, IntArray, FloatArray]] = []  # indptr, indices, data
        self._lower: list[FloatArray] = []
        self._upper: list[FloatArray] = []
        self.names = _Names("c")

    def append(self, matrix: Any, lower: FloatArray, upper: FloatArray) -> int:
        start = self.count
        self._blocks.append((matrix.indptr, matrix.indices, matrix.data))
        self._lower.append(lower)
        self._upper.append(upper)
        self.count += len(lower)
        self.nonzeros += int(matrix.nnz)
        return start

    def arrays(
        self,
    ) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32], FloatArray, FloatArray, FloatArray]:
        if self.count == 0:
            return (np.zeros(1, np.int32), np.empty(0, np.int32), np.empty(0), np.empty(0),
                    np.empty(0))  # fmt: skip
        starts = [np.zeros(1, np.int64)]
        offset = 0
        for indptr, _, _ in self._blocks:
            starts.append(indptr[1:].astype(np.int64) + offset)
            offset += int(indptr[-1])
        start = np.concatenate(starts).astype(np.int32)
        index = np.concatenate([b[1] for b in self._blocks]).astype(np.int32)
        value = np.concatenate([b[2] for b in self._blocks]).astype(np.float64)
        return start, index, value, np.concatenate(self._lower), np.concatenate(self._upper)

    def name(self, index: int) -> str:
        return self.names.name(index)


@dataclass(frozen=True)
class ModelArrays:
    """A model as HiGHS takes it: ``sense * (cost @ x) + offset`` over
    ``col_lower <= x <= col_upper``, ``row_lower <= A x <= row_upper`` with ``A`` row-wise
    (``start``, ``index``, ``value``), and ``integrality`` 1 for integer columns.

    Plain arrays and no reference to the model, so it pickles small and fast to workers."""

    maximize: bool
    offset: float
    cost: FloatArray
    col_lower: FloatArray
    col_upper: FloatArray
    integrality: npt.NDArray[np.uint8]
    row_lower: FloatArray
    row_upper: FloatArray
    start: npt.NDArray[np.int32]
    index: npt.NDArray[np.int32]
    value: FloatArray

    @property
    def num_columns(self) -> int:
        return len(self.cost)

    @property
    def num_rows(self) -> int:
        return len(self.row_lower)

    @property
    def is_mip(self) -> bool:
        return bool(self.integrality.any())


# --------------------------------------------------------------------------- the model


def _bounds(value: Any, count: int, what: str) -> FloatArray:
    try:
        array = np.broadcast_to(np.asarray(value, dtype=np.float64).ravel(), (count,))
    except (ValueError, TypeError) as exc:
        raise ModelError(
            f"{what} must be a number or an array with one value per variable ({count}), got "
            f"{getattr(value, 'shape', value)!r}"
        ) from exc
    if np.isnan(array).any():
        raise ModelError(f"{what} contains NaN; use -inf or inf for no bound")
    return np.array(array, dtype=np.float64)


class Model:
    """A linear or mixed-integer program.

    >>> m = Model("furniture", sense="max")
    >>> desks, chairs = m.add_variable("desks"), m.add_variable("chairs")
    >>> wood = m.add_constraint(8 * desks + chairs <= 48, name="wood")
    >>> m.maximize(60 * desks + 20 * chairs)

    Variables default to ``0 <= x <= inf`` and continuous. Build large models in bulk with
    ``add_variables(shape)`` and ``A @ x <= b`` (see ``docs/optimize.md``).
    """

    def __init__(self, name: str = "model", *, sense: str = "min") -> None:
        self.name = name
        self._columns = _Columns()
        self._rows = _Rows()
        self._objective = LinearExpression.constant_only(0.0)
        self._maximize = self._parse_sense(sense)
        self._arrays: ModelArrays | None = None

    @staticmethod
    def _parse_sense(sense: str) -> bool:
        normalized = sense.lower()
        if normalized in ("min", "minimize"):
            return False
        if normalized in ("max", "maximize"):
            return True
        raise ModelError(f"sense must be 'min' or 'max', got {sense!r}")

    # -- sizes and lookups

    @property
    def num_variables(self) -> int:
        return self._columns.count

    @property
    def num_constraints(self) -> int:
        return self._rows.count

    @property
    def num_integer(self) -> int:
        return int(self._columns.arrays()[2].sum())

    @property
    def sense(self) -> str:
        return "max" if self._maximize else "min"

    @property
    def objective(self) -> LinearExpression:
        return self._objective

    @property
    def variables(self) -> VariableArray:
        """Every variable of the model, in column order."""
        return VariableArray(self, np.arange(self.num_variables, dtype=np.int64))

    def variable(self, name: str) -> Variable:
        """The variable called ``name`` (e.g. ``"x(3,7)"``)."""
        index = self._columns.names.index(name, self.num_variables)
        if index is None:
            raise KeyError(f"no variable named {name!r} in model {self.name!r}")
        return Variable(self, index)

    def constraint(self, name: str) -> Constraint:
        """The constraint called ``name``, for reading its dual from a result."""
        index = self._rows.names.index(name, self.num_constraints)
        if index is None:
            raise KeyError(f"no constraint named {name!r} in model {self.name!r}")
        start, indices, values, lower, upper = self._rows.arrays()
        a, b = int(start[index]), int(start[index + 1])
        expression = LinearExpression(
            self, indices[a:b].astype(np.int64), values[a:b].copy(), checked=True
        )
        constraint = Constraint(expression, float(lower[index]), float(upper[index]))
        constraint.model, constraint.row = self, index
        return constraint

    def names(self) -> NameTable:
        """The names of the variables and constraints (formatted when first read)."""
        return NameTable(
            self._columns.names, self._rows.names, self.num_variables, self.num_constraints
        )

    def __repr__(self) -> str:
        integer = self.num_integer
        kind = f", {integer} integer" if integer else ""
        return (
            f"Model({self.name!r}: {self.num_variables} variables{kind}, "
            f"{self.num_constraints} constraints, {'maximize' if self._maximize else 'minimize'})"
        )

    # -- variables

    def add_variable(
        self,
        name: str | None = None,
        *,
        lower: float = 0.0,
        upper: float = math.inf,
        integer: bool = False,
        binary: bool = False,
    ) -> Variable:
        """One variable, ``lower <= x <= upper`` (default ``0 <= x``), optionally integer
        (``binary``: integer in [0, 1])."""
        block = self.add_variables(
            1, name=name, lower=lower, upper=upper, integer=integer, binary=binary, _scalar=True
        )
        return Variable(self, int(block.indices[0]))

    def add_variables(
        self,
        shape: int | tuple[int, ...],
        *,
        name: str | None = None,
        lower: Any = 0.0,
        upper: Any = math.inf,
        integer: Any = False,
        binary: bool = False,
        _scalar: bool = False,
    ) -> VariableArray:
        """An array of variables of ``shape``, named ``name(i,j)``; ``lower``, ``upper`` and
        ``integer`` are scalars or arrays broadcast to the shape."""
        dims = (shape,) if isinstance(shape, int | np.integer) else tuple(int(s) for s in shape)
        if any(d < 0 for d in dims):
            raise ModelError(f"shape must not be negative, got {shape}")
        count = int(np.prod(dims))
        if binary:
            lower, upper, integer = 0.0, 1.0, True
        lo = _bounds(lower, count, "lower")
        hi = _bounds(upper, count, "upper")
        bad = np.flatnonzero(lo > hi)
        if len(bad):
            i = int(bad[0])
            raise ModelError(
                f"lower bound {lo[i]:g} is above upper bound {hi[i]:g} (variable {i} of "
                f"{name or 'the block'}); a variable needs lower <= upper"
            )
        if (lo == math.inf).any() or (hi == -math.inf).any():
            raise ModelError("a lower bound of +inf or an upper bound of -inf admits no value")
        flags = np.broadcast_to(np.asarray(integer, dtype=bool).ravel(), (count,)).astype(np.uint8)
        start = self._columns.append(lo, hi, flags)
        if _scalar:
            self._columns.names.add_one(start, name, "variable")
        else:
            self._columns.names.add_array(start, dims, name, "variable")
        self._arrays = None
        return VariableArray(self, np.arange(start, start + count, dtype=np.int64).reshape(dims))

    def set_bounds(self, variables: Variable | VariableArray, lower: Any, upper: Any) -> None:
        """Change the bounds of existing variables."""
        indices = np.atleast_1d(
            np.asarray(variables.index if isinstance(variables, Variable) else variables.indices)
        ).ravel()
        lo = _bounds(lower, len(indices), "lower")
        hi = _bounds(upper, len(indices), "upper")
        if (lo > hi).any():
            raise ModelError(
                "a lower bound is above its upper bound; a variable needs lower <= upper"
            )
        col_lower, col_upper, _ = self._columns.arrays()
        col_lower[indices] = lo
        col_upper[indices] = hi
        self._arrays = None

    # -- constraints

    def add_constraint(self, constraint: Constraint, name: str | None = None) -> Constraint:
        """Add ``constraint`` (built with ``<=``, ``>=`` or ``==``) and return it, with its
        ``row`` set."""
        if not isinstance(constraint, Constraint):
            raise ModelError(
                f"add_constraint takes a comparison such as 3*x + 2*y <= 48, got "
                f"{type(constraint).__name__}"
                + (" (a bool: compare expressions, not numbers)" if isinstance(constraint, bool) else "")
                + ("; use add_constraints for arrays" if isinstance(constraint, ConstraintArray) else "")
            )  # fmt: skip
        if constraint.row is not None:
            raise ModelError("this constraint is already in a model; build a new one")
        self._own(constraint.expression.model)
        columns, coefs = constraint.expression.simplified()
        matrix = sp.csr_array(
            (coefs, columns, np.array([0, len(columns)])), shape=(1, self.num_variables)
        )
        row = self._append_rows(matrix, np.array([constraint.lower]), np.array([constraint.upper]))
        self._rows.names.add_one(row, name, "constraint")
        constraint.model, constraint.row = self, row
        return constraint

    def add_constraints(
        self, constraints: ConstraintArray | Iterable[Constraint], name: str | None = None
    ) -> ConstraintArray:
        """Add an array of constraints (``A @ x <= b``, ``x.sum(axis=0) >= demand``) as one
        block named ``name(i)``, or a sequence of scalar constraints."""
        if not isinstance(constraints, ConstraintArray):
            items = list(constraints)
            if not all(isinstance(c, Constraint) for c in items):
                raise ModelError("add_constraints takes a ConstraintArray or Constraint objects")
            constraints = _stack(self, items)
        if constraints.rows is not None:
            raise ModelError("these constraints are already in a model; build new ones")
        self._own(constraints.expression.model)
        matrix = sp.csr_array(constraints.expression._width(self.num_variables))
        matrix.sum_duplicates()
        matrix.eliminate_zeros()
        start = self._append_rows(matrix, constraints.lower.ravel(), constraints.upper.ravel())
        self._rows.names.add_array(start, constraints.shape, name, "constraint")
        constraints.model = self
        constraints.rows = np.arange(start, start + constraints.size, dtype=np.int64).reshape(
            constraints.shape
        )
        return constraints

    def add_range(self, expression: Any, lower: Any, upper: Any, name: str | None = None) -> Any:
        """``lower <= expression <= upper`` as one row (or one block of rows for an array)."""
        if isinstance(expression, VariableArray | ExpressionArray):
            body = (
                expression
                if isinstance(expression, ExpressionArray)
                else expression.to_expressions()
            )
            shape = body.shape
            lo = np.broadcast_to(np.asarray(lower, np.float64), shape).ravel() - body.constant
            hi = np.broadcast_to(np.asarray(upper, np.float64), shape).ravel() - body.constant
            zero = ExpressionArray(self, body.matrix, np.zeros(body.size), shape)
            return self.add_constraints(ConstraintArray(zero, lo, hi), name)
        scalar = as_expression(expression)
        if scalar is None:
            raise ModelError(f"add_range takes an expression, got {type(expression).__name__}")
        body1 = LinearExpression(scalar.model, scalar.indices, scalar.coefficients, checked=True)
        constraint = Constraint(
            body1, float(lower) - scalar.constant, float(upper) - scalar.constant
        )
        return self.add_constraint(constraint, name)

    def _append_rows(self, matrix: Any, lower: FloatArray, upper: FloatArray) -> int:
        bad = np.flatnonzero(lower > upper)
        if len(bad):
            i = int(bad[0])
            raise ModelError(
                f"a range's lower bound {lower[i]:g} is above its upper bound {upper[i]:g} "
                f"(row {i} of the block); pass lower <= upper"
            )
        self._arrays = None
        return self._rows.append(matrix, np.array(lower, np.float64), np.array(upper, np.float64))

    def _own(self, model: Model | None) -> None:
        if model is not None and model is not self:
            raise ModelError(
                f"the expression uses variables of model {model.name!r}, not of "
                f"{self.name!r}; build it from this model's variables"
            )

    # -- objective

    def set_objective(self, expression: Any, sense: str | None = None) -> None:
        """The objective (an expression, a variable or a number) and optionally its sense."""
        objective = as_expression(expression)
        if objective is None:
            hint = (
                "; sum it first (x.sum() or costs @ x)"
                if isinstance(expression, VariableArray | ExpressionArray)
                else ""
            )
            raise ModelError(
                f"the objective must be one expression, got {type(expression).__name__}{hint}"
            )
        self._own(objective.model)
        self._objective = objective
        if sense is not None:
            self._maximize = self._parse_sense(sense)
        self._arrays = None

    def minimize(self, expression: Any) -> None:
        self.set_objective(expression, "min")

    def maximize(self, expression: Any) -> None:
        self.set_objective(expression, "max")

    # -- arrays, solving, files

    def arrays(self) -> ModelArrays:
        """The model as plain arrays in HiGHS's form (cached until the model changes)."""
        if self._arrays is None:
            lower, upper, integrality = self._columns.arrays()
            start, index, value, row_lower, row_upper = self._rows.arrays()
            cost = np.zeros(self.num_variables)
            columns, coefs = self._objective.simplified()
            cost[columns] = coefs
            self._arrays = ModelArrays(
                maximize=self._maximize,
                offset=self._objective.constant,
                cost=cost,
                col_lower=lower.copy(),
                col_upper=upper.copy(),
                integrality=integrality.copy(),
                row_lower=row_lower,
                row_upper=row_upper,
                start=start,
                index=index,
                value=value,
            )
        return self._arrays

    @classmethod
    def from_arrays(
        cls,
        arrays: ModelArrays,
        *,
        name: str = "model",
        column_names: Sequence[str] | None = None,
        row_names: Sequence[str] | None = None,
    ) -> Model:
        """A model holding ``arrays`` (what the file readers return), with names if given."""
        model = cls(name, sense="max" if arrays.maximize else "min")
        n, m = arrays.num_columns, arrays.num_rows
        start = model._columns.append(
            np.array(arrays.col_lower, np.float64),
            np.array(arrays.col_upper, np.float64),
            np.array(arrays.integrality, np.uint8),
        )
        if column_names:
            model._columns.names.add_list(start, list(column_names), "variable")
        elif n:
            model._columns.names.add_array(start, (n,), None, "variable")
        matrix = sp.csr_array((arrays.value, arrays.index, arrays.start), shape=(m, n))
        row = model._rows.append(
            matrix, np.array(arrays.row_lower, np.float64), np.array(arrays.row_upper, np.float64)
        )
        if row_names:
            model._rows.names.add_list(row, list(row_names), "constraint")
        elif m:
            model._rows.names.add_array(row, (m,), None, "constraint")
        nonzero = np.flatnonzero(arrays.cost)
        model._objective = LinearExpression(
            model, nonzero.astype(np.int64), arrays.cost[nonzero].astype(np.float64),
            arrays.offset, checked=True,
        )  # fmt: skip
        return model

    def solve(self, **options: Any) -> Result:
        """Solve with HiGHS; see :func:`parlearn.optimize.solve` for the options."""
        from parlearn.optimize._solve import solve

        return solve(self, **options)

    def write(self, path: str | Path, *, format: str | None = None) -> Path:
        """Write an LP (``.lp``) or MPS (``.mps``) file; see :func:`parlearn.optimize.write`."""
        from parlearn.optimize._files import write_model

        return write_model(self, path, format=format)


def _stack(model: Model, constraints: list[Constraint]) -> ConstraintArray:
    """Scalar constraints as one ConstraintArray block."""
    indptr = np.zeros(len(constraints) + 1, np.int64)
    parts_i, parts_v = [], []
    for k, constraint in enumerate(constraints):
        model._own(constraint.expression.model)
        columns, coefs = constraint.expression.simplified()
        parts_i.append(columns)
        parts_v.append(coefs)
        indptr[k + 1] = indptr[k] + len(columns)
    matrix = sp.csr_array(
        (
            np.concatenate(parts_v) if parts_v else np.empty(0),
            np.concatenate(parts_i) if parts_i else np.empty(0, np.int64),
            indptr,
        ),
        shape=(len(constraints), model.num_variables),
    )
    expression = ExpressionArray(model, matrix, np.zeros(len(constraints)), (len(constraints),))
    return ConstraintArray(
        expression,
        np.array([c.lower for c in constraints]),
        np.array([c.upper for c in constraints]),
    )
