"""AMPL/GLPK data files into Python, a model fed from one, and PuLP problems on our path."""

from __future__ import annotations

from pathlib import Path

import pytest

from parlearn import optimize
from parlearn.optimize import MalformedFileError, Model, Status
from parlearn.optimize._data import parse_data

TRANSPORT_DAT = """\
# Dantzig's transportation problem (the GAMS/GLPK classic)
set PLANTS := seattle san-diego;
set MARKETS := new-york chicago topeka;
param capacity := seattle 350  san-diego 600;
param demand := new-york 325  chicago 300  topeka 275;
param distance :  new-york  chicago  topeka :=
   seattle          2.5       1.7      1.8
   san-diego        2.5       1.8      1.4 ;
param freight := 90;
"""


def test_sets_params_tables_and_scalars() -> None:
    data = parse_data(TRANSPORT_DAT)
    assert data["PLANTS"] == ["seattle", "san-diego"]
    assert data["capacity"] == {"seattle": 350.0, "san-diego": 600.0}
    assert data["distance"][("san-diego", "topeka")] == 1.4
    assert len(data["distance"]) == 6
    assert data["freight"] == 90.0


def test_tabbing_slices_tuples_defaults_and_numeric_keys() -> None:
    data = parse_data(
        """
        param: cost weight := a 1 2  b 3 4;
        param T := [*, *, 1]: x y := p 1 2 q 3 4;
        set ARCS := (a, b) (b, c);
        param flow default 0 := a b 5;
        param by_week := 1 10  2 20;
        param grid {I, J};
        param grid := 1 1 5  1 2 6;
        """
    )
    assert data["cost"] == {"a": 1.0, "b": 3.0} and data["weight"]["b"] == 4.0
    assert data["T"][("q", "y", 1)] == 4.0
    assert data["ARCS"] == [("a", "b"), ("b", "c")]
    assert data["flow"][("a", "b")] == 5.0 and data["flow"][("x", "y")] == 0  # the default
    assert data["by_week"] == {1: 10.0, 2: 20.0}  # integral keys become ints
    assert data["grid"] == {(1, 1): 5.0, (1, 2): 6.0}  # declared in the file: 2 indices
    with pytest.raises(KeyError):
        _ = data["cost"]["zzz"]


def test_dims_settle_an_ambiguous_list() -> None:
    text = "param p := 1 2 3 4;"
    assert parse_data(text) == {"p": {1: 2.0, 3: 4.0}}
    assert parse_data(text, dims={"p": 3}) == {"p": {(1, 2, 3): 4.0}}


def test_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.dat"
    path.write_text("set A := a b;\n\nparam p := a 1 b;\nparam q := 3;\n")
    with pytest.raises(MalformedFileError) as info:
        optimize.read_data(path)
    assert info.value.line == 3 and "param p" in info.value.reason
    path.write_text("set A := a b;\nparam q = 3;\n")
    with pytest.raises(MalformedFileError) as info:
        optimize.read_data(path)
    assert info.value.line == 2
    with pytest.raises(FileNotFoundError, match="no data file"):
        optimize.read_data(tmp_path / "missing.dat")


def transport(data: dict) -> Model:  # type: ignore[type-arg]
    plants, markets = data["PLANTS"], data["MARKETS"]
    m = Model("transport")
    ship = {(p, k): m.add_variable(f"ship_{p}_{k}") for p in plants for k in markets}
    for p in plants:
        m.add_constraint(optimize.quicksum(ship[p, k] for k in markets) <= data["capacity"][p])
    for k in markets:
        m.add_constraint(optimize.quicksum(ship[p, k] for p in plants) >= data["demand"][k])
    rate = data["freight"] / 1000
    m.minimize(optimize.quicksum(rate * data["distance"][key] * var for key, var in ship.items()))
    return m


def test_model_written_once_fed_a_data_file(tmp_path: Path) -> None:
    path = tmp_path / "transport.dat"
    path.write_text(TRANSPORT_DAT)
    result = transport(optimize.read_data(path)).solve()
    assert result.objective == pytest.approx(153.675)  # the published GAMS optimum


# --------------------------------------------------------------------------- PuLP


def _variable(pulp, prob, name, low, up, cat="Continuous"):  # type: ignore[no-untyped-def]
    """A PuLP variable the way the installed PuLP wants it made (4.0 attaches it)."""
    if hasattr(prob, "add_variable"):
        return prob.add_variable(name, low, up, cat=cat)
    return pulp.LpVariable(name, lowBound=low, upBound=up, cat=cat)


def _pulp_constraints(prob):  # type: ignore[no-untyped-def]
    return prob.constraints() if callable(prob.constraints) else list(prob.constraints.values())


def test_pulp_problem_solved_on_our_path_with_answers_written_back() -> None:
    pulp = pytest.importorskip("pulp")
    prob = pulp.LpProblem("furniture", pulp.LpMaximize)
    d = _variable(pulp, prob, "desks", 0, None)
    t = _variable(pulp, prob, "tables", 0, 5)
    c = _variable(pulp, prob, "chairs", 0, None, "Integer")
    prob += 60 * d + 30 * t + 20 * c + 1
    prob += 8 * d + 6 * t + c <= 48, "lumber"
    prob += 4 * d + 2 * t + 1.5 * c <= 20, "finishing"
    prob += 2 * d + 1.5 * t + 0.5 * c <= 8, "carpentry"
    result = optimize.solve(prob)
    assert result.status is Status.OPTIMAL and result.objective == pytest.approx(281)
    assert prob.status == pulp.LpStatusOptimal
    assert (d.varValue, t.varValue, c.varValue) == pytest.approx((2, 0, 8))
    assert pulp.value(prob.objective) == pytest.approx(281)
    model = optimize.from_pulp(prob)
    assert model.names().rows == ["lumber", "finishing", "carpentry"]
    assert model.num_integer == 1 and model.sense == "max"


def test_pulp_lp_duals_and_infeasible_status() -> None:
    pulp = pytest.importorskip("pulp")
    prob = pulp.LpProblem("lp", pulp.LpMinimize)
    x = _variable(pulp, prob, "x", 0, None)
    y = _variable(pulp, prob, "y", 0, None)
    prob += 3 * x + 4 * y
    prob += x + 2 * y >= 4, "need"
    optimize.solve(prob)
    need = next(c for c in _pulp_constraints(prob) if c.name == "need")
    assert need.pi == pytest.approx(2)
    prob += x + y <= -1, "impossible"
    result = optimize.solve(prob)
    assert result.status is Status.INFEASIBLE and prob.status == pulp.LpStatusInfeasible
