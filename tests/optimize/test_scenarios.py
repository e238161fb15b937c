"""solve_many: many scenarios in parallel, in order, failures reported without losing the rest."""

from __future__ import annotations

import os

import numpy as np
import pytest

from parlearn import optimize, parallel
from parlearn.optimize import Model, ModelError, NoSolutionError, Scenario, Status


def transport(sources: int = 4, sinks: int = 6, seed: int = 0):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    m = Model("transport")
    x = m.add_variables((sources, sinks), name="ship")
    supply = m.add_constraints(x.sum(axis=1) <= rng.uniform(50, 80, sources), name="supply")
    demand = m.add_constraints(x.sum(axis=0) >= rng.uniform(10, 30, sinks), name="demand")
    cost = rng.uniform(1, 9, (sources, sinks))
    m.minimize((cost * x).sum())
    return m, x, supply, demand, cost


def scenario_set(count: int, sinks: int = 6):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(1)
    return [rng.uniform(10, 30, sinks) for _ in range(count)], [
        rng.uniform(1, 9, (4, sinks)) for _ in range(count)
    ]


def one_by_one(demands, costs):  # type: ignore[no-untyped-def]
    """The reference: rebuild and solve each scenario alone."""
    out = []
    for d, c in zip(demands, costs, strict=True):
        m, x, _, _demand, _ = transport()
        m.set_objective((c * x).sum())
        m2 = Model()
        y = m2.add_variables((4, 6))
        m2.add_constraints(y.sum(axis=1) <= m.arrays().row_upper[:4])
        m2.add_constraints(y.sum(axis=0) >= d)
        m2.minimize((c * y).sum())
        out.append(m2.solve().objective)
    return out


@pytest.mark.parametrize("backend", ["serial", "processes"])
def test_results_match_solving_each_scenario_alone(backend: str) -> None:
    m, x, _, demand, _ = transport()
    demands, costs = scenario_set(12)
    scenarios = [
        Scenario(rhs={demand: d}, cost={x: c}) for d, c in zip(demands, costs, strict=True)
    ]
    results = list(optimize.solve_many(m, scenarios, backend=backend, workers=2))
    assert [r.scenario for r in results] == list(range(12))
    assert all(r.ok for r in results)
    np.testing.assert_allclose([r.objective for r in results], one_by_one(demands, costs))
    # the base model is untouched by the scenarios
    assert m.solve().objective == pytest.approx(m.solve().objective)
    assert results[3][x].shape == (4, 6)
    assert results[3].nonzero()  # names come from the base model
    assert next(iter(results[3].nonzero())).startswith("ship(")


