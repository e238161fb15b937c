"""Aggregation maths as pure functions over NumPy arrays.

Nothing here knows about clients, rounds or transport: the strategies in this package call
these functions, and the tests check them against values computed by hand.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from parlearn.federated._types import Metrics, Parameters

__all__ = ["RunningWeightedMean", "weighted_average", "weighted_metrics"]


def weighted_average(parameters: Sequence[Parameters], weights: Sequence[float]) -> Parameters:
    """sum_k w_k * p_k / sum_k w_k, layer by layer (FedAvg's rule, McMahan et al. 2017)."""
    if len(parameters) != len(weights) or not parameters:
        raise ValueError(
            f"need one weight per client update and at least one update, got "
            f"{len(parameters)} updates and {len(weights)} weights"
        )
    mean = RunningWeightedMean()
    for params, weight in zip(parameters, weights, strict=True):
        mean.add(params, weight)
    return mean.result()


class RunningWeightedMean:
    """A weighted mean of parameter lists, one update at a time, in O(model) memory.

    Sums are kept in float64 whatever the parameters' dtype, so the order of thousands of small
    updates changes the result no more than float64 rounding does.
    """

    def __init__(self) -> None:
        self._sum: list[np.ndarray] | None = None
        self._dtypes: list[np.dtype] = []
        self._weight = 0.0

    def add(self, parameters: Parameters, weight: float) -> None:
        if weight < 0:
            raise ValueError(f"weights must be >= 0, got {weight!r}")
        if self._sum is None:
            self._sum = [np.asarray(p, dtype=np.float64) * weight for p in parameters]
            self._dtypes = [np.asarray(p).dtype for p in parameters]
        else:
            if len(parameters) != len(self._sum):
                raise ValueError(
                    f"an update has {len(parameters)} arrays, the others {len(self._sum)}"
                )
            for acc, p in zip(self._sum, parameters, strict=True):
                if np.shape(p) != acc.shape:
                    raise ValueError(
                        f"an update has an array of shape {np.shape(p)} where the others have "
                        f"{acc.shape}"
                    )
                acc += np.asarray(p, dtype=np.float64) * weight
        self._weight += weight

    @property
    def total_weight(self) -> float:
        return self._weight

    def result(self) -> Parameters:
        if self._sum is None:
            raise ValueError("no updates were added")
        if self._weight <= 0:
            raise ValueError("the weights of the updates sum to 0; cannot average")
        return [
            (acc / self._weight).astype(dtype if np.issubdtype(dtype, np.floating) else np.float64)
            for acc, dtype in zip(self._sum, self._dtypes, strict=True)
        ]


def weighted_metrics(metrics: Sequence[tuple[int, Metrics]]) -> Metrics:
    """Average each numeric metric over clients, weighted by their number of examples
    (a client without a metric does not count for it); non-numeric metrics are dropped."""
    sums: dict[str, float] = {}
    weights: dict[str, float] = {}
    for num_examples, values in metrics:
        for key, value in values.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            sums[key] = sums.get(key, 0.0) + float(value) * num_examples
            weights[key] = weights.get(key, 0.0) + num_examples
    return {key: sums[key] / weights[key] for key in sums if weights[key] > 0}
