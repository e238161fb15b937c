"""Aggregation maths as pure functions over NumPy arrays.

Nothing here knows about clients, rounds or transport: the strategies in this package call
these functions, and the tests check them against values computed by hand.

Server updates take the current global parameters ``x`` and the clients' weighted mean ``a``
and return the new ``x`` plus the optimiser state for the next round; they never modify their
inputs. State is kept in float64 whatever the model's dtype; the new parameters keep ``x``'s::

    FedAvgM  (Hsu et al. 2019, arXiv:1909.06335)      d = x - a;  u = momentum*u + d
                                                       x' = x - server_lr * u
    FedOpt   (Reddi et al. 2021, arXiv:2003.00295,     d = a - x;  m = b1*m + (1-b1)*d
              Algorithm 2)                             FedAdagrad  v = v + d^2
                                                       FedYogi     v = v - (1-b2)*d^2*sign(v - d^2)
                                                       FedAdam     v = b2*v + (1-b2)*d^2
                                                       x' = x + eta * m / (sqrt(v) + tau)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from parlearn.federated._types import Metrics, Parameters

__all__ = [
    "RunningWeightedMean",
    "cast_like",
    "check_client_average",
    "check_finite",
    "check_shapes",
    "fedadagrad_step",
    "fedadam_step",
    "fedavgm_initial_state",
    "fedavgm_step",
    "fedopt_initial_state",
    "fedyogi_step",
    "weighted_average",
    "weighted_metrics",
]


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
            # Arrays, 0-d ones too (NumPy gives a 0-d product as a scalar, which += rebinds).
            self._sum = [np.asarray(np.multiply(p, weight, dtype=np.float64)) for p in parameters]
            self._dtypes = [np.asarray(p).dtype for p in parameters]
        else:
            if len(parameters) != len(self._sum):
                raise ValueError(
                    f"an update has {len(parameters)} arrays, the others {len(self._sum)}"
                )
            for acc, p in zip(self._sum, parameters, strict=True):
                shape = _shape(p)
                if shape != acc.shape:
                    raise ValueError(
                        f"an update has an array of shape {shape} where the others have {acc.shape}"
                    )
                acc += np.multiply(p, weight, dtype=np.float64)
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
            (acc / self._weight).astype(dtype if dtype.kind == "f" else np.float64)
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


# ---------------------------------------------------------------------------- checks


def check_shapes(
    expected: Sequence[ArrayLike],
    actual: Sequence[ArrayLike],
    *,
    expected_name: str,
    actual_name: str,
    fix: str = "both must hold one array per model tensor, of the same shapes",
) -> None:
    """Raise ValueError, naming both shapes and ``fix``, unless ``actual`` has ``expected``'s
    array shapes."""
    if len(actual) != len(expected):
        raise ValueError(
            f"{actual_name} has {len(actual)} arrays but {expected_name} has {len(expected)}; {fix}"
        )
    for index, (want, got) in enumerate(zip(expected, actual, strict=True)):
        if _shape(got) != _shape(want):
            raise ValueError(
                f"{actual_name} has shape {np.shape(got)} at array {index} where "
                f"{expected_name} has shape {np.shape(want)} (all shapes: "
                f"{[np.shape(p) for p in actual]} vs {[np.shape(p) for p in expected]}); {fix}"
            )


def check_client_average(current: Parameters, average: Parameters) -> None:
    """The clients' weighted mean must have the global model's shapes and be finite: a
    wrong-shaped or NaN update is an error, never a silently corrupt model."""
    check_shapes(
        current,
        average,
        expected_name="the global model",
        actual_name="the clients' averaged update",
        fix="every client must return arrays of the global model's shapes",
    )
    check_finite(average, name="the clients' averaged update")


def check_finite(parameters: Sequence[ArrayLike], *, name: str) -> None:
    """Raise ValueError if any array holds NaN or inf: aggregating it would corrupt the model."""
    for index, array in enumerate(parameters):
        # A sum is finite when every entry is (unless it overflows: then look entry by entry).
        if not np.isfinite(np.sum(array)) and not np.all(np.isfinite(array)):
            raise ValueError(
                f"{name} has NaN or inf in array {index} (shape {np.shape(array)}); a client "
                "returned non-finite parameters: count such a client as a failure instead of "
                "aggregating its update"
            )


def cast_like(parameters: Sequence[ArrayLike], reference: Sequence[ArrayLike]) -> Parameters:
    """``parameters`` in ``reference``'s float dtypes (float64 where the reference is not float)."""
    return [
        np.asarray(p).astype(_float_dtype(ref), copy=False)
        for p, ref in zip(parameters, reference, strict=True)
    ]


# ---------------------------------------------------------------------------- server optimisers


def fedavgm_initial_state(current: Sequence[ArrayLike]) -> Parameters:
    """The momentum buffer before round 1: zeros, so round 1 applies the plain pseudo-gradient
    (Flower's ``FedAvgM`` starts the same way)."""
    return [np.zeros(np.shape(p), dtype=np.float64) for p in current]


