"""The same data and settings give the same model on every backend and worker count.

Blocks are fixed by the data, partial sums are added in block order and BLAS runs one thread
everywhere, so the models are not just close: they are equal, bit for bit.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from parlearn.learn import (
    LinearSVC,
    LogisticRegression,
    Ridge,
    SGDClassifier,
    SGDRegressor,
)

RUNS = [("serial", None), ("threads", 2), ("processes", 1), ("processes", 2), ("processes", 3)]


def fitted(make: Any, X: np.ndarray, y: np.ndarray) -> list[Any]:
    models = []
    for backend, workers in RUNS:
        model = make(backend=backend, workers=workers).fit(X, y)
        assert model.backend_ == backend
        models.append(model)
    return models


def assert_all_equal(models: list[Any]) -> None:
    first = models[0]
    for other in models[1:]:
        np.testing.assert_array_equal(other.coef_, first.coef_)
        np.testing.assert_array_equal(other.intercept_, first.intercept_)


@pytest.mark.slow
@pytest.mark.usefixtures("small_blocks")
def test_full_batch_models_are_identical_everywhere(
    multiclass: tuple[np.ndarray, np.ndarray], regression: tuple[np.ndarray, np.ndarray]
) -> None:
    X, y = multiclass  # 900 rows of 80 bytes in 4 KiB blocks: 18 partial sums per pass
    assert_all_equal(fitted(LogisticRegression, X, y))
    assert_all_equal(fitted(lambda **kw: LogisticRegression(solver="newton-cg", **kw), X, y))
    assert_all_equal(fitted(lambda **kw: LinearSVC(loss="hinge", **kw), X, y))
    Xr, yr = regression
    assert_all_equal(fitted(Ridge, Xr, yr))


def test_sgd_models_are_identical_everywhere(
    multiclass: tuple[np.ndarray, np.ndarray], regression: tuple[np.ndarray, np.ndarray]
) -> None:
    X, y = multiclass
    make = lambda **kw: SGDClassifier(random_state=3, max_iter=5, tol=None, **kw)  # noqa: E731
    assert_all_equal(fitted(make, X, y))
    Xr, yr = regression
    make = lambda **kw: SGDRegressor(random_state=3, max_iter=5, tol=None, **kw)  # noqa: E731
    assert_all_equal(fitted(make, Xr, yr))


def test_another_seed_gives_another_sgd_model(binary: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = binary
    a = SGDClassifier(random_state=0, max_iter=3, tol=None).fit(X, y)
    b = SGDClassifier(random_state=1, max_iter=3, tol=None).fit(X, y)
    assert not np.array_equal(a.coef_, b.coef_)


@pytest.mark.ray
@pytest.mark.slow
@pytest.mark.usefixtures("small_blocks")
def test_ray_gives_the_same_models(binary: tuple[np.ndarray, np.ndarray]) -> None:
    pytest.importorskip("ray")
    X, y = binary
    serial = LogisticRegression(backend="serial").fit(X, y)
    on_ray = LogisticRegression(backend="ray", workers=2).fit(X, y)
    np.testing.assert_array_equal(on_ray.coef_, serial.coef_)
    sgd_serial = SGDClassifier(random_state=0, max_iter=3, tol=None, backend="serial").fit(X, y)
    sgd_ray = SGDClassifier(random_state=0, max_iter=3, tol=None, backend="ray", workers=2)
    np.testing.assert_array_equal(sgd_ray.fit(X, y).coef_, sgd_serial.coef_)
