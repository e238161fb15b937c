"""solve_many: many scenarios in parallel, in order, failures reported without losing the rest."""

from __future__ import annotations

import os

import numpy as np
import pytest

from parlearn import optimize, parallel
from parlearn.optimize import Model, ModelError, Scenario, Status


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
