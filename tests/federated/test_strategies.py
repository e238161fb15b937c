"""Strategies: the aggregation maths against values computed by hand, the orchestration shared
by every strategy (sampling, failures, metrics), and one contract run over every strategy."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from parlearn.federated import ClientFailure, EvaluateResult, FitResult, Parameters
from parlearn.federated.strategy import (
    STRATEGY_NAMES,
    FedAdagrad,
    FedAdam,
    FedAvg,
    FedAvgM,
    FedOpt,
    FedProx,
    FedYogi,
    Strategy,
    make_strategy,
)
from parlearn.federated.strategy.aggregate import (
    RunningWeightedMean,
    fedadagrad_step,
    fedadam_step,
    fedavgm_initial_state,
    fedavgm_step,
    fedopt_initial_state,
    fedyogi_step,
    weighted_average,
    weighted_metrics,
)


def arrays(*values: Any, dtype: Any = np.float64) -> Parameters:
    return [np.array(v, dtype=dtype) for v in values]


def assert_params_close(got: Parameters, want: Parameters, rtol: float = 1e-12) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=rtol, atol=1e-15)


# ---------------------------------------------------------------------------- weighted means


def test_weighted_average_by_hand() -> None:
    # (1*[1, 2] + 3*[3, 4]) / 4 = [10, 14] / 4
    got = weighted_average([arrays([1.0, 2.0]), arrays([3.0, 4.0])], [1, 3])
    assert_params_close(got, arrays([2.5, 3.5]))


def test_weighted_average_three_clients_two_layers() -> None:
    clients = [
        arrays([0.0], [[1.0, 1.0]]),
        arrays([3.0], [[2.0, 0.0]]),
        arrays([6.0], [[4.0, -1.0]]),
    ]
    # layer 0: (0 + 3 + 2*6) / 4 = 3.75; layer 1: ([1, 1] + [2, 0] + 2*[4, -1]) / 4 = [2.75, -0.25]
    got = weighted_average(clients, [1, 1, 2])
    assert_params_close(got, arrays([3.75], [[2.75, -0.25]]))


def test_weighted_average_keeps_float32_and_rejects_bad_weights() -> None:
    got = weighted_average([arrays([1.0], dtype=np.float32)] * 2, [1, 1])
    assert got[0].dtype == np.float32
    with pytest.raises(ValueError, match="one weight per client update"):
        weighted_average([arrays([1.0])], [1, 2])
    with pytest.raises(ValueError, match="sum to 0"):
        weighted_average([arrays([1.0])], [0])


def test_streaming_fit_aggregator_equals_weighted_average() -> None:
    rng = np.random.default_rng(0)
    updates = [
        arrays(rng.normal(size=3).tolist(), rng.normal(size=(2, 2)).tolist()) for _ in range(7)
    ]
    weights = [int(w) for w in rng.integers(1, 50, size=7)]
    strategy = FedAvg()
    current = [np.zeros_like(p) for p in updates[0]]
    aggregator = strategy.fit_aggregator(1, current)
    for cid, (params, n) in enumerate(zip(updates, weights, strict=True)):
        aggregator.add(FitResult(cid=cid, parameters=params, num_examples=n))
    assert aggregator.count == 7
    new, _ = aggregator.finish([])
    assert new is not None
    assert_params_close(new, weighted_average(updates, weights))


def test_a_zero_dimensional_layer_is_averaged_over_every_client() -> None:
    # NumPy returns a 0-d product as a scalar; the running sum must still take every client.
    mean = weighted_average([arrays(1.0, [1.0]), arrays(3.0, [3.0])], [1, 1])
    assert_params_close(mean, arrays(2.0, [2.0]))


def test_running_mean_rejects_mismatched_updates_naming_shapes() -> None:
    mean = RunningWeightedMean()
    mean.add(arrays([1.0, 2.0]), 1)
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)"):
        mean.add(arrays([1.0, 2.0, 3.0]), 1)
    with pytest.raises(ValueError, match="2 arrays"):
        mean.add(arrays([1.0, 2.0], [3.0]), 1)


# ---------------------------------------------------------------------------- server optimisers


def test_fedavgm_two_rounds_by_hand() -> None:
    strategy = FedAvgM(server_learning_rate=0.5, server_momentum=0.9)
    # round 1: d = x - a = [1, -1]; u = [1, -1]; x = [1, 2] - 0.5*u = [0.5, 2.5]
    x1 = strategy.aggregate(1, arrays([1.0, 2.0]), arrays([0.0, 3.0]))
    assert_params_close(x1, arrays([0.5, 2.5]))
    # round 2: d = [0.5, 2.5] - [0.5, 1.5] = [0, 1]; u = 0.9*[1, -1] + [0, 1] = [0.9, 0.1]
    #          x = [0.5 - 0.45, 2.5 - 0.05]
    x2 = strategy.aggregate(2, x1, arrays([0.5, 1.5]))
    assert_params_close(x2, arrays([0.05, 2.45]))
    assert strategy.momentum_ is not None
    assert_params_close(strategy.momentum_, arrays([0.9, 0.1]))


def test_fedadam_two_rounds_by_hand() -> None:
    # eta=1, beta1=beta2=0.5, tau=1, so v starts at tau^2 = 1 and the square roots are exact.
    strategy = FedAdam(eta=1.0, beta_1=0.5, beta_2=0.5, tau=1.0)
    # round 1: d = [1, -1]; m = 0.5*d = [0.5, -0.5]; v = 0.5*1 + 0.5*1 = [1, 1]
    #          x = 0 + m / (1 + 1) = [0.25, -0.25]
    x1 = strategy.aggregate(1, arrays([0.0, 0.0]), arrays([1.0, -1.0]))
    assert_params_close(x1, arrays([0.25, -0.25]))
    # round 2: d = [7, -1]; m = 0.5*[0.5, -0.5] + 0.5*[7, -1] = [3.75, -0.75]
    #          v = 0.5*[1, 1] + 0.5*[49, 1] = [25, 1]; x = x1 + [3.75/6, -0.75/2]
    x2 = strategy.aggregate(2, x1, arrays([0.25 + 7.0, -0.25 - 1.0]))
    assert_params_close(x2, arrays([0.875, -0.625]))
    assert strategy.m_ is not None and strategy.v_ is not None
    assert_params_close(strategy.m_, arrays([3.75, -0.75]))
    assert_params_close(strategy.v_, arrays([25.0, 1.0]))


def test_fedyogi_two_rounds_by_hand_both_signs() -> None:
    strategy = FedYogi(eta=1.0, beta_1=0.5, beta_2=0.5, tau=1.0)
    # round 1, v0 = 1: coordinate A d = 4: v - d^2 < 0 so v = 1 + 0.5*16 = 9, m = 2,
    #                  x = 2 / (3 + 1) = 0.5;  coordinate B d = 0: v = 1, m = 0, x = 0
    x1 = strategy.aggregate(1, arrays([0.0, 0.0]), arrays([4.0, 0.0]))
    assert_params_close(x1, arrays([0.5, 0.0]))
    # round 2: A d = 1: v - d^2 > 0 so v = 9 - 0.5*1 = 8.5, m = 0.5*2 + 0.5*1 = 1.5
    #          B d = -2: v - d^2 < 0 so v = 1 + 0.5*4 = 3, m = -1
    x2 = strategy.aggregate(2, x1, arrays([1.5, -2.0]))
    want = [0.5 + 1.5 / (math.sqrt(8.5) + 1.0), -1.0 / (math.sqrt(3.0) + 1.0)]
    assert_params_close(x2, arrays(want))
    assert strategy.v_ is not None
    assert_params_close(strategy.v_, arrays([8.5, 3.0]))


def test_fedyogi_leaves_v_alone_when_it_equals_d_squared() -> None:
    # v0 = tau^2 = 1 and d = 1: sign(v - d^2) = 0, so v stays 1 (FedAdam would also give 1 here)
    _, _, v = fedyogi_step(
        arrays([0.0]),
        arrays([1.0]),
        arrays([0.0]),
        arrays([1.0]),
        eta=1,
        beta1=0.5,
        beta2=0.5,
        tau=1,
    )
    assert_params_close(v, arrays([1.0]))


def test_fedadagrad_two_rounds_by_hand() -> None:
    strategy = FedAdagrad(eta=1.0, beta_1=0.5, tau=1.0)
    # round 1, v0 = 1: d = [3, 0]; m = [1.5, 0]; v = [10, 1]; x = [1.5/(sqrt(10) + 1), 0]
    x1 = strategy.aggregate(1, arrays([0.0, 0.0]), arrays([3.0, 0.0]))
    a = 1.5 / (math.sqrt(10.0) + 1.0)
    assert_params_close(x1, arrays([a, 0.0]))
    # round 2: d = [1, -2]; m = 0.5*[1.5, 0] + 0.5*[1, -2] = [1.25, -1]; v = [11, 5]
    x2 = strategy.aggregate(2, x1, arrays([a + 1.0, -2.0]))
    want = [a + 1.25 / (math.sqrt(11.0) + 1.0), -1.0 / (math.sqrt(5.0) + 1.0)]
    assert_params_close(x2, arrays(want))
    assert strategy.v_ is not None
    assert_params_close(strategy.v_, arrays([11.0, 5.0]))


def test_fedadagrad_default_has_no_momentum_like_flower() -> None:
    strategy = FedAdagrad(tau=1.0)
    assert strategy.beta_1 == 0.0
    strategy.aggregate(1, arrays([0.0]), arrays([2.0]))
    assert strategy.m_ is not None
    assert_params_close(strategy.m_, arrays([2.0]))  # m = d when beta_1 = 0


def test_fedopt_initial_state_follows_the_paper() -> None:
    m, v = fedopt_initial_state(arrays([1.0, 2.0], [[3.0]]), tau=1e-3)
    assert_params_close(m, arrays([0.0, 0.0], [[0.0]]))
    assert_params_close(v, arrays([1e-6, 1e-6], [[1e-6]]))
    assert all(p.dtype == np.float64 for p in [*m, *v])


StepFn = Callable[[Parameters, Parameters], tuple[Parameters, ...]]

PURE_STEPS: dict[str, StepFn] = {
    "fedavgm": lambda x, a: fedavgm_step(
        x, a, fedavgm_initial_state(x), server_learning_rate=0.5, server_momentum=0.9
    ),
    "fedadam": lambda x, a: fedadam_step(
        x, a, *fedopt_initial_state(x, tau=0.1), eta=0.1, beta1=0.9, beta2=0.99, tau=0.1
    ),
    "fedyogi": lambda x, a: fedyogi_step(
        x, a, *fedopt_initial_state(x, tau=0.1), eta=0.1, beta1=0.9, beta2=0.99, tau=0.1
    ),
    "fedadagrad": lambda x, a: fedadagrad_step(
        x, a, *fedopt_initial_state(x, tau=0.1), eta=0.1, beta1=0.9, tau=0.1
    ),
}


@pytest.mark.parametrize("name", list(PURE_STEPS))
def test_pure_steps_leave_their_inputs_alone(name: str) -> None:
    current, average = arrays([1.0, 2.0], [[3.0]]), arrays([2.0, 0.0], [[1.0]])
    before = [p.copy() for p in [*current, *average]]
    PURE_STEPS[name](current, average)
    for was, now in zip(before, [*current, *average], strict=True):
        np.testing.assert_array_equal(was, now)


@pytest.mark.parametrize("name", list(PURE_STEPS))
def test_pure_steps_reject_wrong_shapes_naming_them(name: str) -> None:
    with pytest.raises(ValueError, match=r"shape \(3,\).*shape \(2,\)"):
        PURE_STEPS[name](arrays([1.0, 2.0]), arrays([1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match="2 arrays"):
        PURE_STEPS[name](arrays([1.0]), arrays([1.0], [2.0]))


# ---------------------------------------------------------------------------- FedProx


def test_fedprox_puts_proximal_mu_in_every_fit_config() -> None:
    strategy = FedProx(proximal_mu=0.1, on_fit_config_fn=lambda rnd: {"epochs": 2, "round": rnd})
    instructions = strategy.configure_fit(3, 5, np.random.default_rng(0))
    assert len(instructions) == 5
    for _, config in instructions:
        assert config == {"epochs": 2, "round": 3, "proximal_mu": 0.1}
    # every client gets its own dict: a client that edits its config changes no other
    instructions[0][1]["epochs"] = 99
    assert instructions[1][1]["epochs"] == 2


def test_fedprox_value_wins_over_the_users_config() -> None:
    strategy = FedProx(proximal_mu=1.0, on_fit_config_fn=lambda rnd: {"proximal_mu": 0.0})
    assert strategy.fit_config(1)["proximal_mu"] == 1.0


def test_fedprox_aggregates_like_fedavg() -> None:
    current = arrays([0.0, 0.0])
    average = arrays([2.5, 3.5])
    assert_params_close(FedProx(proximal_mu=1.0).aggregate(1, current, average), average)


def test_fedavg_sends_no_proximal_mu() -> None:
    assert "proximal_mu" not in FedAvg().fit_config(1)


# ---------------------------------------------------------------------------- orchestration


def test_sampling_fraction_and_minimum() -> None:
    strategy = FedAvg(fraction_fit=0.3, min_fit_clients=2)
    assert strategy.num_fit_clients(10) == 3
    assert strategy.num_fit_clients(100) == 30
    assert strategy.num_fit_clients(4) == 2  # floor(1.2) = 1 < min_fit_clients
    assert strategy.num_fit_clients(1) == 1  # never more than are available


def test_sampling_is_sorted_distinct_and_seeded() -> None:
    strategy = FedAvg(fraction_fit=0.1, min_fit_clients=2)
    first = [cid for cid, _ in strategy.configure_fit(1, 1000, np.random.default_rng(42))]
    again = [cid for cid, _ in strategy.configure_fit(1, 1000, np.random.default_rng(42))]
    other = [cid for cid, _ in strategy.configure_fit(1, 1000, np.random.default_rng(43))]
    assert len(first) == 100
    assert first == sorted(set(first))
    assert all(0 <= cid < 1000 for cid in first)
    assert first == again
    assert first != other


def test_sampling_everyone_when_the_sample_covers_all() -> None:
    strategy = FedAvg(fraction_fit=1.0)
    chosen = [cid for cid, _ in strategy.configure_fit(1, 6, np.random.default_rng(0))]
    assert chosen == list(range(6))


def test_evaluate_sampling_can_be_switched_off() -> None:
    assert FedAvg(fraction_evaluate=0.0).configure_evaluate(1, 10, np.random.default_rng(0)) == []


def test_min_available_clients_error_names_values_and_fix() -> None:
    strategy = FedAvg(min_available_clients=5)
    strategy.check_available(5)
    with pytest.raises(ValueError, match=r"min_available_clients=5.*but 3 are available.*lower"):
        strategy.check_available(3)


def _aggregator_with(strategy: Strategy, *results: FitResult) -> Any:
    aggregator = strategy.fit_aggregator(1, arrays([0.0, 0.0]))
    for result in results:
        aggregator.add(result)
    return aggregator


def test_accept_failures_false_skips_the_round() -> None:
    result = FitResult(cid=0, parameters=arrays([1.0, 1.0]), num_examples=10)
    failure = ClientFailure(cid=1, reason="dropped out")
    strict = _aggregator_with(FedAvg(accept_failures=False), result)
    new, metrics = strict.finish([failure])
    assert new is None
    assert "accept_failures=False" in str(metrics["skipped"])
    # the same round with failures accepted aggregates the clients that answered
    lenient = _aggregator_with(FedAvg(accept_failures=True), result)
    new, _ = lenient.finish([failure])
    assert new is not None
    assert_params_close(new, arrays([1.0, 1.0]))


def test_no_results_keeps_the_current_model() -> None:
    new, metrics = FedAvg().fit_aggregator(1, arrays([0.0])).finish([])
    assert new is None and metrics == {}


def test_fit_metrics_weighted_by_examples() -> None:
    aggregator = _aggregator_with(
        FedAvg(),
        FitResult(0, arrays([0.0, 0.0]), 1, {"accuracy": 0.5, "loss": 2.0, "note": "x"}),
        FitResult(1, arrays([0.0, 0.0]), 3, {"accuracy": 1.0}),
    )
    _, metrics = aggregator.finish([])
    # accuracy (1*0.5 + 3*1.0) / 4; loss only from the client that reported it; text dropped
    assert metrics == {"accuracy": pytest.approx(0.875), "loss": pytest.approx(2.0)}


def test_weighted_metrics_by_hand() -> None:
    got = weighted_metrics([(2, {"acc": 0.0, "flag": True}), (6, {"acc": 1.0})])
    assert got == {"acc": pytest.approx(0.75)}


def test_evaluate_loss_and_metrics_weighted_by_examples() -> None:
    results = [
        EvaluateResult(cid=0, loss=1.0, num_examples=1, metrics={"accuracy": 0.2}),
        EvaluateResult(cid=1, loss=3.0, num_examples=3, metrics={"accuracy": 0.6}),
    ]
    loss, metrics = FedAvg().aggregate_evaluate(1, results, [])
    assert loss == pytest.approx(2.5)  # (1 + 9) / 4
    assert metrics == {"accuracy": pytest.approx(0.5)}  # (0.2 + 1.8) / 4
    skipped = FedAvg(accept_failures=False).aggregate_evaluate(1, results, [ClientFailure(2, "x")])
    assert skipped == (None, {})


def test_centralized_evaluation_is_called_with_round_and_parameters() -> None:
    seen: list[tuple[int, float]] = []

    def evaluate_fn(rnd: int, params: Parameters) -> tuple[float, dict[str, Any]]:
        seen.append((rnd, float(params[0][0])))
        return 0.5, {"accuracy": 0.9}

    assert FedAvg().evaluate(1, arrays([1.0])) is None
    assert FedAvg(evaluate_fn=evaluate_fn).evaluate(4, arrays([7.0])) == (0.5, {"accuracy": 0.9})
    assert seen == [(4, 7.0)]


# ---------------------------------------------------------------------------- bad input


def test_wrong_shapes_raise_naming_shapes() -> None:
    with pytest.raises(
        ValueError, match=r"shape \(3,\) at array 0 where the global model has shape \(2,\)"
    ):
        FedAvg().aggregate(1, arrays([0.0, 0.0]), arrays([1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match="2 arrays but the global model has 1"):
        FedAvg().aggregate(1, arrays([0.0]), arrays([1.0], [2.0]))


def test_non_finite_average_is_an_error_not_a_model() -> None:
    with pytest.raises(ValueError, match=r"NaN or inf in array 1.*failure"):
        FedAdam().aggregate(1, arrays([0.0], [0.0]), arrays([1.0], [math.nan]))


@pytest.mark.parametrize("strategy_cls", [FedAvgM, FedAdam, FedYogi, FedAdagrad])
def test_stateful_strategy_refuses_a_shape_change_mid_run(strategy_cls: type[Strategy]) -> None:
    strategy = strategy_cls()
    strategy.aggregate(1, arrays([0.0, 0.0]), arrays([1.0, 1.0]))
    with pytest.raises(ValueError, match=r"shape \(3,\).*shape \(2,\).*reset\(\)"):
        strategy.aggregate(2, arrays([0.0, 0.0, 0.0]), arrays([1.0, 1.0, 1.0]))
    assert isinstance(strategy, (FedAvgM, FedOpt))
    strategy.reset()
    new = strategy.aggregate(2, arrays([0.0, 0.0, 0.0]), arrays([1.0, 1.0, 1.0]))
    assert [p.shape for p in new] == [(3,)]


@pytest.mark.parametrize("name", ["fedavgm", "fedadam", "fedyogi", "fedadagrad"])
def test_a_new_run_starts_from_fresh_state(name: str) -> None:
    kwargs: dict[str, Any] = {"server_momentum": 0.9} if name == "fedavgm" else {}
    reused = make_strategy(name, **kwargs)
    reused.aggregate(1, arrays([0.0, 0.0]), arrays([1.0, -1.0]))
    reused.aggregate(2, arrays([1.0, 1.0]), arrays([3.0, -2.0]))
    # round 1 again: a new run, so no momentum from the old one
    again = reused.aggregate(1, arrays([0.0, 0.0]), arrays([2.0, 2.0]))
    fresh = make_strategy(name, **kwargs).aggregate(1, arrays([0.0, 0.0]), arrays([2.0, 2.0]))
    assert_params_close(again, fresh)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda: FedProx(proximal_mu=-1.0),
            r"proximal_mu must be .*>= 0, got -1.0; pass proximal_mu=0",
        ),
        (lambda: FedProx(proximal_mu=math.nan), r"proximal_mu .* got nan"),
        (lambda: FedAvgM(server_learning_rate=0.0), r"server_learning_rate .* > 0, got 0.0"),
        (lambda: FedAvgM(server_momentum=1.0), r"server_momentum must be in \[0, 1\), got 1.0"),
        (lambda: FedAdam(eta=-0.1), r"eta must be .* > 0, got -0.1"),
        (lambda: FedYogi(eta_l=0.0), r"eta_l must be .* > 0, got 0.0"),
        (lambda: FedAdam(beta_1=1.0), r"beta_1 must be in \[0, 1\), got 1.0"),
        (lambda: FedYogi(beta_2=-0.5), r"beta_2 must be in \[0, 1\), got -0.5"),
        (lambda: FedAdagrad(tau=0.0), r"tau must be .* > 0, got 0.0.*default is 1e-9"),
        (lambda: FedAvg(fraction_fit=1.5), r"fraction_fit must be in \[0, 1\], got 1.5"),
    ],
)
def test_constructor_errors_name_value_and_fix(build: Callable[[], Strategy], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()


def test_flower_defaults() -> None:
    for strategy in (FedAdam(), FedYogi()):
        assert (strategy.eta, strategy.eta_l, strategy.beta_1, strategy.beta_2, strategy.tau) == (
            0.1,
            0.1,
            0.9,
            0.99,
            1e-9,
        )
    adagrad = FedAdagrad()
    assert (adagrad.eta, adagrad.eta_l, adagrad.tau) == (0.1, 0.1, 1e-9)
    momentum = FedAvgM()
    assert (momentum.server_learning_rate, momentum.server_momentum) == (1.0, 0.0)


# ---------------------------------------------------------------------------- make_strategy


def test_make_strategy_builds_each_by_name() -> None:
    expected = {
        "fedavg": FedAvg,
        "fedprox": FedProx,
        "fedavgm": FedAvgM,
        "fedadam": FedAdam,
        "fedyogi": FedYogi,
        "fedadagrad": FedAdagrad,
    }
    assert set(STRATEGY_NAMES) == set(expected)
    for name, cls in expected.items():
        kwargs = {"proximal_mu": 0.1} if name == "fedprox" else {}
        assert type(make_strategy(name, **kwargs)) is cls
    built = make_strategy("FedAdam", eta=0.5, fraction_fit=0.2)
    assert isinstance(built, FedAdam) and built.eta == 0.5 and built.fraction_fit == 0.2


def test_make_strategy_unknown_name_lists_choices() -> None:
    with pytest.raises(
        ValueError, match="unknown strategy 'fedsgd'; choose one of: fedavg, fedprox"
    ):
        make_strategy("fedsgd")


# ---------------------------------------------------------------------------- the contract


CONTRACT_KWARGS: dict[str, dict[str, Any]] = {
    "fedavg": {},
    "fedprox": {"proximal_mu": 0.1},
    "fedavgm": {"server_learning_rate": 1.0, "server_momentum": 0.9},
    "fedadam": {},
    "fedyogi": {},
    "fedadagrad": {},
}
# Strategies whose server state carries a step into rounds where the clients did not move.
HAS_MOMENTUM = {"fedavgm", "fedadam", "fedyogi"}


@pytest.fixture(params=STRATEGY_NAMES)
def strategy_name(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


def _model(dtype: Any) -> Parameters:
    return [np.array([[0.5, -1.0], [2.0, 0.0]], dtype=dtype), np.array([0.25, -0.5], dtype=dtype)]


def _run_round(
    strategy: Strategy, rnd: int, current: Parameters, updates: list[Parameters]
) -> Parameters:
    aggregator = strategy.fit_aggregator(rnd, current)
    for cid, params in enumerate(updates):
        aggregator.add(FitResult(cid=cid, parameters=params, num_examples=10 + cid))
    new, _ = aggregator.finish([])
    assert new is not None
    return new


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_contract_identical_updates_give_finite_same_shapes_same_dtypes(
    strategy_name: str, dtype: Any
) -> None:
    strategy = make_strategy(strategy_name, **CONTRACT_KWARGS[strategy_name])
    current = _model(dtype)
    update = [p + 1 for p in current]
    for rnd in (1, 2, 3):
        new = _run_round(strategy, rnd, current, [update, update, update])
        assert [p.shape for p in new] == [p.shape for p in current]
        assert [p.dtype for p in new] == [np.dtype(dtype)] * len(current)
        assert all(np.all(np.isfinite(p)) for p in new)
        current = new


@pytest.mark.parametrize("name", ["fedavg", "fedprox"])
def test_contract_averaging_strategies_return_the_identical_update(name: str) -> None:
    """Only the averaging strategies land on the clients' update; the server optimisers step
    towards it (next test)."""
    strategy = make_strategy(name, **CONTRACT_KWARGS[name])
    update = [p + 1 for p in _model(np.float64)]
    assert_params_close(_run_round(strategy, 1, _model(np.float64), [update, update]), update)


def test_contract_server_optimisers_move_towards_the_clients(strategy_name: str) -> None:
    strategy = make_strategy(strategy_name, **CONTRACT_KWARGS[strategy_name])
    current = _model(np.float64)
    update = [p + 1 for p in current]
    new = _run_round(strategy, 1, current, [update])
    for x, x_new in zip(current, new, strict=True):
        assert np.all(x_new > x)  # every coordinate moved up, as the clients did


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_contract_single_client_at_current_params_stays_put_in_round_1(
    strategy_name: str, dtype: Any
) -> None:
    strategy = make_strategy(strategy_name, **CONTRACT_KWARGS[strategy_name])
    current = _model(dtype)
    new = _run_round(strategy, 1, current, [[p.copy() for p in current]])
    for x, x_new in zip(current, new, strict=True):
        np.testing.assert_array_equal(x_new, x)


def test_contract_zero_pseudo_gradient_after_history(strategy_name: str) -> None:
    """With a zero pseudo-gradient FedAvg, FedProx and FedAdagrad (beta_1 = 0) stay put; the
    momentum methods keep moving on their momentum, as they should."""
    strategy = make_strategy(strategy_name, **CONTRACT_KWARGS[strategy_name])
    current = _run_round(strategy, 1, _model(np.float64), [[p + 1 for p in _model(np.float64)]])
    new = _run_round(strategy, 2, current, [[p.copy() for p in current]])
    moved = any(not np.array_equal(x, x_new) for x, x_new in zip(current, new, strict=True))
    assert moved == (strategy_name in HAS_MOMENTUM)
