"""``Ridge`` and ``LinearRegression``: least squares in closed form from one parallel pass.

::

    blocks ─► (Xs.T W Xs, Xs.T W ys, sums)  each block, on the data shifted by the first rows'
              │                             mean (keeps the centring below exact enough)
    sum in block order ─► centre: G - W m m^T,  c - W m my^T
                       ─► solve (G + alpha I) coef = c   (Cholesky; least squares if singular)

One pass over the data whatever its size, d x d numbers per block back to the parent: the
normal equations, which scale to any number of rows (for d up to a few thousand).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import linalg
from sklearn.base import BaseEstimator, RegressorMixin

from parlearn.learn._base import (
    LinearPredictorMixin,
    block_executor,
    check_nonnegative,
    check_sample_weight,
    validate_fit_data,
)
from parlearn.learn._execution import check_workers
from parlearn.learn._kernels import LossSpec
from parlearn.learn._objective import sum_in_order
from parlearn.models import ModelArtifact

__all__ = ["LinearRegression", "Ridge"]

Array = NDArray[Any]
# The shift is the mean of this many leading rows: any value near the mean will do.
SHIFT_ROWS = 1000


def solve_normal_equations(gram: Array, cross: Array, alpha: float) -> Array:
    """``(gram + alpha I)^-1 cross``, by Cholesky; the minimum-norm least-squares solution
    when the system is singular (collinear features without regularisation)."""
    system = gram + alpha * np.eye(len(gram))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", linalg.LinAlgWarning)
            solution: Array = linalg.solve(system, cross, assume_a="pos")
        return solution
    except (linalg.LinAlgError, linalg.LinAlgWarning, ValueError):
        solution = linalg.lstsq(system, cross)[0]
        return solution


class _LeastSquares(LinearPredictorMixin, RegressorMixin, BaseEstimator):
    """What Ridge and LinearRegression share: one Gram pass, then a d x d solve."""

    fit_intercept: bool
    workers: int | None
    backend: str

    def _alpha(self) -> float:
        raise NotImplementedError

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> Any:
        """Fit on ``X`` (n_samples, n_features) and targets ``y`` (n_samples[, n_targets])."""
        alpha = self._alpha()
        check_workers(self.workers)
        X, y = validate_fit_data(self, X, y, classifier=False, multi_output=True)
        weights = check_sample_weight(sample_weight, len(X), X.dtype)
        if weights is not None and not weights.sum() > 0:
            raise ValueError("sample weights sum to zero; at least one sample needs weight > 0")
        targets = y.reshape(len(y), -1)
        d = X.shape[1]
        if self.fit_intercept:
            shift_x = X[:SHIFT_ROWS].mean(axis=0, dtype=np.float64)
            shift_y = targets[:SHIFT_ROWS].mean(axis=0, dtype=np.float64)
        else:
            shift_x, shift_y = np.zeros(d), np.zeros(targets.shape[1])
        with block_executor(X, targets, weights, backend=self.backend, workers=self.workers) as (
            run,
            data,
        ):
            spec = LossSpec("squared_error")
            items = [("gram", i, spec, (shift_x, shift_y)) for i in range(len(data.blocks))]
            gram, cross, sum_x, sum_y, total = sum_in_order(run.map(items))
            self.backend_, self.workers_ = run.backend, run.workers
        if self.fit_intercept:
            mean_x, mean_y = sum_x / total, sum_y / total
            gram = gram - total * np.outer(mean_x, mean_x)
            cross = cross - total * np.outer(mean_x, mean_y)
        coef = solve_normal_equations(gram, cross, alpha)  # (d, targets)
        if self.fit_intercept:
            intercept = (shift_y + mean_y) - (shift_x + mean_x) @ coef
        else:
            intercept = np.zeros(targets.shape[1])
        if y.ndim == 1:
            self.coef_ = coef[:, 0].astype(X.dtype)
            self.intercept_ = X.dtype.type(intercept[0])
        else:
            self.coef_ = coef.T.astype(X.dtype)
            self.intercept_ = intercept.astype(X.dtype)
        return self

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def predict(self, X: Any) -> Array:
        """Predicted targets."""
        scores = self._raw_scores(X)
        return scores[:, 0] if np.ndim(self.coef_) == 1 else scores

    def to_artifact(self) -> ModelArtifact:
        """The model as a parlearn model artifact, kind ``"linear"`` (one target only)."""
        if np.ndim(self.coef_) != 1:
            raise ValueError(
                "the model artifact holds one target; this model has "
                f"{np.shape(self.coef_)[0]}: fit one model per target to export them"
            )
        return ModelArtifact(
            "linear",
            [np.asarray(self.coef_, dtype=np.float64), np.asarray(self.intercept_, np.float64)],
            {
                "num_features": int(np.shape(self.coef_)[0]),
                "trained_by": f"parlearn.learn.{type(self).__name__}",
            },
        )


class Ridge(_LeastSquares):
    """Least squares with an L2 penalty: minimises ``|y - X w - b|^2_W + alpha |w|^2``
    (scikit-learn's objective), from one parallel pass over row blocks.

    Parameters: ``alpha`` (>= 0), ``fit_intercept``, ``workers`` (None: every core),
    ``backend`` (``"auto"``, ``"serial"``, ``"threads"``, ``"processes"``, ``"ray"``).
    Attributes: ``coef_`` ((n_features,) or (n_targets, n_features)), ``intercept_``,
    ``n_features_in_``, ``backend_``, ``workers_``.
    """

    def __init__(
        self,
        alpha: float = 1.0,
        *,
        fit_intercept: bool = True,
        workers: int | None = None,
        backend: str = "auto",
    ) -> None:
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.workers = workers
        self.backend = backend

    def _alpha(self) -> float:
        return check_nonnegative("alpha", self.alpha)


class LinearRegression(_LeastSquares):
    """Ordinary least squares (minimum-norm when features are collinear), from one parallel
    pass over row blocks. Parameters and attributes as :class:`Ridge`, without ``alpha``."""

    def __init__(
        self, *, fit_intercept: bool = True, workers: int | None = None, backend: str = "auto"
    ) -> None:
        self.fit_intercept = fit_intercept
        self.workers = workers
        self.backend = backend

    def _alpha(self) -> float:
        return 0.0
