"""PuLP interop: a ``pulp.LpProblem`` becomes a :class:`Model`, solved on our path.

::

    from_pulp(problem) ─► Model: one column per problem.variables() (bounds, Integer/Binary),
                          one row per problem.constraints (name kept), the objective + constant
    solve(problem) ─► from_pulp ─► HiGHS ─► Result, and the answers written back into PuLP's
                      objects as problem.solve() would: variable.varValue and .dj,
                      constraint.pi and .slack, problem.status and problem.sol_status

PuLP is imported only to read its status constants, lazily: the interop needs
``pip install pulp`` (in parlearn's ``bench`` extra) and nothing else of parlearn needs it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.sparse as sp

from parlearn.errors import MissingDependencyError
from parlearn.optimize._errors import ModelError
from parlearn.optimize._model import Model, ModelArrays
from parlearn.optimize._result import Result, Status

__all__ = ["from_pulp", "solve_pulp"]


def _import_pulp() -> Any:
    try:
        import pulp
    except ImportError as exc:
        raise MissingDependencyError("pulp", "bench", "PuLP interop") from exc
    return pulp


def _constraints(problem: Any) -> list[tuple[str, Any]]:
    """``(name, constraint)`` pairs: PuLP 3.3+ and 4 list them with ``problem.constraints()``,
    older PuLP keeps a dict in ``problem.constraints``."""
    if callable(problem.constraints):
        return [(c.name, c) for c in problem.constraints()]
    return list(problem.constraints.items())


def _bound(value: Any, default: float) -> float:
    return default if value is None else float(value)


def from_pulp(problem: Any) -> Model:
    """A :class:`Model` equal to the PuLP ``LpProblem`` ``problem`` (names kept)."""
    pulp = _import_pulp()
    if not isinstance(problem, pulp.LpProblem):
        raise TypeError(f"from_pulp takes a pulp.LpProblem, got {type(problem).__name__}")
    variables = problem.variables()
    position = {v.name: j for j, v in enumerate(variables)}
    n = len(variables)
    lower = np.array([_bound(v.lowBound, -math.inf) for v in variables])
    upper = np.array([_bound(v.upBound, math.inf) for v in variables])
    integrality = np.array([v.cat == pulp.LpInteger for v in variables], dtype=np.uint8)
    bad = np.flatnonzero(lower > upper)
    if len(bad):
        v = variables[int(bad[0])]
        raise ModelError(
            f"PuLP variable {v.name!r} has lowBound {v.lowBound} > upBound {v.upBound}"
        )

    row_names, row_lower, row_upper = [], [], []
    indptr, indices, data = [0], [], []
    for name, constraint in _constraints(problem):
        for variable, coefficient in constraint.items():
            indices.append(position[variable.name])
            data.append(float(coefficient))
        indptr.append(len(indices))
        rhs = -float(constraint.constant)  # PuLP keeps "expr + constant  sense  0"
        if constraint.sense == pulp.LpConstraintLE:
            row_lower.append(-math.inf)
            row_upper.append(rhs)
        elif constraint.sense == pulp.LpConstraintGE:
            row_lower.append(rhs)
            row_upper.append(math.inf)
        else:
            row_lower.append(rhs)
            row_upper.append(rhs)
        row_names.append(name)
    rows = sp.csr_array(
        (np.array(data, np.float64), np.array(indices, np.int64), np.array(indptr, np.int64)),
        shape=(len(row_names), n),
    )
    rows.sum_duplicates()

    cost = np.zeros(n)
    offset = 0.0
    if problem.objective is not None:
        for variable, coefficient in problem.objective.items():
            cost[position[variable.name]] += float(coefficient)
        offset = float(problem.objective.constant)
    arrays = ModelArrays(
        maximize=problem.sense == pulp.LpMaximize,
        offset=offset,
        cost=cost,
        col_lower=lower,
        col_upper=upper,
        integrality=integrality,
        row_lower=np.array(row_lower, np.float64),
        row_upper=np.array(row_upper, np.float64),
        start=rows.indptr.astype(np.int32),
        index=rows.indices.astype(np.int32),
        value=rows.data.astype(np.float64),
    )
    return Model.from_arrays(
        arrays,
        name=problem.name or "pulp",
        column_names=[v.name for v in variables],
        row_names=row_names,
    )


_PULP_STATUS = {  # our status -> (LpStatus, LpSolution) names
    Status.OPTIMAL: ("LpStatusOptimal", "LpSolutionOptimal"),
    Status.INFEASIBLE: ("LpStatusInfeasible", "LpSolutionInfeasible"),
    Status.UNBOUNDED: ("LpStatusUnbounded", "LpSolutionUnbounded"),
    Status.INFEASIBLE_OR_UNBOUNDED: ("LpStatusUndefined", "LpSolutionNoSolutionFound"),
}


def solve_pulp(problem: Any, options: Any) -> Result:
    """Solve a PuLP problem with HiGHS and write the answers back into its objects."""
    from parlearn.optimize._solve import HighsSolver

    pulp = _import_pulp()
    model = from_pulp(problem)
    result = HighsSolver(model.arrays(), options).run().with_names(model.names())
    status_name, solution_name = _PULP_STATUS.get(
        result.status,
        ("LpStatusNotSolved", "LpSolutionIntegerFeasible" if result.has_solution else "LpSolutionNoSolutionFound"),
    )  # fmt: skip
    problem.status = getattr(pulp, status_name)
    problem.sol_status = getattr(pulp, solution_name)
    variables = problem.variables()
    if result.values is not None:
        for j, variable in enumerate(variables):
            variable.varValue = float(result.values[j])
            variable.dj = None if result.reduced_costs is None else float(result.reduced_costs[j])
    for i, (_, constraint) in enumerate(_constraints(problem)):
        constraint.pi = None if result.duals is None else float(result.duals[i])
        if result.activities is not None:
            constraint.slack = -float(constraint.constant) - float(result.activities[i])
    return result
