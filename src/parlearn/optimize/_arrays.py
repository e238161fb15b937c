"""Variables, expressions and constraints in bulk: ``A @ x <= b`` for a million rows.

A :class:`VariableArray` is an N-d array of column indices. Arithmetic on it builds an
:class:`ExpressionArray`: one sparse row per element (a SciPy CSR matrix over the model's
columns) plus a constant per element, so ``x.sum(axis=1)``, ``cost * x`` or ``A @ x`` cost one
sparse product, never a Python loop over terms::

    x = model.add_variables((200, 500))            VariableArray, indices 0..99,999
    x.sum(axis=1) <= supply
      ─► summation matrix S (200 x 100,000) @ selection of x ─► ExpressionArray (200 rows)
      ─► ConstraintArray(rows, lower=-inf, upper=supply) ─► model.add_constraints

Every reduction and product is written once, as ``W @ expression`` for a sparse weight matrix
``W`` (:meth:`ExpressionArray._weighted`). NumPy arrays and SciPy sparse matrices on the left of
an operator defer to these classes (``__array_ufunc__ = None`` and a 0-d ``__array__``), so
``b >= x`` and ``A @ x`` build constraints and expressions rather than arrays of objects.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from parlearn.optimize._errors import ModelError
from parlearn.optimize._expr import (
    Constraint,
    FloatArray,
    IntArray,
    LinearExpression,
    Variable,
    as_expression,
    is_scalar,
)

if TYPE_CHECKING:
    from parlearn.optimize._model import Model

__all__ = ["ConstraintArray", "ExpressionArray", "VariableArray"]


def _object_scalar(value: object) -> np.ndarray[Any, Any]:
    """A 0-d object array holding ``value``: what ``np.asarray`` gets from our arrays, so SciPy
    sees "not an array" and hands the operator to our reflected method."""
    box = np.empty((), dtype=object)
    box[()] = value
    return box


def _csr(data: Any, indices: Any, indptr: Any, shape: tuple[int, int]) -> Any:
    return sp.csr_array((data, indices, indptr), shape=shape)


def _constant_array(value: Any, shape: tuple[int, ...], what: str) -> FloatArray:
    try:
        array = np.broadcast_to(np.asarray(value, dtype=np.float64), shape)
    except (ValueError, TypeError) as exc:
        got = getattr(value, "shape", type(value).__name__)
        raise ModelError(
            f"{what} of shape {got} does not match the expression's shape {shape}; pass a "
            f"number or an array of shape {shape}"
        ) from exc
    if np.isnan(array).any():
        raise ModelError(f"{what} contains NaN; pass numbers (use inf for no bound)")
    return array


class VariableArray:
    """An N-d array of a model's variables, from ``Model.add_variables(shape)``.

    Index it like a NumPy array (``x[3]``, ``x[:, 2]``, ``x[mask]``): a single element is a
    :class:`Variable`, anything else a ``VariableArray``. Arithmetic gives an
    :class:`ExpressionArray`; comparisons give a :class:`ConstraintArray`. Hashable by
    identity, so it can key a ``Scenario``'s dicts."""

    __array_ufunc__ = None
    __hash__ = object.__hash__  # == builds constraints; dict lookups match by identity first

    def __init__(self, model: Model, indices: IntArray) -> None:
        self.model = model
        self.indices = indices

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray[Any, Any]:
        return _object_scalar(self)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.indices.shape)

    @property
    def size(self) -> int:
        return int(self.indices.size)

    @property
    def ndim(self) -> int:
        return int(self.indices.ndim)

    @property
    def T(self) -> VariableArray:
        return VariableArray(self.model, self.indices.T)

    def ravel(self) -> VariableArray:
        return VariableArray(self.model, self.indices.ravel())

    def reshape(self, *shape: Any) -> VariableArray:
        return VariableArray(self.model, self.indices.reshape(*shape))

    @property
    def lower(self) -> FloatArray:
        return np.asarray(self.model._columns.lower(self.indices), np.float64)

    @property
    def upper(self) -> FloatArray:
        return np.asarray(self.model._columns.upper(self.indices), np.float64)

    @property
    def names(self) -> list[str]:
        """The names of the variables, in C order."""
        return [self.model._columns.name(int(i)) for i in self.indices.ravel()]

    def __len__(self) -> int:
        return len(self.indices)

    def __iter__(self) -> Iterator[Any]:
        for i in range(len(self.indices)):
            yield self[i]

    def __getitem__(self, key: Any) -> Any:
        picked = self.indices[key]
        if np.ndim(picked) == 0:
            return Variable(self.model, int(picked))
        return VariableArray(self.model, np.asarray(picked))

    def __repr__(self) -> str:
        first = self.model._columns.name(int(self.indices.flat[0])) if self.size else ""
        return f"VariableArray(shape={self.shape}, first={first!r})"

    def to_expressions(self) -> ExpressionArray:
        n = self.size
        matrix = _csr(
            np.ones(n),
            self.indices.ravel(),
            np.arange(n + 1, dtype=np.int64),
            (n, self.model.num_variables),
        )
        return ExpressionArray(self.model, matrix, np.zeros(n), self.shape)

    def sum(self, axis: int | tuple[int, ...] | None = None) -> Any:
        """The sum over ``axis`` (all elements when None): an expression or an array of them."""
        if axis is None:
            flat = self.indices.ravel()
            return LinearExpression(self.model, flat, np.ones(flat.size), checked=True)
        return self.to_expressions().sum(axis)

    def dot(self, other: Any) -> Any:
        return self.to_expressions().__matmul__(other)

    # Everything else is the expression array's.
    def __add__(self, other: Any) -> ExpressionArray:
        return self.to_expressions().__add__(other)

    def __radd__(self, other: Any) -> ExpressionArray:
        return self.to_expressions().__add__(other)

    def __sub__(self, other: Any) -> ExpressionArray:
        return self.to_expressions().__sub__(other)

    def __rsub__(self, other: Any) -> ExpressionArray:
        return self.to_expressions().__rsub__(other)

    def __mul__(self, other: Any) -> ExpressionArray:
        return self.to_expressions().__mul__(other)

    def __rmul__(self, other: Any) -> ExpressionArray:
        return self.to_expressions().__mul__(other)

    def __truediv__(self, other: Any) -> ExpressionArray:
        return self.to_expressions().__truediv__(other)

    def __neg__(self) -> ExpressionArray:
        return -self.to_expressions()

    def __matmul__(self, other: Any) -> Any:
        return self.to_expressions().__matmul__(other)

    def __rmatmul__(self, other: Any) -> Any:
        return self.to_expressions().__rmatmul__(other)

    def __le__(self, other: Any) -> ConstraintArray:
        return self.to_expressions().__le__(other)

    def __ge__(self, other: Any) -> ConstraintArray:
        return self.to_expressions().__ge__(other)

    def __eq__(self, other: Any) -> ConstraintArray:  # type: ignore[override]
        return self.to_expressions().__eq__(other)


