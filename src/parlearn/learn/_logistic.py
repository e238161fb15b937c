"""``LogisticRegression``: binary and multinomial, L2, L1 and elastic-net, fitted by L-BFGS-B
or Newton-CG with the loss and gradient computed in parallel over row blocks.

The objective is scikit-learn's (1.8+ parametrisation), divided by ``C * total weight``::

    mean weighted log-loss + (1 - l1_ratio) / (2 C W) |w|^2 + l1_ratio / (C W) |w|_1

so the same ``C``, ``l1_ratio`` and ``tol`` mean what they mean to scikit-learn, and the two
reach the same minimum.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.special import expit, log_expit, log_softmax, softmax
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.class_weight import compute_sample_weight

from parlearn.learn._base import (
    LinearClassifierMixin,
    block_executor,
    check_nonnegative,
    check_sample_weight,
    encode_classes,
    validate_fit_data,
)
from parlearn.learn._execution import check_workers
from parlearn.learn._kernels import LossSpec
from parlearn.learn._objective import Objective
from parlearn.learn._solvers import Solution, minimize_lbfgs, minimize_newton_cg

__all__ = ["LogisticRegression"]

Array = NDArray[Any]
SOLVERS = ("lbfgs", "newton-cg")


def class_weights(class_weight: Any, y: Array, weights: Array | None, dtype: Any) -> Array | None:
    """Sample weights times the weights of each sample's class (None: no weighting at all)."""
    if class_weight is None:
        return weights
    per_class: Array = compute_sample_weight(class_weight, y).astype(dtype)
    return per_class if weights is None else per_class * weights


