"""The full-batch estimators reach scikit-learn's optimum (same objective, same parameters)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn import linear_model, svm
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from parlearn.learn import LinearRegression, LinearSVC, LogisticRegression, Ridge
from parlearn.models import load_model, save_model

TIGHT = {"tol": 1e-10, "max_iter": 5000}


def logistic_objective(model: object, X: np.ndarray, y: np.ndarray, C: float) -> float:
    """scikit-learn's objective divided by C n (L2): the mean log-loss plus |w|^2 / (2 C n)."""
    proba = model.predict_proba(X)  # type: ignore[attr-defined]
    index = np.searchsorted(model.classes_, y)  # type: ignore[attr-defined]
    loss = -np.mean(np.log(proba[np.arange(len(y)), index]))
    coef = model.coef_  # type: ignore[attr-defined]
    return float(loss + np.sum(coef * coef) / (2 * C * len(y)))


@pytest.mark.parametrize("data", ["binary", "multiclass"])
@pytest.mark.parametrize("solver", ["lbfgs", "newton-cg"])
def test_logistic_matches_scikit_learn(
    data: str, solver: str, request: pytest.FixtureRequest
) -> None:
    X, y = request.getfixturevalue(data)
    ours = LogisticRegression(C=0.5, solver=solver, **TIGHT).fit(X, y)
    theirs = linear_model.LogisticRegression(C=0.5, tol=1e-10, max_iter=5000).fit(X, y)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours.intercept_, theirs.intercept_, rtol=1e-5, atol=1e-6)
    assert ours.objective_ == pytest.approx(logistic_objective(theirs, X, y, 0.5), rel=1e-9)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-6)


@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
def test_logistic_l1_and_elastic_net_match_saga(
    l1_ratio: float, binary: tuple[np.ndarray, np.ndarray]
) -> None:
    X, y = binary
    ours = LogisticRegression(C=0.05, l1_ratio=l1_ratio, **TIGHT).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = linear_model.LogisticRegression(
            C=0.05, l1_ratio=l1_ratio, solver="saga", tol=1e-12, max_iter=100000
        ).fit(StandardScaler(with_mean=False, with_std=False).fit_transform(X), y)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, atol=2e-5)
    assert np.array_equal(ours.coef_ == 0, theirs.coef_ == 0)  # the same exact zeros
    assert (ours.coef_ == 0).sum() > 0


def test_logistic_sample_and_class_weights(multiclass: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = multiclass
    weights = np.random.default_rng(0).uniform(0, 3, len(y))
    kwargs = {"class_weight": {0: 2.0, 1: 1.0, 2: 0.5}}
    ours = LogisticRegression(**kwargs, **TIGHT).fit(X, y, sample_weight=weights)
    theirs = linear_model.LogisticRegression(**kwargs, tol=1e-10, max_iter=5000)
    theirs.fit(X, y, sample_weight=weights)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=1e-5, atol=1e-6)


def test_logistic_string_labels_and_no_penalty(binary: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = binary
    labels = np.array(["no", "yes"])[y]
    model = LogisticRegression(C=np.inf).fit(X, labels)
    assert list(model.classes_) == ["no", "yes"]
    assert set(model.predict(X)) <= {"no", "yes"}
    assert model.score(X, labels) > 0.65


def test_float32_data_trains_in_float32(binary: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = binary
    single = LogisticRegression(**TIGHT).fit(X.astype(np.float32), y)
    double = LogisticRegression(**TIGHT).fit(X, y)
    assert single.coef_.dtype == np.float32
    np.testing.assert_allclose(single.coef_, double.coef_, rtol=1e-3, atol=1e-4)
    assert single.objective_ == pytest.approx(double.objective_, rel=1e-5)


@pytest.mark.parametrize("alpha", [0.0, 1.0, 300.0])
def test_ridge_matches_scikit_learn(
    alpha: float, regression: tuple[np.ndarray, np.ndarray]
) -> None:
    X, y = regression
    weights = np.random.default_rng(1).uniform(0.1, 2, len(y))
    Y = np.column_stack([y, -2 * y + 1])
    for target in (y, Y):
        ours = Ridge(alpha=alpha).fit(X, target, sample_weight=weights)
        theirs = linear_model.Ridge(alpha=alpha).fit(X, target, sample_weight=weights)
        np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(ours.intercept_, theirs.intercept_, rtol=1e-9)
        assert ours.predict(X).shape == target.shape


def test_linear_regression_is_minimum_norm_with_collinear_features(
    regression: tuple[np.ndarray, np.ndarray],
) -> None:
    X, y = regression
    X = np.hstack([X, X[:, :2]])  # two duplicated columns
    ours = LinearRegression().fit(X, y)
    theirs = linear_model.LinearRegression().fit(X, y)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, atol=1e-8)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), atol=1e-8)


