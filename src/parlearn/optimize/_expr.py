"""Linear expressions one term at a time: ``3*x + 2*y <= 48``.

A :class:`Variable` is a column of its model. Arithmetic on variables builds a
:class:`LinearExpression` (column indices, coefficients and a constant, kept as NumPy arrays so
an expression of 100,000 terms costs three arrays, not a dict). Comparing an expression with a
number or another expression builds a :class:`Constraint`, which ``Model.add_constraint`` puts in
the model::

    3*x + 2*y <= 48
      Variable.__rmul__ ─► LinearExpression([x], [3]) ─► __add__ ─► ([x, y], [3, 2])
      __le__(48) ─► Constraint(expression, lower=-inf, upper=48) ─► model.add_constraint

Bulk versions of the same (arrays of variables, ``A @ x <= b``) are in ``_arrays.py``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from parlearn.optimize._errors import ModelError

if TYPE_CHECKING:
    from parlearn.optimize._model import Model

__all__ = ["Constraint", "LinearExpression", "Variable", "as_expression", "quicksum"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


def is_scalar(value: object) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)


def _check_finite(value: float, what: str) -> float:
    if math.isnan(value):
        raise ModelError(f"{what} is NaN; pass a number")
    return value


class Variable:
    """One column of a model: a decision variable. Create it with ``Model.add_variable``.

    Hashable (by model and column), so it can key a dict; ``==`` builds a constraint, as in
    PuLP, so compare variables with ``is``."""

    __slots__ = ("index", "model")
    __array_ufunc__ = None  # NumPy defers to our reflected operators: c * x, b >= x

    def __init__(self, model: Model, index: int) -> None:
        self.model = model
        self.index = index

    @property
    def name(self) -> str:
        return self.model._columns.name(self.index)

    @property
    def lower(self) -> float:
        return float(self.model._columns.lower(self.index))

    @property
    def upper(self) -> float:
        return float(self.model._columns.upper(self.index))

    @property
    def is_integer(self) -> bool:
        return bool(self.model._columns.integrality(self.index))

    def to_expression(self) -> LinearExpression:
        return LinearExpression(
            self.model, np.array([self.index], np.int64), np.ones(1), 0.0, checked=True
        )

    def __hash__(self) -> int:
        return hash((id(self.model), self.index))

    def __repr__(self) -> str:
        return f"Variable({self.name!r})"

    # Arithmetic and comparisons go through LinearExpression.
    def __add__(self, other: Any) -> LinearExpression:
        return self.to_expression().__add__(other)

    def __radd__(self, other: Any) -> LinearExpression:
        return self.to_expression().__add__(other)

    def __sub__(self, other: Any) -> LinearExpression:
        return self.to_expression().__sub__(other)

    def __rsub__(self, other: Any) -> LinearExpression:
        return self.to_expression().__rsub__(other)

    def __mul__(self, other: Any) -> LinearExpression:
        return self.to_expression().__mul__(other)

    def __rmul__(self, other: Any) -> LinearExpression:
        return self.to_expression().__mul__(other)

    def __truediv__(self, other: Any) -> LinearExpression:
        return self.to_expression().__truediv__(other)

    def __neg__(self) -> LinearExpression:
        return -self.to_expression()

    def __pos__(self) -> LinearExpression:
        return self.to_expression()

    def __le__(self, other: Any) -> Constraint:
        return self.to_expression().__le__(other)

    def __ge__(self, other: Any) -> Constraint:
        return self.to_expression().__ge__(other)

    def __eq__(self, other: Any) -> Constraint:  # type: ignore[override]
        return self.to_expression().__eq__(other)


class LinearExpression:
    """``sum(coefficients[k] * column indices[k]) + constant`` over one model's variables.

    Terms may repeat a column; they are summed when the expression enters the model."""

    __slots__ = ("coefficients", "constant", "indices", "model")
    __array_ufunc__ = None
    __hash__ = None  # type: ignore[assignment]  # == builds a constraint

    def __init__(
        self,
        model: Model | None,
        indices: IntArray,
        coefficients: FloatArray,
        constant: float = 0.0,
        *,
        checked: bool = False,
    ) -> None:
        if not checked and np.isnan(coefficients).any():
            raise ModelError("a coefficient is NaN; every coefficient must be a number")
        self.model = model
        self.indices = indices
        self.coefficients = coefficients
        self.constant = float(constant)

    @classmethod
    def constant_only(cls, value: float) -> LinearExpression:
        return cls(None, np.empty(0, np.int64), np.empty(0), _check_finite(value, "a constant"))

    def simplified(self) -> tuple[IntArray, FloatArray]:
        """Sorted distinct columns and their summed coefficients, zeros dropped."""
        if len(self.indices) == 0:
            return self.indices, self.coefficients
        columns, inverse = np.unique(self.indices, return_inverse=True)
        sums = np.bincount(inverse, weights=self.coefficients, minlength=len(columns))
        keep = sums != 0
        return columns[keep], sums[keep]

    def value(self, values: FloatArray) -> float:
        """The expression's value at the column values ``values``."""
        return float(np.dot(self.coefficients, values[self.indices]) + self.constant)

    def __repr__(self) -> str:
        if self.model is None:
            return f"LinearExpression({self.constant:g})"
        columns, coefs = self.simplified()
        shown = [
            f"{c:+g}*{self.model._columns.name(int(j))}"
            for j, c in zip(columns[:6], coefs[:6], strict=True)
        ]
        more = " ..." if len(columns) > 6 else ""
        const = f" {self.constant:+g}" if self.constant else ""
        return f"LinearExpression({' '.join(shown)}{more}{const})"

    def _merge_model(self, other: LinearExpression) -> Model | None:
        if self.model is None:
            return other.model
        if other.model is not None and other.model is not self.model:
            raise ModelError(
                "cannot combine variables of two different models "
                f"({self.model.name!r} and {other.model.name!r}); build each expression from "
                "one model's variables"
            )
        return self.model

    def __add__(self, other: Any) -> LinearExpression:
        rhs = as_expression(other)
        if rhs is None:
            return NotImplemented
        return LinearExpression(
            self._merge_model(rhs),
            np.concatenate([self.indices, rhs.indices]),
            np.concatenate([self.coefficients, rhs.coefficients]),
            self.constant + rhs.constant,
            checked=True,
        )

    __radd__ = __add__

    def __neg__(self) -> LinearExpression:
        return LinearExpression(
            self.model, self.indices, -self.coefficients, -self.constant, checked=True
        )

    def __pos__(self) -> LinearExpression:
        return self

    def __sub__(self, other: Any) -> LinearExpression:
        rhs = as_expression(other)
        if rhs is None:
            return NotImplemented
        return self + (-rhs)

    def __rsub__(self, other: Any) -> LinearExpression:
        lhs = as_expression(other)
        if lhs is None:
            return NotImplemented
        return lhs + (-self)

    def __mul__(self, other: Any) -> LinearExpression:
        if isinstance(other, Variable | LinearExpression):
            raise ModelError(
                "a product of two variables is not linear; LP and MILP models need each term "
                "to be a number times a variable"
            )
        if not is_scalar(other):
            return NotImplemented
        factor = _check_finite(float(other), "a coefficient")
        return LinearExpression(
            self.model,
            self.indices,
            self.coefficients * factor,
            self.constant * factor,
            checked=True,
        )

    __rmul__ = __mul__

    def __truediv__(self, other: Any) -> LinearExpression:
        if not is_scalar(other):
            return NotImplemented
        if float(other) == 0:
            raise ModelError("division of an expression by zero")
        return self * (1.0 / float(other))

    def _relation(self, other: Any, lower: bool, upper: bool) -> Constraint:
        rhs = as_expression(other)
        if rhs is None:
            return NotImplemented  # type: ignore[no-any-return]
        diff = self - rhs  # diff (sense) 0
        bound = -diff.constant
        body = LinearExpression(diff.model, diff.indices, diff.coefficients, 0.0, checked=True)
        return Constraint(body, bound if lower else -math.inf, bound if upper else math.inf)

    def __le__(self, other: Any) -> Constraint:
        return self._relation(other, lower=False, upper=True)

    def __ge__(self, other: Any) -> Constraint:
        return self._relation(other, lower=True, upper=False)

    def __eq__(self, other: Any) -> Constraint:  # type: ignore[override]
        return self._relation(other, lower=True, upper=True)


