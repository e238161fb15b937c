"""parlearn.optimize: linear and mixed-integer programs, one scenario or thousands at once.

>>> from parlearn import optimize
>>> m = optimize.Model("furniture", sense="max")
>>> desks, tables, chairs = (m.add_variable(n) for n in ("desks", "tables", "chairs"))
>>> lumber = m.add_constraint(8 * desks + 6 * tables + chairs <= 48, name="lumber")
>>> finishing = m.add_constraint(4 * desks + 2 * tables + 1.5 * chairs <= 20, name="finishing")
>>> carpentry = m.add_constraint(2 * desks + 1.5 * tables + 0.5 * chairs <= 8, name="carpentry")
>>> _ = m.add_constraint(tables <= 5, name="table_demand")
>>> m.maximize(60 * desks + 30 * tables + 20 * chairs)
>>> result = m.solve()
>>> result.status.value, round(result.objective, 6), round(result[desks], 6), round(result[chairs], 6)
('optimal', 280.0, 2.0, 8.0)
>>> round(result.dual(finishing), 6)
10.0

Models are built one term at a time (above) or in bulk from NumPy and SciPy arrays
(``x = m.add_variables((200, 500))``, ``m.add_constraints(x.sum(axis=1) <= supply)``), read from
LP and MPS files (``read``), fed from AMPL/GLPK data files (``read_data``) or taken from PuLP
(``from_pulp``), and solved with HiGHS (``solve``), or many scenarios at once in parallel on
``parlearn.parallel`` (``solve_many``). The user guide is ``docs/optimize.md``.
"""

from parlearn.optimize._arrays import ConstraintArray, ExpressionArray, VariableArray
from parlearn.optimize._data import read_data
from parlearn.optimize._errors import MalformedFileError, ModelError, NoSolutionError
from parlearn.optimize._expr import Constraint, LinearExpression, Variable, quicksum
from parlearn.optimize._files import read_model as read
from parlearn.optimize._files import write_model as write
from parlearn.optimize._model import Model, ModelArrays
from parlearn.optimize._pulp import from_pulp
from parlearn.optimize._result import Result, Sensitivity, Status
from parlearn.optimize._scenarios import Scenario, solve_many
from parlearn.optimize._solve import SolveOptions, solve

__all__ = [
    "Constraint",
    "ConstraintArray",
    "ExpressionArray",
    "LinearExpression",
    "MalformedFileError",
    "Model",
    "ModelArrays",
    "ModelError",
    "NoSolutionError",
    "Result",
    "Scenario",
    "Sensitivity",
    "SolveOptions",
    "Status",
    "Variable",
    "VariableArray",
    "from_pulp",
    "quicksum",
    "read",
    "read_data",
    "solve",
    "solve_many",
    "write",
]