class ExpressionArray:
    """An N-d array of linear expressions: row ``k`` of the sparse ``matrix`` (elements in C
    order, columns = the model's variables) plus ``constant[k]``."""

    __array_ufunc__ = None
    __hash__ = None  # type: ignore[assignment]

    def __init__(self, model: Model, matrix: Any, constant: FloatArray, shape: tuple[int, ...]):
        self.model = model
        self.matrix = matrix
        self.constant = constant
        self.shape = shape

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray[Any, Any]:
        return _object_scalar(self)

    @property
    def size(self) -> int:
        return int(self.constant.size)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        return f"ExpressionArray(shape={self.shape}, nonzeros={self.matrix.nnz})"

    def _width(self, columns: int) -> Any:
        """The matrix with ``columns`` columns (the model may have grown since)."""
        if self.matrix.shape[1] == columns:
            return self.matrix
        m = self.matrix
        return _csr(m.data, m.indices, m.indptr, (m.shape[0], columns))

    def _coerce(self, other: Any) -> ExpressionArray | None:
        """``other`` as an expression array of this shape, or None if it cannot be one."""
        if isinstance(other, ExpressionArray):
            expression = other
        elif isinstance(other, VariableArray):
            expression = other.to_expressions()
        elif isinstance(other, LinearExpression | Variable):
            scalar = as_expression(other)
            assert scalar is not None
            columns, coefs = scalar.simplified()
            n = self.size
            matrix = _csr(
                np.tile(coefs, n),
                np.tile(columns, n),
                np.arange(n + 1, dtype=np.int64) * len(columns),
                (n, self.model.num_variables),
            )
            return ExpressionArray(self.model, matrix, np.full(n, scalar.constant), self.shape)
        elif is_scalar(other) or isinstance(other, np.ndarray | list | tuple):
            constant = _constant_array(other, self.shape, "a constant array").ravel()
            empty = sp.csr_array((self.size, self.model.num_variables))
            return ExpressionArray(self.model, empty, constant.copy(), self.shape)
        else:
            return None
        if expression.model is not self.model:
            raise ModelError("cannot combine variables of two different models")
        if expression.shape != self.shape:
            raise ModelError(
                f"cannot combine expression arrays of shapes {self.shape} and "
                f"{expression.shape}; index or sum them to the same shape first"
            )
        return expression

    def __add__(self, other: Any) -> ExpressionArray:
        rhs = self._coerce(other)
        if rhs is None:
            return NotImplemented
        columns = max(self.matrix.shape[1], rhs.matrix.shape[1])
        matrix = self._width(columns) + rhs._width(columns)
        return ExpressionArray(self.model, matrix, self.constant + rhs.constant, self.shape)

    __radd__ = __add__

    def __neg__(self) -> ExpressionArray:
        return ExpressionArray(self.model, -self.matrix, -self.constant, self.shape)

    def __sub__(self, other: Any) -> ExpressionArray:
        rhs = self._coerce(other)
        if rhs is None:
            return NotImplemented
        return self + (-rhs)

    def __rsub__(self, other: Any) -> ExpressionArray:
        lhs = self._coerce(other)
        if lhs is None:
            return NotImplemented
        return lhs + (-self)

    def __mul__(self, other: Any) -> ExpressionArray:
        if isinstance(other, Variable | LinearExpression | VariableArray | ExpressionArray):
            raise ModelError(
                "a product of two variables is not linear; multiply expressions by numbers "
                "or arrays of numbers"
            )
        if sp.issparse(other) or not (is_scalar(other) or isinstance(other, np.ndarray | list)):
            return NotImplemented
        factor = _constant_array(other, self.shape, "a coefficient array").ravel()
        m = self.matrix
        data = m.data * np.repeat(factor, np.diff(m.indptr))
        matrix = _csr(data, m.indices, m.indptr, m.shape)
        return ExpressionArray(self.model, matrix, self.constant * factor, self.shape)

    __rmul__ = __mul__

    def __truediv__(self, other: Any) -> ExpressionArray:
        if not (is_scalar(other) or isinstance(other, np.ndarray | list)):
            return NotImplemented
        divisor = np.asarray(other, dtype=np.float64)
        if (divisor == 0).any():
            raise ModelError("division of an expression array by zero")
        return self * (1.0 / divisor)

    def _weighted(self, weights: Any, shape: tuple[int, ...]) -> Any:
        """``weights @ self`` (a sparse ``(prod(shape), size)`` matrix): the one primitive of
        every sum and product. A 0-d result is a plain :class:`LinearExpression`."""
        weights = sp.csr_array(weights)
        matrix = sp.csr_array(weights @ self.matrix)
        constant = np.asarray(weights @ self.constant, dtype=np.float64).ravel()
        if shape == ():
            row = matrix.tocoo()
            return LinearExpression(
                self.model,
                row.coords[1].astype(np.int64),
                row.data.astype(np.float64),
                float(constant[0]),
                checked=True,
            )
        return ExpressionArray(self.model, matrix, constant, shape)

    def sum(self, axis: int | tuple[int, ...] | None = None) -> Any:
        """The sum over ``axis`` (all elements when None)."""
        if axis is None:
            return self._weighted(np.ones((1, self.size)), ())
        axes = (axis,) if isinstance(axis, int) else tuple(axis)
        try:
            axes = tuple(a % self.ndim for a in axes)
        except ZeroDivisionError:
            raise ModelError("cannot sum a 0-d expression array over an axis") from None
        if any(a >= self.ndim for a in axes) or len(set(axes)) != len(axes):
            raise ModelError(f"axis {axis} is out of range for shape {self.shape}")
        kept = [d for d in range(self.ndim) if d not in axes]
        out_shape = tuple(self.shape[d] for d in kept)
        positions = np.indices(self.shape).reshape(self.ndim, -1)
        target = (
            np.ravel_multi_index(tuple(positions[kept]), out_shape)
            if kept
            else np.zeros(self.size, np.int64)
        )
        out_size = int(np.prod(out_shape)) if kept else 1
        weights = sp.csr_array(
            (np.ones(self.size), (target, np.arange(self.size))), shape=(out_size, self.size)
        )
        return self._weighted(weights, out_shape)

    def __matmul__(self, other: Any) -> Any:
        """``expressions @ coefficients``: (..., n) @ (n,) or (n,) @ (n, k)."""
        if isinstance(other, VariableArray | ExpressionArray | Variable | LinearExpression):
            raise ModelError("a product of two variables is not linear")
        dense = other.toarray() if sp.issparse(other) else np.asarray(other, dtype=np.float64)
        if self.ndim == 1 and dense.ndim == 1:
            if dense.shape[0] != self.size:
                raise ModelError(f"shapes {self.shape} and {dense.shape} do not align")
            return self._weighted(dense.reshape(1, -1), ())
        if self.ndim == 1 and dense.ndim == 2:
            if dense.shape[0] != self.size:
                raise ModelError(f"shapes {self.shape} and {dense.shape} do not align")
            return self._weighted(dense.T, (dense.shape[1],))
        if self.ndim == 2 and dense.ndim == 1:
            rows, n = self.shape
            if dense.shape[0] != n:
                raise ModelError(f"shapes {self.shape} and {dense.shape} do not align")
            return self._weighted(sp.kron(sp.eye(rows), dense.reshape(1, -1)), (rows,))
        raise ModelError(
            f"matmul of an expression array of shape {self.shape} by an array of shape "
            f"{dense.shape} is not supported; reshape to 1-d or 2-d first"
        )

    def __rmatmul__(self, other: Any) -> Any:
        """``coefficients @ expressions``: (m, n) @ (n,) with a dense or sparse matrix."""
        if isinstance(other, VariableArray | ExpressionArray | Variable | LinearExpression):
            raise ModelError("a product of two variables is not linear")
        matrix = other if sp.issparse(other) else np.asarray(other, dtype=np.float64)
        if self.ndim == 2:  # (m, n) @ (n, k) -> (m, k); (n,) @ (n, k) -> (k,)
            n, k = self.shape
            left = matrix.reshape(1, -1) if matrix.ndim == 1 else matrix
            if left.ndim != 2 or left.shape[1] != n:
                raise ModelError(f"shapes {matrix.shape} and {self.shape} do not align")
            shape = (k,) if matrix.ndim == 1 else (left.shape[0], k)
            return self._weighted(sp.kron(sp.csr_array(left), sp.eye(k)), shape)
        if self.ndim != 1:
            raise ModelError(
                f"A @ x needs a 1-d or 2-d x, got shape {self.shape}; use x.reshape first"
            )
        if matrix.ndim == 1:
            return self.__matmul__(matrix)
        if matrix.ndim != 2 or matrix.shape[1] != self.size:
            raise ModelError(
                f"A @ x needs A with {self.size} columns, got A of shape {matrix.shape}"
            )
        return self._weighted(matrix, (matrix.shape[0],))

    def __getitem__(self, key: Any) -> Any:
        rows = np.arange(self.size).reshape(self.shape)[key]
        if np.ndim(rows) == 0:
            picked = self.matrix[[int(rows)]].tocoo()
            return LinearExpression(
                self.model,
                picked.coords[1].astype(np.int64),
                picked.data.astype(np.float64),
                float(self.constant[int(rows)]),
                checked=True,
            )
        flat = np.asarray(rows).ravel()
        return ExpressionArray(
            self.model, sp.csr_array(self.matrix[flat]), self.constant[flat], rows.shape
        )

    def _relation(self, other: Any, lower: bool, upper: bool) -> ConstraintArray:
        rhs = self._coerce(other)
        if rhs is None:
            return NotImplemented  # type: ignore[no-any-return]
        diff = self - rhs
        bound = -diff.constant
        body = ExpressionArray(self.model, diff.matrix, np.zeros(self.size), self.shape)
        inf = np.full(self.size, math.inf)
        return ConstraintArray(body, bound if lower else -inf, bound if upper else inf)

    def __le__(self, other: Any) -> ConstraintArray:
        return self._relation(other, lower=False, upper=True)

    def __ge__(self, other: Any) -> ConstraintArray:
        return self._relation(other, lower=True, upper=False)

    def __eq__(self, other: Any) -> ConstraintArray:  # type: ignore[override]
        return self._relation(other, lower=True, upper=True)

    def value(self, values: FloatArray) -> FloatArray:
        """The expressions' values at the column values ``values``, in this array's shape."""
        matrix = self._width(len(values))
        return np.asarray(matrix @ values + self.constant).reshape(self.shape)


