"""Bad input gets a scikit-learn style error that says what is wrong and what to do."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from parlearn.learn import (
    LinearRegression,
    LinearSVC,
    LogisticRegression,
    Ridge,
    SGDClassifier,
    SGDRegressor,
)

CLASSIFIERS = [LogisticRegression, LinearSVC, SGDClassifier]
REGRESSORS = [Ridge, LinearRegression, SGDRegressor]
ALL = CLASSIFIERS + REGRESSORS


def data(n: int = 60) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 3))
    return X, (X[:, 0] > 0).astype(int)


@pytest.mark.parametrize("make", ALL)
@pytest.mark.parametrize("backend", ["serial", "processes"])
def test_nan_and_infinity_in_x(make: Any, backend: str) -> None:
    X, y = data()
    X[5, 1] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        make(backend=backend).fit(X, y)
    X[5, 1] = np.inf
    with pytest.raises(ValueError, match="Input X contains infinity"):
        make(backend=backend).fit(X, y)


@pytest.mark.parametrize("make", REGRESSORS)
def test_nan_in_regression_targets(make: Any) -> None:
    X, y = data()
    y = y.astype(float)
    y[3] = np.nan
    with pytest.raises(ValueError, match="Input y contains NaN"):
        make().fit(X, y)


@pytest.mark.parametrize("make", REGRESSORS)
def test_string_targets_for_a_regressor(make: Any) -> None:
    X, y = data()
    with pytest.raises(ValueError, match=r"is a regressor and needs numeric targets, got values"):
        make().fit(X, np.array(["low", "high"])[y])


@pytest.mark.parametrize("make", ALL)
def test_shapes_that_do_not_match(make: Any) -> None:
    X, y = data()
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        make().fit(X, y[:-1])
    with pytest.raises(ValueError, match="Expected 2D array, got 1D array instead"):
        make().fit(X[:, 0], y)
    model = make().fit(X, y)
    with pytest.raises(ValueError, match=r"X has 2 features, but .* is expecting 3 features"):
        model.predict(X[:, :2])


@pytest.mark.parametrize("make", ALL)
def test_string_features(make: Any) -> None:
    _X, y = data()
    with pytest.raises(ValueError, match="could not convert string to float"):
        make().fit(np.array([["a", "b", "c"]] * len(y)), y)


@pytest.mark.parametrize("make", CLASSIFIERS)
def test_a_single_class(make: Any) -> None:
    X, _ = data()
    with pytest.raises(ValueError, match="class"):
        make().fit(X, np.zeros(len(X)))


@pytest.mark.parametrize("make", CLASSIFIERS)
def test_continuous_labels_for_a_classifier(make: Any) -> None:
    X, _ = data()
    with pytest.raises(ValueError, match="Unknown label type: continuous"):
        make().fit(X, np.linspace(0, 1, len(X)))


@pytest.mark.parametrize(
    ("make", "params", "message"),
    [
        (LogisticRegression, {"C": 0}, "C must be a number > 0, got 0"),
        (LogisticRegression, {"l1_ratio": 2}, r"l1_ratio must be in \[0, 1\], got 2"),
        (LogisticRegression, {"solver": "sag"}, "solver must be one of 'lbfgs', 'newton-cg'"),
        (LogisticRegression, {"solver": "newton-cg", "l1_ratio": 1}, "use solver='lbfgs' for L1"),
        (LogisticRegression, {"max_iter": 0}, "max_iter must be an int >= 1, got 0"),
        (LinearSVC, {"loss": "log"}, "loss must be one of 'squared_hinge', 'hinge'"),
        (LinearSVC, {"penalty": "elasticnet"}, "penalty must be one of 'l2', 'l1'"),
        (Ridge, {"alpha": -1}, "alpha must be a number >= 0, got -1"),
        (Ridge, {"workers": 0}, "workers must be an int >= 1 or None, got 0"),
        (LogisticRegression, {"backend": "cuda"}, "backend must be one of 'auto'"),
    ],
)
def test_bad_parameters(make: Any, params: dict[str, Any], message: str) -> None:
    X, y = data()
    with pytest.raises(ValueError, match=message):
        make(**params).fit(X, y)


@pytest.mark.parametrize("make", ALL)
def test_sample_weights_checked(make: Any) -> None:
    X, y = data()
    with pytest.raises(ValueError, match="expected \\(60,\\)"):
        make().fit(X, y, sample_weight=np.ones(5))
    with pytest.raises(ValueError, match="Negative values in data passed to sample_weight"):
        make().fit(X, y, sample_weight=-np.ones(60))


def test_predict_before_fit() -> None:
    X, _ = data()
    with pytest.raises(Exception, match="not fitted yet"):
        LogisticRegression().predict(X)
