"""Linear models as pure functions over NumPy arrays: multinomial logistic regression and
linear regression, their losses, gradients and predictions.

Parameters are a list of arrays, the layout federated clients exchange:

- ``"logistic"``: ``[W (features x classes), b (classes,)]``; ``predict`` gives class ids;
- ``"linear"``: ``[w (features,), b ()]``; ``predict`` gives real values.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "KINDS",
    "ModelKind",
    "gradient",
    "init_parameters",
    "loss",
    "predict",
    "predict_proba",
    "softmax",
]

ModelKind = Literal["logistic", "linear"]
KINDS: tuple[str, ...] = ("logistic", "linear")
Array = NDArray[np.float64]
# Parameters as any sequence of float arrays (federated code passes lists of float32 or float64).
Params = Sequence[NDArray[Any]]


def init_parameters(kind: str, num_features: int, num_classes: int = 1) -> list[Array]:
    """Zero parameters: for these convex models any start converges, and zeros make every
    run start from the same point."""
    if kind == "logistic":
        if num_classes < 2:
            raise ValueError(f"logistic regression needs >= 2 classes, got {num_classes}")
        return [np.zeros((num_features, num_classes)), np.zeros(num_classes)]
    if kind == "linear":
        return [np.zeros(num_features), np.zeros(())]
    raise ValueError(f"unknown model kind {kind!r}; choose one of {', '.join(KINDS)}")


def softmax(z: Array) -> Array:
    z = z - z.max(axis=1, keepdims=True)  # stable: exp never overflows
    e = np.exp(z)
    out: Array = e / e.sum(axis=1, keepdims=True)
    return out


def _scores(params: Params, X: Array) -> Array:
    w, b = params
    out: Array = np.asarray(X @ w + b, dtype=np.float64)
    return out


def predict_proba(params: Params, X: Array) -> Array:
    """Class probabilities of a logistic model."""
    return softmax(_scores(params, X))


def predict(kind: str, params: Params, X: Array) -> NDArray[np.generic]:
    scores = _scores(params, X)
    if kind == "logistic":
        labels: NDArray[np.generic] = np.argmax(scores, axis=1)
        return labels
    return scores


def loss(kind: str, params: Params, X: Array, y: NDArray[np.generic]) -> float:
    """Mean cross-entropy (logistic) or half mean squared error (linear)."""
    if len(y) == 0:
        return float("nan")
    scores = _scores(params, X)
    if kind == "logistic":
        shifted = scores - scores.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(shifted).sum(axis=1))
        picked = shifted[np.arange(len(y)), y.astype(np.int64)]
        return float(np.mean(log_norm - picked))
    residual = scores - y.astype(np.float64)
    return float(0.5 * np.mean(residual * residual))


def gradient(kind: str, params: Params, X: Array, y: NDArray[np.generic]) -> list[Array]:
    """Gradient of :func:`loss` with respect to each parameter array."""
    n = max(len(y), 1)
    scores = _scores(params, X)
    if kind == "logistic":
        error = softmax(scores)
        error[np.arange(len(y)), y.astype(np.int64)] -= 1.0
    else:
        error = scores - y.astype(np.float64)
    error /= n
    return [X.T @ error, error.sum(axis=0)]