def test_same_numbers_whatever_the_backend_and_workers() -> None:
    m, x, _, demand, _ = transport()
    demands, costs = scenario_set(10)
    scenarios = [
        Scenario(rhs={demand: d}, cost={x: c}) for d, c in zip(demands, costs, strict=True)
    ]
    serial = [r.values for r in optimize.solve_many(m, scenarios, backend="serial")]
    parallel_values = [r.values for r in optimize.solve_many(m, scenarios, workers=2)]
    for a, b in zip(serial, parallel_values, strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_bad_scenario_and_an_infeasible_one_do_not_lose_the_others() -> None:
    m, x, _supply, demand, _ = transport()
    scenarios = [
        Scenario(rhs={demand: 20}),
        Scenario(rhs={demand: 1e6}),  # more demand than supply: infeasible, not an error
        Scenario(rhs={demand: [1, 2]}),  # wrong length: an error for this scenario only
        {"upper": {x: 30}},  # a dict works too
        Scenario(rhs={x: 3}),  # rhs needs constraints
    ]
    results = list(optimize.solve_many(m, scenarios, workers=2))
    assert [r.status for r in results] == [
        Status.OPTIMAL,
        Status.INFEASIBLE,
        Status.ERROR,
        Status.OPTIMAL,
        Status.ERROR,
    ]
    assert results[1].objective is None
    assert "2 values for 6 entries" in results[2].message and results[2].scenario == 2
    assert "constraints" in results[4].message
    assert results[3][x].max() <= 30 + 1e-9


def mixed_scenarios(m, x, supply, demand, count: int):  # type: ignore[no-untyped-def]
    """Scenarios that change different parts of the model, in an order where each changes
    something its predecessor did not (and leaves alone something its predecessor changed)."""
    rng = np.random.default_rng(3)
    out = []
    for k in range(count):
        kind = k % 5
        if kind == 0:
            out.append(Scenario(cost={x: rng.uniform(1, 9, (4, 6))}))
        elif kind == 1:
            out.append(Scenario(rhs={demand: rng.uniform(10, 30, 6)}))
        elif kind == 2:
            out.append(Scenario(upper={x[0]: rng.uniform(5, 15, 6)}, rhs={supply: 90}))
        elif kind == 3:
            out.append(Scenario(cost={x[1:]: rng.uniform(1, 9, (3, 6))}, lower={x[2, 3]: 2.0}))
        else:
            out.append(Scenario())  # the base model itself
    return out


@pytest.mark.parametrize("backend", ["serial", "processes"])
def test_each_scenario_sees_the_base_model_plus_its_own_changes(backend: str) -> None:
    # A worker keeps one HiGHS model and puts back only what the last scenario changed and
    # this one does not: the numbers must be those of a fresh model for every scenario.
    m, x, supply, demand, _ = transport()
    scenarios = mixed_scenarios(m, x, supply, demand, 40)
    fresh = [next(optimize.solve_many(m, [s], backend="serial")) for s in scenarios]
    got = list(optimize.solve_many(m, scenarios, backend=backend, workers=2))
    assert [r.scenario for r in got] == list(range(40))
    base = m.solve().objective
    for k, (a, b) in enumerate(zip(fresh, got, strict=True)):
        assert a.ok and b.ok
        assert a.objective == b.objective, k  # identical, not close
        np.testing.assert_array_equal(a.values, b.values)
        np.testing.assert_array_equal(a.duals, b.duals)
        np.testing.assert_array_equal(a.reduced_costs, b.reduced_costs)
        if k % 5 == 4:
            assert b.objective == pytest.approx(base, rel=1e-12)
    assert got[2][x[0]].max() <= 15 + 1e-9 and got[3][x[2, 3]] >= 2 - 1e-9


def test_returns_keeps_only_what_was_asked_for() -> None:
    m, x, _, demand, _ = transport()
    demands, costs = scenario_set(12)
    scenarios = [
        Scenario(rhs={demand: d}, cost={x: c}) for d, c in zip(demands, costs, strict=True)
    ]
    full = list(optimize.solve_many(m, scenarios, workers=2))
    values = list(optimize.solve_many(m, scenarios, workers=2, returns="values"))
    objective = list(optimize.solve_many(m, scenarios, backend="serial", returns="objective"))
    for a, b, c in zip(full, values, objective, strict=True):
        assert a.objective == b.objective == c.objective
        assert a.status is b.status is c.status is Status.OPTIMAL
        assert a.values is not None and a.duals is not None and a.reduced_costs is not None
        np.testing.assert_array_equal(a.values, b.values)
        np.testing.assert_array_equal(a.activities, b.activities)
        assert b.duals is None and b.reduced_costs is None
        assert c.values is None and c.activities is None and c.duals is None
    with pytest.raises(NoSolutionError, match="returns='objective'"):
        objective[0][x]
    with pytest.raises(NoSolutionError, match="returns='all'"):
        values[0].dual(demand)
    assert "variables" not in objective[0].to_dict()
    with pytest.raises(ModelError, match="returns must be one of"):
        optimize.solve_many(m, scenarios, returns="duals")  # type: ignore[arg-type]


@pytest.mark.parametrize("chunksize", [1, 7, None])
def test_chunksize_changes_how_scenarios_travel_not_the_results(chunksize: int | None) -> None:
    m, x, _, demand, _ = transport()
    demands, costs = scenario_set(30)
    scenarios = [
        Scenario(rhs={demand: d}, cost={x: c}) for d, c in zip(demands, costs, strict=True)
    ]
    alone = list(optimize.solve_many(m, scenarios, backend="serial", chunksize=1))
    got = list(optimize.solve_many(m, scenarios, workers=2, chunksize=chunksize))
    assert [r.scenario for r in got] == list(range(30))
    assert [r.objective for r in got] == [r.objective for r in alone]
    with pytest.raises(ModelError, match="chunksize must be a positive int"):
        optimize.solve_many(m, scenarios, chunksize=0)


def test_failures_stay_per_scenario_when_scenarios_travel_in_chunks() -> None:
    # Enough scenarios that the engine sends several per message: a bad or infeasible one in
    # the middle of a chunk fails alone, and the scenario after it sees the base model.
    m, _x, _, demand, _ = transport()
    demands, _ = scenario_set(60)
    scenarios: list[object] = [Scenario(rhs={demand: d}) for d in demands]
    scenarios[17] = Scenario(rhs={demand: 1e6})  # infeasible
    scenarios[31] = Scenario(rhs={demand: [1, 2]})  # malformed
    scenarios[44] = {"rhs": {demand: np.nan}}  # a dict, with a NaN
    expected = [next(optimize.solve_many(m, [s], backend="serial")) for s in scenarios]
    got = list(optimize.solve_many(m, scenarios, workers=2))
    assert [r.scenario for r in got] == list(range(60))
    assert [r.status for r in got] == [r.status for r in expected]
    assert got[17].status is Status.INFEASIBLE and got[31].status is Status.ERROR
    assert "2 values for 6 entries" in got[31].message and "NaN" in got[44].message
    for k in set(range(60)) - {17, 31, 44}:
        assert got[k].objective == expected[k].objective


def test_builder_form_and_a_crashing_worker() -> None:
    def build(item: int) -> Model:
        if item == 3:
            os._exit(7)  # the worker dies on this scenario
        if item == 5:
            raise ValueError("no data for item 5")
        m = Model(f"m{item}", sense="max")
        v = m.add_variable("v", upper=item)
        m.maximize(2 * v)
        return m

    # A pool of its own: the crash must not touch the default pool later tests share.
    with parallel.Pool("processes", workers=2) as pool:
        results = list(optimize.solve_many(build, range(8), pool=pool))
    assert [r.scenario for r in results] == list(range(8))
    assert results[3].status is Status.ERROR and "WorkerCrashedError" in results[3].message
    assert results[5].status is Status.ERROR and "no data for item 5" in results[5].message
    for k in (0, 1, 2, 4, 6, 7):
        assert results[k].objective == pytest.approx(2 * k)
        assert results[k].nonzero() == ({"v": k} if k else {})


def test_a_pool_keeps_the_model_resident_across_calls() -> None:
    m, _x, _, demand, _ = transport()
    demands, _ = scenario_set(6)
    with parallel.Pool("processes", workers=2) as pool:
        first = [
            r.objective
            for r in optimize.solve_many(m, [Scenario(rhs={demand: d}) for d in demands], pool=pool)
        ]
        again = [
            r.objective
            for r in optimize.solve_many(m, [Scenario(rhs={demand: d}) for d in demands], pool=pool)
        ]
    assert first == again and all(v is not None for v in first)


def test_unordered_results_carry_their_scenario() -> None:
    m, _x, _, demand, _ = transport()
    demands, _ = scenario_set(8)
    results = list(
        optimize.solve_many(
            m, [Scenario(rhs={demand: d}) for d in demands], ordered=False, workers=2
        )
    )
    assert sorted(r.scenario for r in results) == list(range(8))


def test_scenario_errors_are_checked_in_the_parent() -> None:
    m, x, _, _demand, _ = transport()
    other, _, _, _, _ = transport()
    with pytest.raises(TypeError, match="Model or a function"):
        optimize.solve_many(42, [])  # type: ignore[arg-type]
    (result,) = optimize.solve_many(other, [Scenario(cost={x: 1})], backend="serial")
    assert result.status is Status.ERROR and "another model" in result.message
    with pytest.raises(ModelError):
        optimize.solve_many(m, [], threads=0)


@pytest.mark.ray
@pytest.mark.slow
def test_ray_backend_scales_it_out() -> None:
    pytest.importorskip("ray")
    m, x, _, demand, _ = transport()
    demands, costs = scenario_set(6)
    scenarios = [
        Scenario(rhs={demand: d}, cost={x: c}) for d, c in zip(demands, costs, strict=True)
    ]
    try:
        results = list(optimize.solve_many(m, scenarios, backend="ray", workers=2))
    finally:
        parallel.shutdown_default_pools()
    np.testing.assert_allclose([r.objective for r in results], one_by_one(demands, costs))


def test_what_crosses_to_a_worker_comes_back_bit_for_bit() -> None:
    # Results pickle their values sparsely and scenarios their index runs as (first, count):
    # a smaller message, the same numbers (-0.0 and NaN included).
    import pickle

    from parlearn.optimize._scenarios import _changes

    m, x, _, demand, _ = transport()
    for values in (
        np.array([0.0, -0.0, np.nan, 2.5] + [0.0] * 60),  # sparse on the wire
        np.arange(64.0) - 0.5,  # dense
    ):
        result = optimize.Result(
            status=Status.OPTIMAL, objective=1.0, values=values, duals=np.ones(3), scenario=4
        )
        back = pickle.loads(pickle.dumps(result))
        assert back.values is not None and back.duals is not None
        np.testing.assert_array_equal(back.values.view(np.uint64), values.view(np.uint64))
        np.testing.assert_array_equal(back.duals, result.duals)
        assert (back.status, back.objective, back.scenario) == (Status.OPTIMAL, 1.0, 4)
    arrays = m.arrays()
    for scenario in (
        Scenario(cost={x: 2.0}, rhs={demand: 20}),  # whole arrays: runs
        Scenario(cost={x[:, ::2]: 2.0}, upper={x[1, 4]: 3.0}),  # gaps and a single column
        Scenario(),
    ):
        changes = _changes(scenario, m, arrays)
        back = pickle.loads(pickle.dumps(changes))
        for name in ("cost", "columns", "rows"):
            for sent, got in zip(getattr(changes, name), getattr(back, name), strict=True):
                np.testing.assert_array_equal(sent, got)
                assert sent.dtype == got.dtype
