"""What a solve returns: :class:`Status`, :class:`Result` and :class:`Sensitivity`.

A result holds plain arrays indexed by column and row (values, reduced costs, duals, row
activities), so it pickles back from a worker cheaply, and reads them for any variable,
expression or constraint of its model: ``result[x]``, ``result.dual(wood)``. Names are attached
in the process that owns the model (``Result.with_names``), never shipped per scenario.

Duals follow one convention whatever the sense: the dual of a constraint is the change of the
objective per unit increase of its bound (the shadow price); a reduced cost is the change of the
objective per unit increase of the variable.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np

from parlearn.optimize._arrays import ConstraintArray, ExpressionArray, VariableArray
from parlearn.optimize._errors import NoSolutionError
from parlearn.optimize._expr import Constraint, FloatArray, IntArray, LinearExpression, Variable
from parlearn.optimize._model import NameTable

__all__ = ["Result", "Sensitivity", "Status"]


class Status(str, Enum):
    """How a solve ended."""

    OPTIMAL = "optimal"
    INFEASIBLE = "infeasible"
    UNBOUNDED = "unbounded"
    INFEASIBLE_OR_UNBOUNDED = "infeasible_or_unbounded"
    TIME_LIMIT = "time_limit"
    ITERATION_LIMIT = "iteration_limit"
    SOLUTION_LIMIT = "solution_limit"
    INTERRUPTED = "interrupted"
    ERROR = "error"

    def __str__(self) -> str:
        return self.value


# What each status means, for messages and the command line.
MESSAGES = {
    Status.OPTIMAL: "optimal solution found",
    Status.INFEASIBLE: (
        "infeasible: no values satisfy every constraint and bound together; look for "
        "contradicting constraints (HiGHS's getIis() can name a minimal set)"
    ),
    Status.UNBOUNDED: (
        "unbounded: the objective improves without limit; a bound or constraint is missing"
    ),
    Status.INFEASIBLE_OR_UNBOUNDED: (
        "infeasible or unbounded: the solver proved that no optimum exists but not which case"
    ),
    Status.TIME_LIMIT: "stopped at the time limit before proving optimality",
    Status.ITERATION_LIMIT: "stopped at the iteration limit before proving optimality",
    Status.SOLUTION_LIMIT: "stopped at the solution limit before proving optimality",
    Status.INTERRUPTED: "interrupted before proving optimality",
    Status.ERROR: "the solve failed",
}


@dataclass(frozen=True)
class Sensitivity:
    """Ranging of an LP's optimal basis (HiGHS ``getRanging``), by column and by row.

    - ``cost_lower[j]``, ``cost_upper[j]``: the range of variable ``j``'s objective coefficient
      over which the current solution stays optimal;
    - ``rhs_lower[i]``, ``rhs_upper[i]``: the range of constraint ``i``'s active bound over which
      its dual (shadow price) stays valid.
    """

    cost_lower: FloatArray
    cost_upper: FloatArray
    rhs_lower: FloatArray
    rhs_upper: FloatArray

    def cost_range(self, variable: Variable | VariableArray) -> Any:
        idx = variable.index if isinstance(variable, Variable) else variable.indices
        return _pair(self.cost_lower[idx], self.cost_upper[idx])

    def rhs_range(self, constraint: Constraint | ConstraintArray) -> Any:
        rows = _rows_of(constraint)
        return _pair(self.rhs_lower[rows], self.rhs_upper[rows])


def _pair(lower: Any, upper: Any) -> Any:
    if np.ndim(lower) == 0:
        return (float(lower), float(upper))
    return np.stack([lower, upper], axis=-1)


def _rows_of(constraint: Constraint | ConstraintArray) -> Any:
    rows = constraint.row if isinstance(constraint, Constraint) else constraint.rows
    if rows is None:
        raise NoSolutionError("this constraint was never added to the model that was solved")
    return rows


@dataclass(frozen=True)
class Result:
    """The outcome of one solve.

    ``objective`` is None whenever there is no solution (infeasible, unbounded, stopped before
    a feasible point): never 0 standing in for "nothing". ``values`` (by column) is None then
    too; ``duals``, ``reduced_costs`` and ``sensitivity`` exist for LPs solved to optimality.
    ``solve_many(..., returns="values" | "objective")`` leaves out the duals and reduced costs,
    or every array: reading them then raises :class:`NoSolutionError` saying so.
    """

    status: Status
    objective: float | None
    values: FloatArray | None = None
    reduced_costs: FloatArray | None = None
    duals: FloatArray | None = None
    activities: FloatArray | None = None
    best_bound: float | None = None
    mip_gap: float | None = None
    is_mip: bool = False
    sensitivity: Sensitivity | None = None
    seconds: float = 0.0
    iterations: int = 0
    message: str = ""
    scenario: int | None = None
    names: NameTable | None = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        """True when an optimal solution was found."""
        return self.status is Status.OPTIMAL

    @property
    def has_solution(self) -> bool:
        """True when ``values`` hold a feasible point (optimal, or the incumbent when a MIP
        stopped early)."""
        return self.values is not None

    def __reduce__(self) -> tuple[Any, ...]:
        # A basic LP solution has at most one non-zero value per row: with many more columns
        # than rows most values are 0, and the values travel as (positions, non-zeros). Every
        # bit comes back (-0.0 and NaN count as non-zero).
        state = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        values = state.pop("values")
        return (_rebuild_result, (_sparse(values), state))

    def with_names(self, names: NameTable | None) -> Result:
        return dataclasses.replace(self, names=names)

    def raise_for_status(self) -> Result:
        """Return self when optimal; raise :class:`NoSolutionError` with the reason otherwise."""
        if not self.ok:
            raise NoSolutionError(self.message or MESSAGES[self.status])
        return self

    def _values(self) -> FloatArray:
        if self.values is None:
            where = f"scenario {self.scenario}: " if self.scenario is not None else ""
            if self.objective is not None:  # solved, but the values were not kept
                raise NoSolutionError(
                    f"{where}this result carries no variable values: solve_many(..., "
                    "returns='objective') keeps status and objective only; pass "
                    "returns='values' or 'all' to keep them"
                )
            raise NoSolutionError(
                f"{where}no solution to read values from, status {self.status.value}: "
                f"{self.message or MESSAGES[self.status]}"
            )
        return self.values

    def __getitem__(self, item: Any) -> Any:
        """The value of a variable (float), an array of variables (array of its shape), an
        expression or an array of expressions."""
        values = self._values()
        if isinstance(item, Variable):
            return float(values[item.index])
        if isinstance(item, VariableArray):
            return values[item.indices]
        if isinstance(item, LinearExpression):
            return item.value(values)
        if isinstance(item, ExpressionArray):
            return item.value(values)
        if isinstance(item, str):
            return float(values[self._column(item)])
        raise TypeError(
            f"index a result with a variable, an expression or a variable name, not "
            f"{type(item).__name__}"
        )

    def value(self, item: Any) -> Any:
        return self[item]

    def dual(self, constraint: Constraint | ConstraintArray) -> Any:
        """The shadow price of a constraint (objective change per unit increase of its
        bound): a float, or an array of the constraint array's shape."""
        duals = self._lp_only(self.duals, "duals")
        rows = _rows_of(constraint)
        return float(duals[rows]) if isinstance(rows, int) else duals[rows]

    def reduced_cost(self, variable: Variable | VariableArray) -> Any:
        reduced = self._lp_only(self.reduced_costs, "reduced costs")
        if isinstance(variable, Variable):
            return float(reduced[variable.index])
        return reduced[variable.indices]

    def _lp_only(self, array: FloatArray | None, what: str) -> FloatArray:
        if array is None:
            if self.is_mip:
                raise NoSolutionError(
                    f"a mixed-integer program has no {what}; fix the integers and solve the LP "
                    "to get them"
                )
            self._values()
            if self.ok:
                raise NoSolutionError(
                    f"this result carries no {what}: solve_many(..., returns='values') leaves "
                    "them out; pass returns='all' to keep them"
                )
            raise NoSolutionError(f"this result has no {what}")
        return array

    def _column(self, name: str) -> int:
        if self.names is None:
            raise KeyError("this result carries no names; index it with the variable")
        try:
            return self.names.columns.index(name)
        except ValueError:
            raise KeyError(f"no variable named {name!r}") from None

    def nonzero(self, tolerance: float = 1e-9) -> dict[str, float]:
        """``{name: value}`` of the variables whose value is not zero (within ``tolerance``)."""
        values = self._values()
        picked = np.flatnonzero(np.abs(values) > tolerance)
        if self.names is None:
            return {f"x{j}": float(values[j]) for j in picked}
        return {self.names.column(int(j)): float(values[j]) for j in picked}

    def to_dict(self, *, all_variables: bool = False) -> dict[str, Any]:
        """A JSON-ready summary: status, objective, message and the (non-zero) variables."""
        out: dict[str, Any] = {
            "status": self.status.value,
            "objective": _finite_or_none(self.objective),
            "message": self.message or MESSAGES[self.status],
            "is_mip": self.is_mip,
            "seconds": round(self.seconds, 6),
        }
        if self.is_mip:
            out["mip_gap"] = _finite_or_none(self.mip_gap)
            out["best_bound"] = _finite_or_none(self.best_bound)
        if self.scenario is not None:
            out["scenario"] = self.scenario
        if self.values is not None:
            if all_variables:
                names = (
                    self.names.columns if self.names else [f"x{j}" for j in range(len(self.values))]
                )
                out["variables"] = dict(zip(names, map(float, self.values), strict=True))
            else:
                out["variables"] = self.nonzero()
        return out

    def __repr__(self) -> str:
        objective = "None" if self.objective is None else f"{self.objective:.10g}"
        scenario = f", scenario={self.scenario}" if self.scenario is not None else ""
        return f"Result(status={self.status.value}, objective={objective}{scenario})"


SparseValues = tuple[int, IntArray, FloatArray]


def _sparse(values: FloatArray | None) -> FloatArray | SparseValues | None:
    """``(length, positions, non-zeros)`` when that is less than half the bytes of ``values``."""
    if values is None or values.dtype != np.float64 or values.ndim != 1:
        return values
    positions = np.flatnonzero(np.ascontiguousarray(values).view(np.uint64))
    if positions.nbytes + 8 * len(positions) >= values.nbytes // 2:
        return values
    return (len(values), positions, values[positions])


def _dense(values: FloatArray | SparseValues | None) -> FloatArray | None:
    if not isinstance(values, tuple):
        return values
    length, positions, nonzero = values
    dense = np.zeros(length)
    dense[positions] = nonzero
    return dense


def _rebuild_result(values: FloatArray | SparseValues | None, state: dict[str, Any]) -> Result:
    # As pickle rebuilds a dataclass by default: the state as it was, without __init__.
    result: Result = object.__new__(Result)
    result.__dict__.update(state, values=_dense(values))
    return result


def _finite_or_none(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(value)
