"""What one block of rows contributes: loss and gradient sums, Hessian-vector products and
Gram matrices, computed tile by tile (see ``_blocks``) in the data's dtype.

Pure functions of arrays; the caller adds the blocks' results in block order. Shapes:
``X`` (n, d), ``coef`` (d,) for one output or (d, K) for K outputs, ``intercept`` () or (K,);
targets ``y`` (n,) or (n, K), or class indices (n,) for ``multinomial``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from parlearn.learn import _losses
from parlearn.learn._blocks import tiles

__all__ = [
    "LossSpec",
    "block_gram",
    "block_hessian_product",
    "block_loss_gradient",
    "block_loss_values",
]

Array = NDArray[Any]


@dataclass(frozen=True)
class LossSpec:
    """A loss (a name of ``_losses`` or ``"multinomial"``) and its constant."""

    name: str
    param: float = 0.0


def _scores(Xt: Array, coef: Array, intercept: Array) -> Array:
    z: Array = Xt @ coef
    z += intercept
    return z


def _weigh(values: Array, weights: Array | None) -> Array:
    if weights is None:
        return values
    values *= weights if values.ndim == 1 else weights[:, None]
    return values


def _pointwise(spec: LossSpec, z: Array, y: Array) -> tuple[Array, Array]:
    if spec.name == "multinomial":
        return _losses.multinomial(z, y)
    return _losses.pointwise(spec.name, z, y, spec.param)


def block_loss_gradient(
    X: Array,
    y: Array,
    weights: Array | None,
    rows: tuple[int, int],
    coef: Array,
    intercept: Array,
    spec: LossSpec,
) -> tuple[float, NDArray[np.float64], NDArray[np.float64]]:
    """``(sum of weighted losses, its gradient for coef, for intercept)`` over ``rows``."""
    coef = coef.astype(X.dtype, copy=False)
    intercept = np.asarray(intercept, dtype=X.dtype)
    grad = np.zeros(coef.shape)
    grad_intercept = np.zeros(intercept.shape)
    total = 0.0
    row_bytes = X.shape[1] * X.itemsize
    for tile in tiles(rows[0], rows[1], row_bytes):
        Xt = X[tile]
        w = None if weights is None else weights[tile]
        value, slope = _pointwise(spec, _scores(Xt, coef, intercept), y[tile])
        total += float(_weigh(value, w).sum())
        slope = _weigh(slope, w)
        grad += Xt.T @ slope
        grad_intercept += slope.sum(axis=0)
    return total, grad, grad_intercept


def block_loss_values(
    X: Array,
    y: Array,
    weights: Array | None,
    rows: tuple[int, int],
    coef: Array,
    intercept: Array,
    spec: LossSpec,
) -> float:
    """The sum of weighted losses over ``rows`` (no gradient)."""
    coef = coef.astype(X.dtype, copy=False)
    intercept = np.asarray(intercept, dtype=X.dtype)
    total = 0.0
    for tile in tiles(rows[0], rows[1], X.shape[1] * X.itemsize):
        value, _ = _pointwise(spec, _scores(X[tile], coef, intercept), y[tile])
        total += float(_weigh(value, None if weights is None else weights[tile]).sum())
    return total


def block_hessian_product(
    X: Array,
    y: Array,
    weights: Array | None,
    rows: tuple[int, int],
    coef: Array,
    intercept: Array,
    direction: tuple[Array, Array],
    spec: LossSpec,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The loss Hessian at (coef, intercept) times ``direction`` = (v_coef, v_intercept),
    summed over ``rows``: ``X.T @ (h(z) * (X @ v))`` with the loss's second derivative h."""
    dtype = X.dtype
    coef = coef.astype(dtype, copy=False)
    intercept = np.asarray(intercept, dtype=dtype)
    v_coef = direction[0].astype(dtype, copy=False)
    v_intercept = np.asarray(direction[1], dtype=dtype)
    out = np.zeros(coef.shape)
    out_intercept = np.zeros(intercept.shape)
    for tile in tiles(rows[0], rows[1], X.shape[1] * X.itemsize):
        Xt = X[tile]
        z = _scores(Xt, coef, intercept)
        zv = _scores(Xt, v_coef, v_intercept)
        if spec.name == "multinomial":
            h = _losses.multinomial_hessian_product(z, zv)
        else:
            h = _losses.curvature(spec.name, z, y[tile], spec.param)
            h *= zv
        h = _weigh(h, None if weights is None else weights[tile])
        out += Xt.T @ h
        out_intercept += h.sum(axis=0)
    return out, out_intercept


def block_gram(
    X: Array,
    y: Array,
    weights: Array | None,
    rows: tuple[int, int],
    shift_x: Array,
    shift_y: Array,
) -> tuple[NDArray[np.float64], ...]:
    """Weighted sums over ``rows`` of the data shifted by (shift_x, shift_y):
    ``(Xs.T W Xs, Xs.T W ys, sum W Xs, sum W ys, sum W)``.

    Shifting by a value close to the mean keeps the later centring free of cancellation.
    """
    d = X.shape[1]
    outputs = y.shape[1:] if y.ndim > 1 else ()
    gram = np.zeros((d, d))
    cross = np.zeros((d, *outputs))
    sum_x = np.zeros(d)
    sum_y = np.zeros(outputs)
    total = 0.0
    shift_x = shift_x.astype(X.dtype, copy=False)
    for tile in tiles(rows[0], rows[1], d * X.itemsize):
        Xs = X[tile] - shift_x
        ys = y[tile] - shift_y.astype(y.dtype, copy=False)
        if weights is None:
            gram += Xs.T @ Xs
            total += Xs.shape[0]
            weighted = Xs
            sum_y += ys.sum(axis=0)
        else:
            w = weights[tile]
            weighted = Xs * w[:, None]
            gram += weighted.T @ Xs
            total += float(w.sum())
            sum_y += (ys * (w if ys.ndim == 1 else w[:, None])).sum(axis=0)
        cross += weighted.T @ ys
        sum_x += weighted.sum(axis=0)
    return gram, cross, sum_x, sum_y, np.asarray(total)