class ConstraintArray:
    """``lower <= expressions <= upper``, element by element, from comparing an
    :class:`ExpressionArray`. ``Model.add_constraints`` adds it and sets ``rows`` (an array of
    row indices in this shape), which results use: ``result.dual(constraints)``."""

    def __init__(self, expression: ExpressionArray, lower: FloatArray, upper: FloatArray):
        self.expression = expression
        self.lower = np.asarray(lower, dtype=np.float64)
        self.upper = np.asarray(upper, dtype=np.float64)
        self.model: Model | None = None
        self.rows: IntArray | None = None

    @property
    def shape(self) -> tuple[int, ...]:
        return self.expression.shape

    @property
    def size(self) -> int:
        return self.expression.size

    @property
    def names(self) -> list[str]:
        if self.model is None or self.rows is None:
            raise ModelError("these constraints are not in a model yet; add them first")
        return [self.model._rows.name(int(r)) for r in self.rows.ravel()]

    def __getitem__(self, key: Any) -> Any:
        if self.model is None or self.rows is None:
            raise ModelError("index constraints after adding them to a model")
        picked = self.rows[key]
        if np.ndim(picked) == 0:
            constraint = Constraint(self.expression[key], 0.0, 0.0)
            position = int(np.arange(self.size).reshape(self.shape)[key])
            constraint.lower = float(self.lower[position])
            constraint.upper = float(self.upper[position])
            constraint.model, constraint.row = self.model, int(picked)
            return constraint
        flat = np.arange(self.size).reshape(self.shape)[key].ravel()
        part = ConstraintArray(self.expression[key], self.lower[flat], self.upper[flat])
        part.model, part.rows = self.model, np.asarray(picked)
        return part

    def __bool__(self) -> bool:
        raise ModelError(
            "constraints have no truth value: 'a <= x <= b' chains two comparisons; use "
            "model.add_range(expressions, a, b)"
        )

    def __repr__(self) -> str:
        return f"ConstraintArray(shape={self.shape})"
