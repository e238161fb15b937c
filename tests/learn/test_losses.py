"""The pointwise losses and block kernels against definitions and finite differences."""

from __future__ import annotations

import numpy as np
import pytest

from parlearn.learn import _kernels, _losses
from parlearn.learn._kernels import LossSpec

MARGIN_LOSSES = ["log_loss", "hinge", "smooth_hinge", "squared_hinge", "modified_huber"]
RESIDUAL_LOSSES = ["squared_error", "huber", "epsilon_insensitive"]


def reference(loss: str, z: np.ndarray, y: np.ndarray, param: float) -> np.ndarray:
    m, r = y * z, z - y
    if loss == "log_loss":
        return np.log1p(np.exp(-m))
    if loss == "hinge":
        return np.maximum(0, 1 - m)
    if loss == "smooth_hinge":
        gap = 1 - m
        return np.where(gap >= param, gap - param / 2, np.where(gap > 0, gap**2 / (2 * param), 0))
    if loss == "squared_hinge":
        return np.maximum(0, 1 - m) ** 2
    if loss == "modified_huber":
        return np.where(m >= -1, np.maximum(0, 1 - m) ** 2, -4 * m)
    if loss == "squared_error":
        return 0.5 * r**2
    if loss == "huber":
        return np.where(np.abs(r) <= param, 0.5 * r**2, param * np.abs(r) - 0.5 * param**2)
    return np.maximum(0, np.abs(r) - param)


@pytest.mark.parametrize("loss", MARGIN_LOSSES + RESIDUAL_LOSSES)
def test_values_and_derivatives(loss: str) -> None:
    rng = np.random.default_rng(0)
    z = rng.uniform(-4, 4, 400)
    y = rng.choice([-1.0, 1.0], 400) if loss in MARGIN_LOSSES else rng.normal(size=400)
    param = 0.3
    value, slope = _losses.pointwise(loss, z, y, param)
    np.testing.assert_allclose(value, reference(loss, z, y, param), rtol=1e-12, atol=1e-12)
    h = 1e-6
    numeric = (reference(loss, z + h, y, param) - reference(loss, z - h, y, param)) / (2 * h)
    kink = np.abs(numeric - slope) > 1e-4  # the non-smooth points of hinge and friends
    assert kink.mean() < 0.02
    np.testing.assert_allclose(slope[~kink], numeric[~kink], atol=1e-6)


def test_log_loss_is_stable_far_from_zero() -> None:
    z = np.array([-800.0, -40.0, 0.0, 40.0, 800.0])
    value, slope = _losses.pointwise("log_loss", z, np.ones(5))
    assert np.all(np.isfinite(value)) and np.all(np.isfinite(slope))
    np.testing.assert_allclose(value[[0, 2]], [800.0, np.log(2)])
    assert value[-1] == 0.0 and slope[0] == -1.0


def test_float32_stays_float32() -> None:
    z = np.linspace(-3, 3, 10, dtype=np.float32)
    y = np.ones(10, dtype=np.float32)
    for loss in MARGIN_LOSSES:
        value, slope = _losses.pointwise(loss, z, y, 0.5)
        assert value.dtype == np.float32 and slope.dtype == np.float32


def test_multinomial_against_softmax() -> None:
    rng = np.random.default_rng(1)
    z = rng.normal(size=(50, 4))
    labels = rng.integers(0, 4, 50)
    value, slope = _losses.multinomial(z.copy(), labels)
    proba = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(value, -np.log(proba[np.arange(50), labels]))
    onehot = np.eye(4)[labels]
    np.testing.assert_allclose(slope, proba - onehot, atol=1e-12)


def test_unknown_loss_names_the_choices() -> None:
    with pytest.raises(ValueError, match="unknown loss 'cubic'; choose one of log_loss"):
        _losses.pointwise("cubic", np.zeros(2), np.zeros(2))


@pytest.mark.parametrize("name", ["log_loss", "squared_hinge", "multinomial"])
def test_block_gradient_and_hessian_against_finite_differences(name: str) -> None:
    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 5))
    k = 3 if name == "multinomial" else 1
    y = rng.integers(0, k, 300) if k > 1 else rng.choice([-1.0, 1.0], 300)
    weights = rng.uniform(0.5, 2, 300)
    coef = rng.normal(size=(5, k)) * 0.3 if k > 1 else rng.normal(size=5) * 0.3
    intercept = rng.normal(size=k) * 0.1 if k > 1 else np.asarray(0.1)
    spec = LossSpec(name)

    def f(c: np.ndarray) -> float:
        return _kernels.block_loss_values(X, y, weights, (0, 300), c, intercept, spec)

    _, grad, _ = _kernels.block_loss_gradient(X, y, weights, (0, 300), coef, intercept, spec)
    h = 1e-6
    for index in np.ndindex(coef.shape):
        step = np.zeros_like(coef)
        step[index] = h
        numeric = (f(coef + step) - f(coef - step)) / (2 * h)
        assert grad[index] == pytest.approx(numeric, rel=1e-5, abs=1e-6)
    if name == "squared_hinge":
        return  # piecewise quadratic: its Hessian product is checked through Newton-CG
    direction = (rng.normal(size=coef.shape), np.zeros_like(intercept))
    hv, _ = _kernels.block_hessian_product(
        X, y, weights, (0, 300), coef, intercept, direction, spec
    )
    _, grad_plus, _ = _kernels.block_loss_gradient(
        X, y, weights, (0, 300), coef + h * direction[0], intercept, spec
    )
    _, grad_minus, _ = _kernels.block_loss_gradient(
        X, y, weights, (0, 300), coef - h * direction[0], intercept, spec
    )
    np.testing.assert_allclose(hv, (grad_plus - grad_minus) / (2 * h), rtol=1e-5, atol=1e-6)


def test_gram_is_exact_after_centring() -> None:
    rng = np.random.default_rng(4)
    X = rng.normal(size=(200, 4)) + 1e6  # far off-centre: naive centring would cancel
    y = rng.normal(size=200)
    shift = X[:10].mean(axis=0)
    gram, cross, sum_x, _, total = _kernels.block_gram(X, y, None, (0, 200), shift, np.zeros(()))
    mean = sum_x / total
    centred = X - X.mean(axis=0)
    np.testing.assert_allclose(gram - total * np.outer(mean, mean), centred.T @ centred, rtol=1e-6)
    assert cross.shape == (4,)
