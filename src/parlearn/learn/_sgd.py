"""Mini-batch SGD for linear models: the step rule and one replica's run of local steps.

Pure functions over arrays; ``_local_sgd`` runs many replicas in parallel and averages them.

A step on a batch of B rows moves by ``eta * mean gradient`` with

    eta = min(B * schedule(t), max_step)

``schedule`` is scikit-learn's per-sample learning rate (``"optimal"``: 1 / (alpha (t0 + t)),
``"invscaling"``: eta0 / (t + 1)^power_t, ``"constant"``: eta0) at t samples seen, so a batch
moves about as far as B single-sample steps would. ``max_step`` keeps a batch step stable:
1 / (c * lambda * (1 + sqrt(d / B))^2), with c the loss's largest curvature, lambda the largest
eigenvalue of the data's second-moment matrix (estimated on the first rows) and the last factor
the usual excess of a B-row sample's top eigenvalue over the population's (Marchenko-Pastur).
Without it, scikit-learn's early per-sample rates (about 10 for alpha = 1e-4) multiplied by B
throw the weights far off; with it, one epoch already reaches the accuracy plateau.

Sample weights multiply each row's gradient; a batch's step limit is divided by its mean
weight (when above 1), which multiplies the curvature by as much.

Regularisation: the L2 part shrinks the weights by ``1 - eta * alpha * (1 - l1_ratio)`` each
step; the L1 part is a proximal (soft-threshold) step of ``eta * alpha * l1_ratio``, which
gives exact zeros. Averaging replicas whose zeros differ gives small non-zeros, so the averaged
model takes the L1 step of the replicas' last step once more.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from parlearn.learn import _losses

__all__ = [
    "LOSS_CURVATURE",
    "ReplicaResult",
    "SGDSettings",
    "auto_batch_size",
    "largest_eigenvalue",
    "local_steps",
    "optimal_t0",
    "soft_threshold",
    "step_size",
]

Array = NDArray[Any]

# The largest second derivative of each loss (1 for the non-smooth ones: it only bounds steps).
LOSS_CURVATURE = {
    "log_loss": 0.25,
    "hinge": 1.0,
    "squared_hinge": 2.0,
    "modified_huber": 2.0,
    "squared_error": 1.0,
    "huber": 1.0,
    "epsilon_insensitive": 1.0,
}
# A batch of about this many numbers (rows x features) keeps NumPy's per-call overhead (a few
# microseconds per operation, a dozen operations per step) under a third of a step's time.
BATCH_NUMBERS = 65536


@dataclass(frozen=True)
class SGDSettings:
    loss: str
    loss_param: float
    alpha: float
    l1_ratio: float  # the L1 share of the penalty: 0 for "l2", 1 for "l1"
    learning_rate: str  # "optimal", "invscaling" or "constant"
    eta0: float
    power_t: float
    t0: float  # the offset of the "optimal" schedule
    max_step: float
    batch_size: int
    fit_intercept: bool


@dataclass(frozen=True)
class ReplicaResult:
    coef: NDArray[np.float64]
    intercept: NDArray[np.float64]
    loss_sum: float
    weight_sum: float
    rows: int
    last_step: float = 0.0  # eta of the last step (the averaged model's L1 step uses it)


def auto_batch_size(n_features: int) -> int:
    return int(min(4096, max(32, BATCH_NUMBERS // max(n_features, 1))))


def optimal_t0(loss: str, loss_param: float, alpha: float) -> float:
    """scikit-learn's offset for the "optimal" schedule (Bottou's heuristic): the first
    per-sample rate is ``typw / max(1, |loss'(-typw)|)`` with ``typw = alpha^-1/4``."""
    typical = math.sqrt(1.0 / math.sqrt(alpha))
    z, y = np.array([-typical]), np.array([1.0])
    slope = float(np.abs(_losses.pointwise(loss, z, y, loss_param)[1][0]))
    eta0 = typical / max(1.0, slope)
    return 1.0 / (eta0 * alpha)


def largest_eigenvalue(X: Array, fit_intercept: bool, iterations: int = 30) -> float:
    """The largest eigenvalue of ``X.T X / n`` (with a column of ones for the intercept), by
    power iteration."""
    A = np.asarray(X, dtype=np.float64)
    if fit_intercept:
        A = np.hstack([A, np.ones((len(A), 1))])
    if A.size == 0:
        return 1.0
    v = np.ones(A.shape[1]) / math.sqrt(A.shape[1])
    value = 0.0
    for _ in range(iterations):
        w = A.T @ (A @ v) / len(A)
        value = float(np.linalg.norm(w))
        if value == 0.0:
            return 1.0
        v = w / value
    return value


def step_size(settings: SGDSettings, t: float, rows: int) -> float:
    s = settings
    if s.learning_rate == "optimal":
        rate = 1.0 / (s.alpha * (s.t0 + t))
    elif s.learning_rate == "invscaling":
        rate = s.eta0 / (t + 1.0) ** s.power_t
    else:
        rate = s.eta0
    return min(rows * rate, s.max_step)


def local_steps(
    X: Array,
    Y: Array,
    weights: Array | None,
    order: NDArray[np.integer[Any]] | None,
    start: int,
    stop: int,
    coef: NDArray[np.float64],
    intercept: NDArray[np.float64],
    t: float,
    settings: SGDSettings,
) -> ReplicaResult:
    """Mini-batch SGD over rows ``order[start:stop]`` (or ``start:stop`` without an order) of
    ``X``/``Y``, from ``(coef, intercept)`` at ``t`` samples seen.

    Returns the new weights, the weighted loss of each batch before its step (the training
    loss estimate that stops the epochs) and the rows seen.
    """
    s = settings
    coef = np.array(coef, dtype=np.float64)
    intercept = np.array(intercept, dtype=np.float64)
    dtype = X.dtype
    shrink_l2 = s.alpha * (1.0 - s.l1_ratio)
    shrink_l1 = s.alpha * s.l1_ratio
    loss_sum = weight_sum = 0.0
    eta = 0.0
    for first in range(start, stop, s.batch_size):
        last = min(first + s.batch_size, stop)
        if order is None:
            rows: Any = slice(first, last)
        else:
            rows = np.sort(order[first:last])  # memory order: faster gathers, same mean
        Xb = X[rows]
        z = Xb @ coef.astype(dtype, copy=False)
        z += intercept.astype(dtype, copy=False)
        value, slope = _losses.pointwise(s.loss, z, Y[rows], s.loss_param)
        count = last - first
        if weights is None:
            loss_sum += float(value.sum())
            weight_sum += count
        else:
            w = weights[rows]
            loss_sum += float((value * (w if value.ndim == 1 else w[:, None])).sum())
            weight_sum += float(w.sum())
            slope *= w if slope.ndim == 1 else w[:, None]
        eta = step_size(s, t, count)
        if weights is not None:  # heavy weights raise the curvature by as much
            eta /= max(1.0, float(w.mean()))
        if shrink_l2 > 0:
            coef *= max(0.0, 1.0 - eta * shrink_l2)
        coef -= (eta / count) * (Xb.T @ slope)
        if shrink_l1 > 0:
            soft_threshold(coef, eta * shrink_l1)
        if s.fit_intercept:
            intercept -= (eta / count) * slope.sum(axis=0)
        t += count
    return ReplicaResult(coef, intercept, loss_sum, weight_sum, stop - start, eta)


def soft_threshold(coef: NDArray[np.float64], threshold: float) -> None:
    """The proximal step of ``threshold * |coef|_1``, in place: exact zeros."""
    np.copysign(np.maximum(np.abs(coef) - threshold, 0.0), coef, out=coef)
