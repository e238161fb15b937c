"""Building models: expressions, arrays, names, and the errors for what cannot be built."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

from parlearn.optimize import Constraint, ConstraintArray, Model, ModelError, quicksum


def test_scalar_expressions_build_rows_and_objective() -> None:
    m = Model("small", sense="max")
    x, y = m.add_variable("x"), m.add_variable("y", upper=4, integer=True)
    c = m.add_constraint(3 * x + 2 * y - x <= 48 - y, name="wood")
    assert isinstance(c, Constraint) and c.row == 0 and c.name == "wood"
    m.maximize(2 * x + 3 * y + 1)
    a = m.arrays()
    assert a.maximize and a.offset == 1.0
    np.testing.assert_array_equal(a.cost, [2, 3])
    np.testing.assert_array_equal(a.value, [2, 3])  # 3x - x + 2y + y, duplicates summed
    assert a.row_upper[0] == 48 and a.row_lower[0] == -math.inf
    np.testing.assert_array_equal(a.integrality, [0, 1])
    assert a.col_upper[1] == 4


def test_equality_ge_and_reversed_comparisons() -> None:
    m = Model()
    x = m.add_variable("x")
    ge = m.add_constraint(5 <= x + 1)  # noqa: SIM300  (Python flips it to x + 1 >= 5)
    eq = m.add_constraint(x == 2)
    assert (ge.lower, ge.upper) == (4, math.inf)
    assert (eq.lower, eq.upper) == (2, 2)


def test_bulk_transport_model_matches_hand_built_rows() -> None:
    m = Model()
    x = m.add_variables((2, 3), name="ship")
    rows = m.add_constraints(x.sum(axis=1) <= np.array([10, 20]), name="supply")
    cols = m.add_constraints(x.sum(axis=0) >= [1, 2, 3], name="demand")
    cost = np.arange(6.0).reshape(2, 3)
    m.minimize((cost * x).sum())
    a = m.arrays()
    dense = sp.csr_array((a.value, a.index, a.start), shape=(5, 6)).toarray()
    np.testing.assert_array_equal(dense[:2], [[1, 1, 1, 0, 0, 0], [0, 0, 0, 1, 1, 1]])
    np.testing.assert_array_equal(dense[2:], np.tile(np.eye(3), 2))
    np.testing.assert_array_equal(a.cost, np.arange(6.0))
    assert rows.rows.tolist() == [0, 1] and cols.rows.tolist() == [2, 3, 4]
    assert m.names().columns[:2] == ["ship(0,0)", "ship(0,1)"]
    assert cols.names == ["demand(0)", "demand(1)", "demand(2)"]
    assert m.variable("ship(1,2)").index == 5


@pytest.mark.parametrize("kind", ["dense", "sparse"])
def test_matrix_times_variables_from_either_side(kind: str) -> None:
    m = Model()
    x = m.add_variables(3)
    A = np.array([[1.0, 0, 2], [0, 3, 0]])
    left = sp.csr_array(A) if kind == "sparse" else A
    block = m.add_constraints(left @ x <= np.array([4.0, 5.0]))
    assert isinstance(block, ConstraintArray) and block.shape == (2,)
    a = m.arrays()
    dense = sp.csr_array((a.value, a.index, a.start), shape=(2, 3)).toarray()
    np.testing.assert_array_equal(dense, A)
    # b >= A @ x is the same constraint, via NumPy deferring to the expression
    other = m.add_constraints(np.array([4.0, 5.0]) >= A @ x)
    np.testing.assert_array_equal(other.upper, [4, 5])
    expr = np.array([1.0, 2, 3]) @ x
    assert sorted(expr.simplified()[1].tolist()) == [1, 2, 3]


def test_weights_times_2d_array_and_indexing() -> None:
    m = Model()
    x = m.add_variables((3, 4))
    hours = np.array([0.5, 1.5, 2.0])
    per_week = hours @ x
    assert per_week.shape == (4,)
    m.add_constraints(per_week <= 10)
    a = m.arrays()
    dense = sp.csr_array((a.value, a.index, a.start), shape=(4, 12)).toarray()
    np.testing.assert_array_equal(dense[1].reshape(3, 4)[:, 1], hours)
    assert x[1, 2].index == 6
    assert x[:, 0].shape == (3,)
    i, j = np.array([0, 2]), np.array([1, 3])
    assert x[i, j].indices.tolist() == [1, 11]


def test_add_range_and_set_bounds() -> None:
    m = Model()
    x = m.add_variables(2)
    m.add_range(x[0] + x[1], 1, 3, name="band")
    m.add_range(x, [0, 1], [2, 5])
    m.set_bounds(x, -1, [4, 6])
    a = m.arrays()
    assert (a.row_lower.tolist(), a.row_upper.tolist()) == ([1, 0, 1], [3, 2, 5])
    assert (a.col_lower.tolist(), a.col_upper.tolist()) == ([-1, -1], [4, 6])


def test_quicksum_and_binary() -> None:
    m = Model()
    xs = [m.add_variable(f"b{i}", binary=True) for i in range(5)]
    total = quicksum([*xs, 2])
    assert total.constant == 2 and len(total.indices) == 5
    assert m.arrays().col_upper.tolist() == [1] * 5 and m.num_integer == 5


def test_errors_name_the_problem() -> None:
    m, other = Model("a"), Model("b")
    x, y = m.add_variable("x"), m.add_variable("y")
    z = other.add_variable("z")
    with pytest.raises(ModelError, match="not linear"):
        _ = x * y
    with pytest.raises(ModelError, match="two different models"):
        _ = x + z
    with pytest.raises(ModelError, match="chains two comparisons"):
        m.add_constraint(0 <= x <= 1)  # type: ignore[operator]
    with pytest.raises(ModelError, match="lower bound 5 is above upper bound 1"):
        m.add_variable("w", lower=5, upper=1)
    with pytest.raises(ModelError, match="already used"):
        m.add_variable("x")
    with pytest.raises(ModelError, match="whitespace"):
        m.add_variable("has space")
    with pytest.raises(ModelError, match="sense must be"):
        Model(sense="up")
    with pytest.raises(ModelError, match="NaN"):
        m.add_variables(2, upper=[1, float("nan")])
    with pytest.raises(ModelError, match="sum it first"):
        m.minimize(m.add_variables(3))
    with pytest.raises(ModelError, match="shapes"):
        _ = m.add_variables(3) + m.add_variables(2)
    with pytest.raises(ModelError, match="comparison such as"):
        m.add_constraint(True)  # type: ignore[arg-type]
