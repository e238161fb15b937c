"""Mini-batch local SGD: as accurate as scikit-learn's SGD, partial_fit, penalties, errors."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import linear_model
from sklearn.datasets import make_classification, make_regression

from parlearn.learn import LogisticRegression, SGDClassifier, SGDRegressor
from parlearn.learn._sgd import auto_batch_size, largest_eigenvalue, optimal_t0


@pytest.fixture(scope="module")
def split() -> tuple[np.ndarray, ...]:
    X, y = make_classification(6000, 20, n_informative=6, n_classes=3, random_state=0)
    return X[:4000], X[4000:], y[:4000], y[4000:]


@pytest.mark.parametrize("loss", ["hinge", "log_loss", "modified_huber", "squared_hinge"])
def test_classifier_as_accurate_as_scikit_learn(loss: str, split: tuple[np.ndarray, ...]) -> None:
    X, X_test, y, y_test = split
    ours = SGDClassifier(loss=loss, random_state=0).fit(X, y)
    theirs = linear_model.SGDClassifier(loss=loss, random_state=0).fit(X, y)
    assert ours.score(X_test, y_test) >= theirs.score(X_test, y_test) - 0.02
    assert ours.coef_.shape == theirs.coef_.shape == (3, 20)


def test_log_loss_sgd_approaches_the_logistic_optimum(split: tuple[np.ndarray, ...]) -> None:
    X, _, y, _ = split
    alpha = 1e-3
    sgd = SGDClassifier(loss="log_loss", alpha=alpha, random_state=0, tol=1e-6).fit(X, y == 0)
    exact = LogisticRegression(C=1 / (alpha * len(X)), tol=1e-10).fit(X, y == 0)
    assert np.corrcoef(sgd.coef_[0], exact.coef_[0])[0, 1] > 0.99


def test_regressor_fits_a_linear_target() -> None:
    X, y = make_regression(3000, 10, noise=0.1, random_state=1)
    y /= y.std()  # huber's and epsilon_insensitive's epsilon=0.1 are for targets of scale ~1
    for loss in ("squared_error", "huber", "epsilon_insensitive"):
        model = SGDRegressor(loss=loss, random_state=0).fit(X, y)
        assert model.score(X, y) > 0.99, loss
        assert model.coef_.shape == (10,) and model.intercept_.shape == (1,)


def test_l1_penalty_gives_exact_zeros() -> None:
    X, y = make_classification(2000, 30, n_informative=3, n_redundant=0, random_state=2)
    dense = SGDClassifier(penalty="l2", alpha=1e-3, random_state=0).fit(X, y)
    sparse = SGDClassifier(penalty="l1", alpha=1e-2, random_state=0).fit(X, y)
    assert (dense.coef_ == 0).sum() == 0
    assert (sparse.coef_ == 0).sum() >= 10
    assert sparse.score(X, y) > 0.8


def test_partial_fit_continues_from_the_current_model(split: tuple[np.ndarray, ...]) -> None:
    X, X_test, y, y_test = split
    model = SGDClassifier(loss="log_loss", random_state=0)
    for start in range(0, len(X), 1000):
        model.partial_fit(X[start : start + 1000], y[start : start + 1000], classes=[0, 1, 2])
    assert model.n_iter_ == 4
    assert model.score(X_test, y_test) > 0.6
    once = SGDClassifier(loss="log_loss", random_state=0).partial_fit(X, y, classes=[0, 1, 2])
    twice = SGDClassifier(loss="log_loss", random_state=0).partial_fit(X, y, classes=[0, 1, 2])
    np.testing.assert_array_equal(once.coef_, twice.coef_)


def test_partial_fit_needs_classes_first_and_the_same_ones_after(
    split: tuple[np.ndarray, ...],
) -> None:
    X, _, y, _ = split
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        SGDClassifier().partial_fit(X, y)
    model = SGDClassifier().partial_fit(X, y, classes=[0, 1, 2])
    with pytest.raises(ValueError, match="differs from the first call"):
        model.partial_fit(X, y, classes=[0, 1, 2, 3])
    with pytest.raises(ValueError, match=r"label\(s\) \[7\] that are not among the classes"):
        model.partial_fit(X[:5], np.array([0, 1, 7, 2, 0]))
    with pytest.raises(ValueError, match="X has 3 features"):
        model.partial_fit(X[:, :3], y)


def test_predict_proba_only_for_probabilistic_losses(split: tuple[np.ndarray, ...]) -> None:
    X, X_test, y, _ = split
    proba = SGDClassifier(loss="log_loss", random_state=0).fit(X, y).predict_proba(X_test)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert proba.shape == (len(X_test), 3)
    hinge = SGDClassifier(random_state=0).fit(X, y)
    assert not hasattr(hinge, "predict_proba")


def test_tol_none_runs_every_epoch_and_max_iter_warns(split: tuple[np.ndarray, ...]) -> None:
    X, _, y, _ = split
    assert SGDClassifier(max_iter=3, tol=None, random_state=0).fit(X, y).n_iter_ == 3
    with pytest.warns(Warning, match="Maximum number of iterations"):
        SGDClassifier(max_iter=2, tol=1e-12, n_iter_no_change=5, random_state=0).fit(X, y)


def test_float32_data_trains_to_float32_weights(split: tuple[np.ndarray, ...]) -> None:
    X, X_test, y, y_test = split
    model = SGDClassifier(random_state=0).fit(X.astype(np.float32), y)
    assert model.coef_.dtype == np.float32
    assert model.score(X_test.astype(np.float32), y_test) > 0.6


def test_step_rule_helpers() -> None:
    assert (
        auto_batch_size(100) == 655 and auto_batch_size(1) == 4096 and auto_batch_size(10**6) == 32
    )
    X = np.random.default_rng(0).normal(size=(5000, 4)) * [1, 2, 3, 4]
    assert largest_eigenvalue(X, fit_intercept=False) == pytest.approx(16, rel=0.1)
    # scikit-learn's "optimal" offset: 1 / (alpha * eta0), eta0 = alpha^-1/4 for the hinge
    assert optimal_t0("hinge", 0.0, 1e-4) == pytest.approx(1 / (1e-4 * 10))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"loss": "cubic"}, "loss must be one of 'hinge'"),
        ({"penalty": "l3"}, "penalty must be one of"),
        ({"alpha": -1.0}, "alpha must be a number"),
        ({"batch_size": 0}, "batch_size must be 'auto' or an int >= 1, got 0"),
        ({"replicas": 0}, "replicas must be an int >= 1, got 0"),
        ({"learning_rate": "fast"}, "learning_rate must be one of"),
        ({"workers": -2}, "workers must be an int >= 1 or None, got -2"),
        ({"backend": "gpu"}, "backend must be one of"),
    ],
)
def test_bad_parameters_say_what_to_pass(params: dict[str, object], message: str) -> None:
    X, y = make_classification(100, 4, random_state=0)
    with pytest.raises(ValueError, match=message):
        SGDClassifier(**params).fit(X, y)
