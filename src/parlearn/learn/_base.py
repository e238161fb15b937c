"""What the full-batch estimators share: input checks with scikit-learn's messages, the
backend and data placement of a fit, and prediction from ``coef_`` and ``intercept_``."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.utils import assert_all_finite
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from parlearn.learn._blocks import keep_shared, placed, plan_blocks
from parlearn.learn._execution import BlockExecutor, resolve_backend
from parlearn.learn._objective import BlockTask, TrainingData
from parlearn.models import ModelArtifact

__all__ = [
    "FLOAT_DTYPES",
    "LinearClassifierMixin",
    "LinearPredictorMixin",
    "block_executor",
    "check_nonnegative",
    "check_numeric_targets",
    "check_sample_weight",
    "encode_classes",
    "validate_fit_data",
]

Array = NDArray[Any]
# float32 data trains in float32 (half the memory traffic); everything else becomes float64.
FLOAT_DTYPES = (np.float64, np.float32)


def validate_fit_data(
    estimator: Any, X: Any, y: Any, *, classifier: bool, multi_output: bool = False
) -> tuple[Array, Array]:
    """``X`` as a C-ordered float32/float64 array and ``y`` checked, with scikit-learn's
    errors; finiteness of X is checked later, while the data is copied (see block_executor)."""
    if not classifier:
        check_numeric_targets(estimator, y)
    original = X
    X, y = validate_data(
        estimator,
        X,
        y,
        dtype=FLOAT_DTYPES,
        order="C",
        ensure_all_finite=False,
        multi_output=multi_output,
        y_numeric=not classifier,
    )
    X = keep_shared(original, X)
    if classifier:
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
    else:
        y = np.asarray(y, dtype=X.dtype)
        assert_all_finite(y, input_name="y")
    return X, y


def check_numeric_targets(estimator: Any, y: Any) -> None:
    """Refuse text targets for a regressor, saying what to do instead."""
    values = np.asarray(y)
    if values.dtype.kind not in "OUS":
        return
    try:
        values.astype(np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"{type(estimator).__name__} is a regressor and needs numeric targets, got values "
            f"such as {values.ravel()[:3].tolist()}; convert them to numbers, or use a "
            "classifier (e.g. LogisticRegression) for class labels"
        ) from None


def check_sample_weight(sample_weight: Any, n_samples: int, dtype: Any) -> Array | None:
    """``sample_weight`` as a 1-d array of ``n_samples`` finite, non-negative values."""
    if sample_weight is None:
        return None
    if np.isscalar(sample_weight):
        return np.full(n_samples, sample_weight, dtype=dtype)
    weights = np.asarray(sample_weight, dtype=dtype)
    if weights.ndim != 1 or len(weights) != n_samples:
        raise ValueError(
            f"sample_weight.shape == {weights.shape}, expected ({n_samples},): pass one weight "
            "per sample"
        )
    assert_all_finite(weights, input_name="sample_weight")
    if np.any(weights < 0):
        raise ValueError("Negative values in data passed to sample_weight; weights must be >= 0")
    if not weights.sum() > 0:
        raise ValueError(
            "Sample weights must contain at least one non-zero number: every weight is zero, "
            "so there is nothing to fit"
        )
    return weights


def check_nonnegative(
    name: str, value: Any, *, strict: bool = False, allow_inf: bool = False
) -> float:
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    number = float(value) if ok else float("nan")
    if (
        not ok
        or np.isnan(number)
        or (number <= 0 if strict else number < 0)
        or (np.isinf(number) and not allow_inf)
    ):
        bound = "> 0" if strict else ">= 0"
        raise ValueError(f"{name} must be a number {bound}, got {value!r}")
    return number


def encode_classes(y: Array) -> tuple[Array, NDArray[np.intp]]:
    """``(classes, class index of each sample)``; at least two classes are required."""
    classes, indices = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise ValueError(
            "This solver needs samples of at least 2 classes in the data, but the data "
            f"contains only one class: {classes[0]!r}; a classifier needs examples of each "
            "class it should predict"
        )
    return classes, indices.astype(np.intp)


@contextlib.contextmanager
def block_executor(
    X: Array,
    y: Array,
    weights: Array | None,
    *,
    backend: object,
    workers: object,
) -> Iterator[tuple[BlockExecutor, TrainingData]]:
    """A pool with the fit's data resident in its workers (in shared memory for processes);
    the first pass checks X for NaN and infinity (``BlockTask``); everything is released at
    the end."""
    name, count = resolve_backend(backend, workers, X.nbytes, parallel_backend="threads")
    blocks = tuple(plan_blocks(len(X), X.shape[1] * X.itemsize))
    with placed(name, X, y, weights) as (Xs, ys, ws):
        data = TrainingData(Xs, ys, ws, blocks)
        with BlockExecutor(BlockTask(data), name, count) as run:
            yield run, data


class LinearPredictorMixin:
    """Raw scores ``X @ coef_.T + intercept_`` (coef_ (features,) or (outputs, features))."""

    coef_: Array
    intercept_: Array

    def _raw_scores(self, X: Any) -> Array:
        check_is_fitted(self, "coef_")
        X = validate_data(self, X, reset=False, dtype=FLOAT_DTYPES, order="C")  # type: ignore[arg-type]
        coef = np.atleast_2d(self.coef_).astype(X.dtype, copy=False)
        scores: Array = X @ coef.T
        scores += np.atleast_1d(self.intercept_).astype(X.dtype, copy=False)
        return scores


class LinearClassifierMixin(LinearPredictorMixin):
    classes_: Array

    def decision_function(self, X: Any) -> Array:
        """Confidence scores: (n_samples,) for two classes (positive: ``classes_[1]``),
        else (n_samples, n_classes)."""
        scores = self._raw_scores(X)
        return scores[:, 0] if scores.shape[1] == 1 else scores

    def predict(self, X: Any) -> Array:
        """The class of each sample."""
        scores = self.decision_function(X)
        index = (scores > 0).astype(np.intp) if scores.ndim == 1 else scores.argmax(axis=1)
        out: Array = self.classes_[index]
        return out

    def to_artifact(self) -> ModelArtifact:
        """The model as a parlearn model artifact (``parlearn.models.save_model`` writes it;
        ``parlearn serve`` loads it): kind ``"logistic"``, parameters ``[W, b]``.

        Two classes become two columns ``[-w/2, w/2]``, whose softmax is the sigmoid of
        ``w``: the artifact predicts what the estimator predicts."""
        check_is_fitted(self, "coef_")
        coef = np.asarray(self.coef_, dtype=np.float64)
        intercept = np.asarray(self.intercept_, dtype=np.float64)
        if coef.shape[0] == 1:
            coef = np.vstack([-coef / 2, coef / 2])
            intercept = np.concatenate([-intercept / 2, intercept / 2])
        return ModelArtifact(
            "logistic",
            [coef.T.copy(), intercept],
            {
                "num_features": int(coef.shape[1]),
                "num_classes": len(self.classes_),
                "classes": [c.item() if hasattr(c, "item") else c for c in self.classes_],
                "trained_by": f"parlearn.learn.{type(self).__name__}",
            },
        )