def fedavgm_step(
    current: Parameters,
    average: Parameters,
    momentum_buffer: Parameters,
    *,
    server_learning_rate: float,
    server_momentum: float,
) -> tuple[Parameters, Parameters]:
    """One FedAvgM round (Hsu et al. 2019, Section 3): server SGD with momentum on the
    pseudo-gradient ``current - average``. Returns the new parameters and momentum buffer.

    With ``server_momentum=0`` and ``server_learning_rate=1`` this is FedAvg (to rounding)."""
    _check_step_inputs(current, average, {"momentum_buffer": momentum_buffer})
    new: Parameters = []
    buffer: Parameters = []
    for x, a, u in zip(current, average, momentum_buffer, strict=True):
        x64 = np.asarray(x, dtype=np.float64)
        u_next = server_momentum * np.asarray(u, dtype=np.float64) + (x64 - a)
        new.append((x64 - server_learning_rate * u_next).astype(_float_dtype(x)))
        buffer.append(u_next)
    return new, buffer


def fedopt_initial_state(
    current: Sequence[ArrayLike], *, tau: float
) -> tuple[Parameters, Parameters]:
    """``(m, v)`` before round 1: ``m = 0`` and ``v = tau**2``.

    Reddi et al. (Algorithm 2) ask for ``v_{-1} >= tau^2``; we take the paper's bound.
    Flower's FedAdam/FedYogi/FedAdagrad start from ``v = 0`` instead; with the default
    ``tau = 1e-9`` the two differ by 1e-18 in ``v`` and the updates agree to rounding.
    """
    m = [np.zeros(np.shape(p), dtype=np.float64) for p in current]
    v = [np.full(np.shape(p), tau * tau, dtype=np.float64) for p in current]
    return m, v


def fedadam_step(
    current: Parameters,
    average: Parameters,
    m: Parameters,
    v: Parameters,
    *,
    eta: float,
    beta1: float,
    beta2: float,
    tau: float,
) -> tuple[Parameters, Parameters, Parameters]:
    """One FedAdam round; returns ``(new, m, v)``. No bias correction, as in the paper
    (recent Flower versions scale ``eta`` by Adam's bias correction; we do not)."""

    def second_moment(v_prev: NDArray[np.float64], d2: NDArray[np.float64]) -> NDArray[np.float64]:
        return beta2 * v_prev + (1.0 - beta2) * d2

    return _fedopt_step(current, average, m, v, eta, beta1, tau, second_moment)


def fedyogi_step(
    current: Parameters,
    average: Parameters,
    m: Parameters,
    v: Parameters,
    *,
    eta: float,
    beta1: float,
    beta2: float,
    tau: float,
) -> tuple[Parameters, Parameters, Parameters]:
    """One FedYogi round; returns ``(new, m, v)``. ``v`` moves towards ``d^2`` by a step of
    ``(1 - beta2) * d^2`` whatever the distance, so it grows no faster than additively."""

    def second_moment(v_prev: NDArray[np.float64], d2: NDArray[np.float64]) -> NDArray[np.float64]:
        return v_prev - (1.0 - beta2) * d2 * np.sign(v_prev - d2)

    return _fedopt_step(current, average, m, v, eta, beta1, tau, second_moment)


def fedadagrad_step(
    current: Parameters,
    average: Parameters,
    m: Parameters,
    v: Parameters,
    *,
    eta: float,
    beta1: float,
    tau: float,
) -> tuple[Parameters, Parameters, Parameters]:
    """One FedAdagrad round; returns ``(new, m, v)``. ``v`` sums every squared pseudo-gradient."""

    def second_moment(v_prev: NDArray[np.float64], d2: NDArray[np.float64]) -> NDArray[np.float64]:
        return v_prev + d2

    return _fedopt_step(current, average, m, v, eta, beta1, tau, second_moment)


SecondMoment = Callable[[NDArray[np.float64], NDArray[np.float64]], NDArray[np.float64]]


def _fedopt_step(
    current: Parameters,
    average: Parameters,
    m: Parameters,
    v: Parameters,
    eta: float,
    beta1: float,
    tau: float,
    second_moment: SecondMoment,
) -> tuple[Parameters, Parameters, Parameters]:
    """Reddi et al. Algorithm 2, server part: the three methods differ only in ``v``'s update."""
    _check_step_inputs(current, average, {"m": m, "v": v})
    new: Parameters = []
    m_next: Parameters = []
    v_next: Parameters = []
    for x, a, m_prev, v_prev in zip(current, average, m, v, strict=True):
        x64 = np.asarray(x, dtype=np.float64)
        delta = np.asarray(a, dtype=np.float64) - x64
        m_t = beta1 * np.asarray(m_prev, dtype=np.float64) + (1.0 - beta1) * delta
        v_t = second_moment(np.asarray(v_prev, dtype=np.float64), delta * delta)
        new.append((x64 + eta * m_t / (np.sqrt(v_t) + tau)).astype(_float_dtype(x)))
        m_next.append(m_t)
        v_next.append(v_t)
    return new, m_next, v_next


def _check_step_inputs(
    current: Parameters, average: Parameters, state: dict[str, Parameters]
) -> None:
    check_shapes(
        current, average, expected_name="the current parameters", actual_name="the average"
    )
    for name, arrays in state.items():
        check_shapes(
            current, arrays, expected_name="the current parameters", actual_name=f"state {name}"
        )


def _shape(array: ArrayLike) -> tuple[int, ...]:
    return array.shape if isinstance(array, np.ndarray) else np.shape(array)


def _float_dtype(array: ArrayLike) -> np.dtype[np.floating]:
    dtype = np.asarray(array).dtype
    return dtype if dtype.kind == "f" else np.dtype(np.float64)