class LogisticRegression(LinearClassifierMixin, ClassifierMixin, BaseEstimator):
    """Logistic regression (binary or multinomial), trained in parallel over row blocks.

    Parameters
    ----------
    C : inverse regularisation strength (> 0; ``np.inf`` for none).
    l1_ratio : 0 for L2 (the default), 1 for L1, in between for elastic-net.
    fit_intercept : learn an intercept (never penalised).
    tol : stop when the largest component of the projected gradient is below ``tol``
        (``lbfgs``) or the gradient's norm is (``newton-cg``).
    max_iter : most solver iterations.
    solver : ``"lbfgs"`` (any penalty) or ``"newton-cg"`` (L2 only; one parallel pass per
        Hessian-vector product).
    class_weight : None, ``"balanced"`` or ``{class: weight}``: multiplies sample weights.
    workers : worker count; None for every core.
    backend : ``"auto"`` (the calling process for data under 32 MiB, else ``"threads"``: a
        block is a few large NumPy calls that release the GIL, and threads read the caller's
        array with no copy), ``"serial"``, ``"threads"``, ``"processes"`` (the data copied
        to shared memory once per fit; no copy if it is already there, see
        ``parlearn.parallel.share``) or ``"ray"`` (a cluster).

    The model depends on the data and the parameters only: not on ``workers`` or
    ``backend`` (row blocks are fixed by the data's shape and summed in a fixed order).

    Attributes
    ----------
    classes_, coef_ (1 or n_classes, n_features), intercept_, n_iter_ (array of one),
    objective_ (the final value of the objective above), n_features_in_,
    backend_ and workers_ (where the fit ran).
    """

    def __init__(
        self,
        C: float = 1.0,
        *,
        l1_ratio: float = 0.0,
        fit_intercept: bool = True,
        tol: float = 1e-4,
        max_iter: int = 100,
        solver: str = "lbfgs",
        class_weight: Any = None,
        workers: int | None = None,
        backend: str = "auto",
    ) -> None:
        self.C = C
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter
        self.solver = solver
        self.class_weight = class_weight
        self.workers = workers
        self.backend = backend

    def _check_params(self) -> tuple[float, float]:
        C = check_nonnegative("C", self.C, strict=True, allow_inf=True)
        l1_ratio = check_nonnegative("l1_ratio", self.l1_ratio)
        if l1_ratio > 1:
            raise ValueError(f"l1_ratio must be in [0, 1], got {self.l1_ratio!r}")
        check_nonnegative("tol", self.tol, strict=True)
        if (
            isinstance(self.max_iter, bool)
            or not isinstance(self.max_iter, int)
            or self.max_iter < 1
        ):
            raise ValueError(f"max_iter must be an int >= 1, got {self.max_iter!r}")
        if self.solver not in SOLVERS:
            raise ValueError(
                f"solver must be one of {', '.join(map(repr, SOLVERS))}, got {self.solver!r}"
            )
        if self.solver == "newton-cg" and l1_ratio > 0:
            raise ValueError(
                f"solver='newton-cg' supports only L2 (l1_ratio=0), got l1_ratio={l1_ratio}; "
                "use solver='lbfgs' for L1 and elastic-net"
            )
        check_workers(self.workers)
        return C, l1_ratio

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> LogisticRegression:
        """Fit the model on ``X`` (n_samples, n_features) and labels ``y``."""
        C, l1_ratio = self._check_params()
        X, y = validate_fit_data(self, X, y, classifier=True)
        classes, indices = encode_classes(y)
        weights = check_sample_weight(sample_weight, len(X), X.dtype)
        weights = class_weights(self.class_weight, y, weights, X.dtype)
        total = float(len(X)) if weights is None else float(weights.sum())
        if total <= 0:
            raise ValueError("sample weights sum to zero; at least one sample needs weight > 0")
        binary = len(classes) == 2
        outputs = 1 if binary else len(classes)
        if binary:
            spec, targets = LossSpec("log_loss"), np.where(indices == 1, 1, -1).astype(X.dtype)
        else:
            spec, targets = LossSpec("multinomial"), indices
        strength = 0.0 if math.isinf(C) else 1.0 / (C * total)
        with block_executor(X, targets, weights, backend=self.backend, workers=self.workers) as (
            run,
            data,
        ):
            objective = Objective(
                run,
                spec,
                len(data.blocks),
                X.shape[1],
                outputs,
                fit_intercept=bool(self.fit_intercept),
                total_weight=total,
                l2=(1 - l1_ratio) * strength,
            )
            solution = self._solve(objective, l1_ratio * strength)
            self.backend_, self.workers_ = run.backend, run.workers
        coef, intercept = objective.unpack(solution.x)
        self.classes_ = classes
        self.coef_ = np.asarray(coef, dtype=X.dtype).T.reshape(outputs, X.shape[1]).copy()
        self.intercept_ = np.asarray(intercept, dtype=X.dtype).reshape(outputs).copy()
        self.n_iter_ = np.array([solution.n_iter], dtype=np.int32)
        self.objective_ = solution.fun
        if not solution.converged:
            warnings.warn(
                f"{self.solver} did not converge in {self.max_iter} iterations "
                f"({solution.message}); increase max_iter or scale the data",
                ConvergenceWarning,
                stacklevel=2,
            )
        return self

    def _solve(self, objective: Objective, l1: float) -> Solution:
        x0 = np.zeros(objective.size)
        if self.solver == "newton-cg":
            return minimize_newton_cg(
                objective.loss_gradient,
                objective.hessian_product,
                x0,
                tol=self.tol,
                max_iter=self.max_iter,
            )
        strengths = None
        if l1 > 0:
            strengths = np.zeros(objective.size)
            strengths[: objective.n_features * objective.n_outputs] = l1
        return minimize_lbfgs(
            objective.loss_gradient, x0, l1=strengths, tol=self.tol, max_iter=self.max_iter
        )

    def predict_proba(self, X: Any) -> Array:
        """Probability of each class (columns in the order of ``classes_``)."""
        scores = self._raw_scores(X)
        if scores.shape[1] == 1:
            positive = expit(scores[:, 0])
            return np.column_stack([1 - positive, positive])
        out: Array = softmax(scores, axis=1)
        return out

    def predict_log_proba(self, X: Any) -> Array:
        """Log of :meth:`predict_proba`, computed stably."""
        scores = self._raw_scores(X)
        if scores.shape[1] == 1:
            return np.column_stack([log_expit(-scores[:, 0]), log_expit(scores[:, 0])])
        out: Array = log_softmax(scores, axis=1)
        return out
