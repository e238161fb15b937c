"""Solving: statuses, values, duals, ranging, limits; never an objective of 0 for no answer."""

from __future__ import annotations

import math

import numpy as np
import pytest

from parlearn import optimize
from parlearn.optimize import Model, ModelError, NoSolutionError, Status


def furniture() -> tuple[Model, dict[str, object]]:
    m = Model("furniture", sense="max")
    d, t, c = m.add_variable("desks"), m.add_variable("tables"), m.add_variable("chairs")
    rows = {
        "lumber": m.add_constraint(8 * d + 6 * t + c <= 48),
        "finishing": m.add_constraint(4 * d + 2 * t + 1.5 * c <= 20),
        "carpentry": m.add_constraint(2 * d + 1.5 * t + 0.5 * c <= 8),
        "tables": m.add_constraint(t <= 5),
    }
    m.maximize(60 * d + 30 * t + 20 * c)
    return m, {"d": d, "t": t, "c": c, **rows}


def test_furniture_optimum_duals_reduced_costs_and_ranges() -> None:
    m, v = furniture()
    r = m.solve(sensitivity=True)
    assert r.status is Status.OPTIMAL and r.ok
    assert r.objective == pytest.approx(280)
    assert (r[v["d"]], r[v["t"]], r[v["c"]]) == pytest.approx((2, 0, 8))
    # shadow prices: one more finishing or carpentry hour is worth $10, lumber is slack
    assert r.dual(v["finishing"]) == pytest.approx(10)
    assert r.dual(v["carpentry"]) == pytest.approx(10)
    assert r.dual(v["lumber"]) == pytest.approx(0)
    assert r.reduced_cost(v["t"]) == pytest.approx(-5)
    assert r.sensitivity is not None
    assert r.sensitivity.rhs_range(v["finishing"]) == pytest.approx((16, 24))
    assert r.sensitivity.cost_range(v["t"])[1] == pytest.approx(35)
    assert r[60 * v["d"] + 20 * v["c"]] == pytest.approx(280)
    assert r.nonzero() == pytest.approx({"desks": 2, "chairs": 8})
    assert r["chairs"] == pytest.approx(8)


def test_minimization_dual_is_the_objective_change_per_unit_of_bound() -> None:
    m = Model()
    x = m.add_variables(2)
    need = m.add_constraint(x[0] + 2 * x[1] >= 4)
    m.minimize(3 * x[0] + 4 * x[1])
    r = m.solve()
    assert r.objective == pytest.approx(8)
    assert r.dual(need) == pytest.approx(2)  # raising the bound by 1 costs 2 more
    bumped = Model()
    y = bumped.add_variables(2)
    bumped.add_constraint(y[0] + 2 * y[1] >= 5)
    bumped.minimize(3 * y[0] + 4 * y[1])
    assert bumped.solve().objective == pytest.approx(r.objective + r.dual(need))


def test_infeasible_is_reported_never_as_zero() -> None:
    m = Model()
    x = m.add_variable("x")
    m.add_constraint(x >= 5)
    m.add_constraint(x <= 3)
    m.minimize(x)
    r = m.solve()
    assert r.status is Status.INFEASIBLE and not r.ok and not r.has_solution
    assert r.objective is None
    assert "infeasible" in r.message
    with pytest.raises(NoSolutionError, match="infeasible"):
        _ = r[x]
    with pytest.raises(NoSolutionError, match="infeasible"):
        r.raise_for_status()
    assert r.to_dict()["objective"] is None


@pytest.mark.parametrize("presolve", [True, False])
def test_unbounded_is_reported(presolve: bool) -> None:
    m = Model(sense="max")
    x, y = m.add_variable("x"), m.add_variable("y")
    m.add_constraint(x - y <= 1)
    m.maximize(x + y)
    r = m.solve(presolve=presolve)
    assert r.status is Status.UNBOUNDED
    assert r.objective is None and "unbounded" in r.message


def test_milp_reports_gap_and_bound_and_no_duals() -> None:
    m = Model(sense="max")
    x = m.add_variables(3, integer=True, upper=10)
    m.add_constraint(2 * x[0] + 3 * x[1] + 4 * x[2] <= 17.5)
    m.maximize(3 * x[0] + 4 * x[1] + 5 * x[2])
    r = m.solve()
    assert r.ok and r.is_mip
    assert r.objective == pytest.approx(25)  # 8 of the first item, value 24... or better mixes
    assert np.allclose(r[x], np.round(r[x]))
    assert r.mip_gap == pytest.approx(0, abs=1e-6) and r.best_bound == pytest.approx(25, abs=1e-6)
    with pytest.raises(NoSolutionError, match="mixed-integer"):
        r.dual(m.constraint("c0"))


def hard_knapsack(n: int = 60, seed: int = 3) -> Model:
    """A market-split style problem: hard for branch and bound however small."""
    rng = np.random.default_rng(seed)
    m = Model("split")
    x = m.add_variables(n, binary=True)
    a = rng.integers(0, 100, size=(4, n))
    m.add_constraints(a @ x == np.floor(a.sum(axis=1) / 2))
    m.minimize(rng.integers(1, 10, n) @ x)
    return m


def test_time_limit_stops_and_says_so() -> None:
    r = hard_knapsack().solve(time_limit=0.3)
    assert r.status is Status.TIME_LIMIT and not r.ok
    assert "time limit" in r.message
    assert (r.objective is None) == (not r.has_solution)  # an incumbent, or nothing at all
    assert r.seconds < 5


def test_options_are_validated() -> None:
    m, _ = furniture()
    with pytest.raises(ModelError, match="time_limit"):
        m.solve(time_limit=0)
    with pytest.raises(ModelError, match="threads"):
        m.solve(threads=0)
    with pytest.raises(ModelError, match="bogus_option"):
        m.solve(highs_options={"bogus_option": 1})
    assert m.solve(threads=1, mip_gap=0.01, highs_options={"solver": "ipm"}).objective == (
        pytest.approx(280)
    )


def test_empty_model_and_constant_objective() -> None:
    m = Model()
    m.minimize(7)
    r = m.solve()
    assert r.ok and r.objective == pytest.approx(7)


def test_solve_function_takes_a_path(tmp_path) -> None:  # type: ignore[no-untyped-def]
    m, _ = furniture()
    path = optimize.write(m, tmp_path / "furniture.mps")
    assert optimize.solve(path).objective == pytest.approx(280)
    with pytest.raises(TypeError, match="Model, an LP/MPS file path"):
        optimize.solve(42)


def test_result_json_summary_is_finite() -> None:
    m, _ = furniture()
    d = m.solve().to_dict(all_variables=True)
    assert d["status"] == "optimal" and d["variables"]["tables"] == pytest.approx(0)
    assert all(math.isfinite(v) for v in d["variables"].values())