class Constraint:
    """``lower <= expression <= upper`` (one side may be infinite).

    Built by comparing expressions; ``Model.add_constraint`` adds it and sets ``row``, its
    index in the model (results are read with ``result.dual(constraint)``)."""

    __slots__ = ("expression", "lower", "model", "row", "upper")

    def __init__(self, expression: LinearExpression, lower: float, upper: float) -> None:
        self.expression = expression
        self.lower = float(lower)
        self.upper = float(upper)
        self.model: Model | None = None
        self.row: int | None = None

    @property
    def name(self) -> str:
        if self.model is None or self.row is None:
            raise ModelError("this constraint is not in a model yet; add it with add_constraint")
        return self.model._rows.name(self.row)

    def __bool__(self) -> bool:
        raise ModelError(
            "a constraint has no truth value: 'a <= x <= b' chains two comparisons; write "
            "model.add_constraint(x >= a) and model.add_constraint(x <= b), or "
            "model.add_range(x, a, b)"
        )

    def __repr__(self) -> str:
        parts = []
        if self.lower > -math.inf:
            parts.append(f"{self.lower:g} <=")
        parts.append(repr(self.expression))
        if self.upper < math.inf:
            parts.append(f"<= {self.upper:g}")
        return f"Constraint({' '.join(parts)})"


def as_expression(value: Any) -> LinearExpression | None:
    """A variable, expression or number as an expression; None for anything else."""
    if isinstance(value, LinearExpression):
        return value
    if isinstance(value, Variable):
        return value.to_expression()
    if is_scalar(value):
        return LinearExpression.constant_only(float(value))
    if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iuf":
        return LinearExpression.constant_only(float(value))
    return None


def quicksum(terms: Iterable[Any]) -> LinearExpression:
    """The sum of many variables, expressions and numbers in one step (``sum()`` copies the
    running total at every term, which is quadratic in the number of terms)."""
    expressions = []
    for term in terms:
        expression = as_expression(term)
        if expression is None:
            raise ModelError(
                f"quicksum takes variables, expressions and numbers, got {type(term).__name__}"
            )
        expressions.append(expression)
    if not expressions:
        return LinearExpression.constant_only(0.0)
    models = {id(e.model): e.model for e in expressions if e.model is not None}
    if len(models) > 1:
        raise ModelError(
            "cannot combine variables of two different models in one sum; build each "
            "expression from one model's variables"
        )
    model = next(iter(models.values()), None)
    return LinearExpression(
        model,
        np.concatenate([e.indices for e in expressions]),
        np.concatenate([e.coefficients for e in expressions]),
        sum(e.constant for e in expressions),
        checked=True,
    )
