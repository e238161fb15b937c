"""Pointwise losses of linear models, as pure functions of the raw predictions.

Every function takes raw predictions ``z`` (``X @ coef + intercept``) and targets, and returns
the loss of each sample and its derivative with respect to ``z``; the caller weights, sums and
multiplies by ``X.T``. Nothing here knows about blocks, workers or estimators.

Binary classification losses take labels ``y`` in {-1, +1} (one column per class for
one-vs-rest: ``z`` and ``y`` of shape (n, classes)); ``multinomial`` takes class indices.
Computations stay in the dtype of ``z`` (float32 data trains in float32).

Speed matters here: these run on every row at every iteration. NumPy's ``exp``, ``log`` and
division are vectorised (SIMD) while ``log1p`` and SciPy's ``expit`` are several times slower,
so the logistic loss is written with ``exp`` and ``log`` on ``exp(-|m|)``, which is stable and
loses at most one rounding error of 1 per sample (``log(1 + e)`` for tiny ``e``): far below
what any tolerance can see in a sum over samples.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "BINARY_LOSSES",
    "REGRESSION_LOSSES",
    "Loss",
    "curvature",
    "multinomial",
    "multinomial_hessian_product",
    "pointwise",
]

Array = NDArray[Any]
Loss = Literal[
    "log_loss",
    "hinge",
    "smooth_hinge",
    "squared_hinge",
    "modified_huber",
    "squared_error",
    "huber",
    "epsilon_insensitive",
]
# Losses of a margin m = y * z, for labels y in {-1, +1}.
BINARY_LOSSES: tuple[str, ...] = (
    "log_loss",
    "hinge",
    "smooth_hinge",
    "squared_hinge",
    "modified_huber",
)
# Losses of a residual r = z - y, for real targets.
REGRESSION_LOSSES: tuple[str, ...] = ("squared_error", "huber", "epsilon_insensitive")


def pointwise(loss: str, z: Array, y: Array, param: float = 0.0) -> tuple[Array, Array]:
    """``(loss of each sample, d loss / d z)`` for raw predictions ``z`` and targets ``y``.

    ``param`` is the loss's own constant: the smoothing width of ``smooth_hinge``, epsilon
    of ``huber`` and ``epsilon_insensitive``; ignored by the others.
    """
    if loss in BINARY_LOSSES:
        margin = z * y
        value, slope = _margin_loss(loss, margin, param)
        slope *= y
        return value, slope
    if loss in REGRESSION_LOSSES:
        return _residual_loss(loss, z - y, param)
    raise ValueError(
        f"unknown loss {loss!r}; choose one of {', '.join(BINARY_LOSSES + REGRESSION_LOSSES)}"
    )


def _margin_loss(loss: str, m: Array, param: float) -> tuple[Array, Array]:
    """Loss and derivative with respect to the margin ``m`` (the caller multiplies by y)."""
    one = m.dtype.type(1)
    if loss == "log_loss":
        # log(1 + exp(-m)) = max(-m, 0) + log(1 + exp(-|m|)); d/dm = -sigmoid(-m).
        e = np.abs(m)
        np.negative(e, out=e)
        np.exp(e, out=e)
        one_plus = e + one
        value = np.maximum(-m, 0)
        value += np.log(one_plus)
        slope = np.where(m >= 0, e, one)
        slope /= one_plus
        np.negative(slope, out=slope)
        return value, slope
    if loss == "squared_hinge":
        gap = np.maximum(one - m, 0)
        return gap * gap, -2 * gap
    if loss == "hinge":
        gap = one - m
        active = gap > 0
        return np.where(active, gap, 0), -active.astype(m.dtype)
    if loss == "smooth_hinge":
        # Nesterov's smoothing of the hinge with width mu: quadratic on (1 - mu, 1).
        mu = m.dtype.type(param)
        gap = one - m
        inner = np.clip(gap, 0, mu)
        value = np.where(gap >= mu, gap - mu / 2, inner * inner / (2 * mu))
        return value, -inner / mu
    if loss == "modified_huber":
        gap = np.maximum(one - m, 0)
        linear = m < -1
        value = np.where(linear, -4 * m, gap * gap)
        slope = np.where(linear, m.dtype.type(-4), -2 * gap)
        return value, slope
    raise ValueError(f"unknown classification loss {loss!r}")


def _residual_loss(loss: str, r: Array, param: float) -> tuple[Array, Array]:
    if loss == "squared_error":
        return 0.5 * r * r, r
    eps = r.dtype.type(param)
    if loss == "huber":
        clipped = np.clip(r, -eps, eps)
        return clipped * (r - 0.5 * clipped), clipped
    if loss == "epsilon_insensitive":
        excess = np.abs(r) - eps
        active = excess > 0
        return np.where(active, excess, 0), np.where(active, np.sign(r), 0).astype(r.dtype)
    raise ValueError(f"unknown regression loss {loss!r}")


def curvature(loss: str, z: Array, y: Array, param: float = 0.0) -> Array:
    """Second derivative of the loss with respect to ``z`` (the Gauss-Newton weight for the
    Hessian-vector products of Newton-CG). Defined for the smooth losses."""
    one = z.dtype.type(1)
    out: Array
    if loss == "log_loss":
        e = np.exp(-np.abs(z))
        out = e / ((one + e) * (one + e))  # p (1 - p), symmetric in z
        return out
    if loss == "squared_hinge":
        out = (2 * (z * y < one)).astype(z.dtype)
        return out
    if loss == "smooth_hinge":
        gap = one - z * y
        out = ((gap > 0) & (gap < param)).astype(z.dtype) / z.dtype.type(param)
        return out
    if loss == "squared_error":
        out = np.ones_like(z)
        return out
    raise ValueError(f"loss {loss!r} has no second derivative; use solver='lbfgs'")


def multinomial(z: Array, labels: NDArray[np.intp]) -> tuple[Array, Array]:
    """Cross-entropy of softmax(z) for class indices ``labels``: ``(loss (n,), d/dz (n, K))``."""
    shifted = z - z.max(axis=1, keepdims=True)
    proba = np.exp(shifted)
    norm = proba.sum(axis=1)
    rows = np.arange(len(labels))
    value = np.log(norm) - shifted[rows, labels]
    proba /= norm[:, None]
    slope = proba  # softmax - one-hot, in place
    slope[rows, labels] -= 1
    return value, slope


def multinomial_hessian_product(z: Array, zv: Array) -> Array:
    """Hessian of the cross-entropy with respect to ``z`` times ``zv`` (row by row):
    ``P * (zv - sum(P * zv))`` with ``P = softmax(z)``."""
    proba = np.exp(z - z.max(axis=1, keepdims=True))
    proba /= proba.sum(axis=1, keepdims=True)
    out: Array = proba * (zv - (proba * zv).sum(axis=1, keepdims=True))
    return out
