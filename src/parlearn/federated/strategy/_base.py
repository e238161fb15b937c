"""The strategy interface: which clients train each round, and how their updates combine.

A strategy implements :meth:`Strategy.aggregate` (the maths, which lives in ``aggregate.py``);
client sampling, configs, failure policy, metric aggregation and centralized evaluation are
written once here.

Results reach a strategy as a stream: :meth:`Strategy.fit_aggregator` returns an object that
takes one client result at a time (:meth:`FitAggregator.add`) and keeps only what the rule
needs -- for FedAvg and the server-optimizer family a running weighted sum, so memory is
O(model), not O(clients x model) -- then :meth:`FitAggregator.finish` applies the server
update.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence

import numpy as np

from parlearn.federated._types import (
    ClientFailure,
    Config,
    EvaluateResult,
    FitResult,
    Metrics,
    Parameters,
)
from parlearn.federated.strategy.aggregate import RunningWeightedMean, weighted_metrics

__all__ = ["FitAggregator", "Strategy"]

EvaluateFn = Callable[[int, Parameters], "tuple[float, Metrics] | None"]
ConfigFn = Callable[[int], Config]
MetricsAggregationFn = Callable[[Sequence[tuple[int, Metrics]]], Metrics]


class FitAggregator:
    """Folds fit results one at a time into a weighted mean of parameters (and keeps the
    per-client metrics, a few scalars each)."""

    def __init__(self, strategy: Strategy, server_round: int, current: Parameters) -> None:
        self._strategy = strategy
        self._round = server_round
        self._current = current
        self._mean = RunningWeightedMean()
        self._metrics: list[tuple[int, Metrics]] = []

    def add(self, result: FitResult) -> None:
        self._mean.add(result.parameters, result.num_examples)
        self._metrics.append((result.num_examples, result.metrics))

    @property
    def count(self) -> int:
        return len(self._metrics)

    def finish(self, failures: Sequence[ClientFailure]) -> tuple[Parameters | None, Metrics]:
        """The new global parameters (None: keep the current ones) and aggregated metrics."""
        s = self._strategy
        if failures and not s.accept_failures:
            return None, {"skipped": f"{len(failures)} failures and accept_failures=False"}
        if self.count == 0:
            return None, {}
        average = self._mean.result()
        new = s.aggregate(self._round, self._current, average)
        metrics = s.fit_metrics_aggregation_fn(self._metrics) if self._metrics else {}
        return new, metrics


class Strategy(ABC):
    """Federated optimisation on the server: sampling, aggregation, evaluation.

    Keyword arguments, shared by every strategy (the meanings Flower users know):

    - ``fraction_fit`` / ``fraction_evaluate``: share of available clients sampled per round;
    - ``min_fit_clients`` / ``min_evaluate_clients``: never fewer than this many per round;
    - ``min_available_clients``: refuse to start with fewer clients than this;
    - ``accept_failures``: aggregate the round even if some clients failed (else skip it);
    - ``evaluate_fn(round, parameters) -> (loss, metrics) | None``: centralized evaluation;
    - ``on_fit_config_fn(round)`` / ``on_evaluate_config_fn(round)``: per-round client configs;
    - ``fit_metrics_aggregation_fn`` / ``evaluate_metrics_aggregation_fn``: combine client
      metrics (default: average weighted by examples);
    - ``initial_parameters``: the starting global model (else the first client's).
    """

    def __init__(
        self,
        *,
        fraction_fit: float = 1.0,
        fraction_evaluate: float = 1.0,
        min_fit_clients: int = 2,
        min_evaluate_clients: int = 2,
        min_available_clients: int = 2,
        accept_failures: bool = True,
        evaluate_fn: EvaluateFn | None = None,
        on_fit_config_fn: ConfigFn | None = None,
        on_evaluate_config_fn: ConfigFn | None = None,
        fit_metrics_aggregation_fn: MetricsAggregationFn | None = None,
        evaluate_metrics_aggregation_fn: MetricsAggregationFn | None = None,
        initial_parameters: Parameters | None = None,
    ) -> None:
        for name, value in (
            ("fraction_fit", fraction_fit),
            ("fraction_evaluate", fraction_evaluate),
        ):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value!r}")
        for name, count in (
            ("min_fit_clients", min_fit_clients),
            ("min_evaluate_clients", min_evaluate_clients),
            ("min_available_clients", min_available_clients),
        ):
            if count < 0:
                raise ValueError(f"{name} must be >= 0, got {count!r}")
        self.fraction_fit = fraction_fit
        self.fraction_evaluate = fraction_evaluate
        self.min_fit_clients = min_fit_clients
        self.min_evaluate_clients = min_evaluate_clients
        self.min_available_clients = min_available_clients
        self.accept_failures = accept_failures
        self.evaluate_fn = evaluate_fn
        self.on_fit_config_fn = on_fit_config_fn
        self.on_evaluate_config_fn = on_evaluate_config_fn
        self.fit_metrics_aggregation_fn: MetricsAggregationFn = (
            fit_metrics_aggregation_fn or weighted_metrics
        )
        self.evaluate_metrics_aggregation_fn: MetricsAggregationFn = (
            evaluate_metrics_aggregation_fn or weighted_metrics
        )
        self.initial_parameters = initial_parameters

    # ------------------------------------------------------------------ the maths

    @abstractmethod
    def aggregate(self, server_round: int, current: Parameters, average: Parameters) -> Parameters:
        """The new global parameters from the current ones and the clients' weighted mean."""

    # ------------------------------------------------------------------ orchestration

    def initialize_parameters(self) -> Parameters | None:
        return self.initial_parameters

    def num_fit_clients(self, num_available: int) -> int:
        return _sample_size(num_available, self.fraction_fit, self.min_fit_clients)

    def num_evaluate_clients(self, num_available: int) -> int:
        return _sample_size(num_available, self.fraction_evaluate, self.min_evaluate_clients)

    def check_available(self, num_available: int) -> None:
        if num_available < self.min_available_clients:
            raise ValueError(
                f"{type(self).__name__} needs at least min_available_clients="
                f"{self.min_available_clients} clients, but {num_available} are available; "
                "add clients or lower min_available_clients"
            )

    def configure_fit(
        self, server_round: int, num_available: int, rng: np.random.Generator
    ) -> list[tuple[int, Config]]:
        """Client ids (sorted) to train this round, each with its config."""
        config = self.fit_config(server_round)
        chosen = _sample(num_available, self.num_fit_clients(num_available), rng)
        return [(cid, dict(config)) for cid in chosen]

    def configure_evaluate(
        self, server_round: int, num_available: int, rng: np.random.Generator
    ) -> list[tuple[int, Config]]:
        if self.fraction_evaluate == 0.0:
            return []
        config = self.on_evaluate_config_fn(server_round) if self.on_evaluate_config_fn else {}
        chosen = _sample(num_available, self.num_evaluate_clients(num_available), rng)
        return [(cid, dict(config)) for cid in chosen]

    def fit_config(self, server_round: int) -> Config:
        """The config every client gets for fit this round (strategies add their keys)."""
        return dict(self.on_fit_config_fn(server_round)) if self.on_fit_config_fn else {}

    def fit_aggregator(self, server_round: int, current: Parameters) -> FitAggregator:
        return FitAggregator(self, server_round, current)

    def aggregate_evaluate(
        self,
        server_round: int,
        results: Sequence[EvaluateResult],
        failures: Sequence[ClientFailure],
    ) -> tuple[float | None, Metrics]:
        if not results or (failures and not self.accept_failures):
            return None, {}
        total = sum(r.num_examples for r in results)
        loss = sum(r.loss * r.num_examples for r in results) / total if total > 0 else float("nan")
        metrics = self.evaluate_metrics_aggregation_fn(
            [(r.num_examples, r.metrics) for r in results]
        )
        return loss, metrics

    def evaluate(self, server_round: int, parameters: Parameters) -> tuple[float, Metrics] | None:
        """Centralized evaluation (``evaluate_fn``), or None."""
        if self.evaluate_fn is None:
            return None
        return self.evaluate_fn(server_round, parameters)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(fraction_fit={self.fraction_fit})"


def _sample_size(num_available: int, fraction: float, minimum: int) -> int:
    return min(num_available, max(math.floor(num_available * fraction), minimum))


def _sample(num_available: int, size: int, rng: np.random.Generator) -> list[int]:
    if size >= num_available:
        return list(range(num_available))
    chosen = rng.choice(num_available, size=size, replace=False)
    return sorted(chosen.tolist())