@pytest.mark.parametrize("data", ["binary", "multiclass"])
def test_linear_svc_squared_hinge_matches_liblinear(
    data: str, request: pytest.FixtureRequest
) -> None:
    X, y = request.getfixturevalue(data)
    ours = LinearSVC(C=0.1, tol=1e-8).fit(X, y)
    # liblinear penalises its intercept; a huge intercept_scaling makes that negligible.
    theirs = svm.LinearSVC(C=0.1, tol=1e-10, max_iter=100000, intercept_scaling=1e4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs.fit(X, y)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=1e-3, atol=1e-4)


def test_linear_svc_hinge_is_at_least_as_low_as_liblinear(
    binary: tuple[np.ndarray, np.ndarray],
) -> None:
    X, y = binary
    sign = np.where(y == 1, 1.0, -1.0)

    def objective(coef: np.ndarray, intercept: float) -> float:
        return 0.5 * coef @ coef + np.maximum(0, 1 - sign * (X @ coef + intercept)).sum()

    ours = LinearSVC(loss="hinge", tol=1e-8).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = svm.LinearSVC(loss="hinge", tol=1e-10, max_iter=200000, intercept_scaling=100)
        theirs.fit(X, y)
    mine = objective(ours.coef_[0], ours.intercept_[0])
    assert mine == pytest.approx(ours.objective_ * len(y), rel=1e-9)
    assert mine <= objective(theirs.coef_[0], theirs.intercept_[0]) * (1 + 1e-4)


def test_linear_svc_l1_gives_sparse_coefficients(multiclass: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = multiclass
    model = LinearSVC(penalty="l1", C=0.01).fit(X, y)
    assert (model.coef_ == 0).sum() > 0
    assert model.score(X, y) > 0.5


def test_estimators_work_in_pipelines_and_search(binary: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = binary
    pipe = make_pipeline(StandardScaler(), LogisticRegression())
    assert cross_val_score(pipe, X, y, cv=3).mean() > 0.65
    search = GridSearchCV(LinearSVC(), {"C": [0.01, 1.0]}, cv=3).fit(X, y)
    assert search.best_params_["C"] in (0.01, 1.0)


def test_artifacts_predict_what_the_estimators_predict(
    tmp_path: object,
    multiclass: tuple[np.ndarray, np.ndarray],
    binary: tuple[np.ndarray, np.ndarray],
) -> None:
    for X, y in (multiclass, binary):
        model = LogisticRegression().fit(X, y)
        path = save_model(f"{tmp_path}/model.npz", model.to_artifact())
        artifact = load_model(path)
        np.testing.assert_array_equal(model.classes_[artifact.predict(X)], model.predict(X))
        np.testing.assert_allclose(artifact.predict_proba(X), model.predict_proba(X), atol=1e-10)
    X, y = binary
    ridge = Ridge().fit(X, y.astype(float))
    np.testing.assert_allclose(ridge.to_artifact().predict(X), ridge.predict(X), atol=1e-10)
