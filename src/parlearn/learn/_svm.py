"""``LinearSVC``: a linear support vector classifier (hinge or squared hinge, L2 or L1),
one-vs-rest for more than two classes, fitted by L-BFGS-B over parallel row blocks.

The objective is scikit-learn's ``1/2 |w|^2 + C sum_i loss_i`` (``|w|_1`` for L1), divided
by ``C * total weight``. The squared hinge is smooth, so L-BFGS solves it directly. The hinge
is not: it is replaced by Nesterov's smoothing (a quadratic on a band of width ``mu`` below
margin 1, exact elsewhere) and solved for mu = 1, 0.1, ..., 1e-3, each stage starting from the
last (a continuation). The smoothed objective is within ``mu / 2`` per sample of the hinge's,
so the last stage is within 0.05% of the true hinge optimum's loss term.

One-vs-rest classes share every data pass: the K binary problems are independent, so their
sum is minimised jointly with one ``X @ W`` per pass.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning

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
from parlearn.learn._logistic import class_weights
from parlearn.learn._objective import Objective
from parlearn.learn._solvers import Solution, minimize_lbfgs

__all__ = ["LinearSVC"]

Array = NDArray[Any]
LOSSES = ("squared_hinge", "hinge")
PENALTIES = ("l2", "l1")
# Smoothing widths of the hinge's continuation, widest first.
HINGE_SMOOTHING = (1.0, 0.1, 0.01, 0.001)


class LinearSVC(LinearClassifierMixin, ClassifierMixin, BaseEstimator):
    """Linear support vector classification, trained in parallel over row blocks.

    Parameters
    ----------
    C : inverse regularisation strength (> 0).
    loss : ``"squared_hinge"`` (default, smooth) or ``"hinge"`` (smoothed, see the module).
    penalty : ``"l2"`` or ``"l1"``.
    fit_intercept : learn an intercept; unlike liblinear's, it is not penalised.
    tol, max_iter : L-BFGS-B's gradient tolerance and iteration limit (per smoothing stage).
    class_weight, workers, backend : as in :class:`LogisticRegression`.

    Attributes: ``classes_``, ``coef_`` (1 or n_classes, n_features), ``intercept_``,
    ``n_iter_`` (iterations, all stages), ``objective_`` (the final objective, true hinge),
    ``n_features_in_``, ``backend_``, ``workers_``.
    """

    def __init__(
        self,
        C: float = 1.0,
        *,
        loss: str = "squared_hinge",
        penalty: str = "l2",
        fit_intercept: bool = True,
        tol: float = 1e-4,
        max_iter: int = 1000,
        class_weight: Any = None,
        workers: int | None = None,
        backend: str = "auto",
    ) -> None:
        self.C = C
        self.loss = loss
        self.penalty = penalty
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter
        self.class_weight = class_weight
        self.workers = workers
        self.backend = backend

    def _check_params(self) -> float:
        C = check_nonnegative("C", self.C, strict=True)
        if self.loss not in LOSSES:
            raise ValueError(
                f"loss must be one of {', '.join(map(repr, LOSSES))}, got {self.loss!r}"
            )
        if self.penalty not in PENALTIES:
            raise ValueError(
                f"penalty must be one of {', '.join(map(repr, PENALTIES))}, got {self.penalty!r}"
            )
        check_nonnegative("tol", self.tol, strict=True)
        if (
            isinstance(self.max_iter, bool)
            or not isinstance(self.max_iter, int)
            or self.max_iter < 1
        ):
            raise ValueError(f"max_iter must be an int >= 1, got {self.max_iter!r}")
        check_workers(self.workers)
        return C

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> LinearSVC:
        """Fit the model on ``X`` (n_samples, n_features) and labels ``y``."""
        C = self._check_params()
        X, y = validate_fit_data(self, X, y, classifier=True)
        classes, indices = encode_classes(y)
        weights = check_sample_weight(sample_weight, len(X), X.dtype)
        weights = class_weights(self.class_weight, y, weights, X.dtype)
        total = float(len(X)) if weights is None else float(weights.sum())
        if total <= 0:
            raise ValueError("sample weights sum to zero; at least one sample needs weight > 0")
        outputs = 1 if len(classes) == 2 else len(classes)
        if outputs == 1:
            targets = np.where(indices == 1, 1, -1).astype(X.dtype)
        else:  # one-vs-rest: column k is +1 for class k, -1 for the others
            targets = np.where(indices[:, None] == np.arange(outputs), 1, -1).astype(X.dtype)
        strength = 1.0 / (C * total)
        l2 = strength if self.penalty == "l2" else 0.0
        with block_executor(X, targets, weights, backend=self.backend, workers=self.workers) as (
            run,
            data,
        ):
            objective = Objective(
                run,
                LossSpec(self.loss),
                len(data.blocks),
                X.shape[1],
                outputs,
                fit_intercept=bool(self.fit_intercept),
                total_weight=total,
                l2=l2,
            )
            l1 = None
            if self.penalty == "l1":
                l1 = np.zeros(objective.size)
                l1[: X.shape[1] * outputs] = strength
            solution, iterations = self._solve(objective, l1)
            objective.spec = LossSpec(self.loss)
            final = objective.loss(solution.x)
            if l1 is not None:
                final += float(np.dot(l1, np.abs(solution.x)))
            self.backend_, self.workers_ = run.backend, run.workers
        coef, intercept = objective.unpack(solution.x)
        self.classes_ = classes
        self.coef_ = np.asarray(coef, dtype=X.dtype).T.reshape(outputs, X.shape[1]).copy()
        self.intercept_ = np.asarray(intercept, dtype=X.dtype).reshape(outputs).copy()
        self.n_iter_ = iterations
        self.objective_ = final
        if not solution.converged:
            warnings.warn(
                f"LinearSVC did not converge in {self.max_iter} iterations "
                f"({solution.message}); increase max_iter or scale the data",
                ConvergenceWarning,
                stacklevel=2,
            )
        return self

    def _solve(self, objective: Objective, l1: Array | None) -> tuple[Solution, int]:
        x = np.zeros(objective.size)
        if self.loss == "squared_hinge":
            solution = minimize_lbfgs(
                objective.loss_gradient, x, l1=l1, tol=self.tol, max_iter=self.max_iter
            )
            return solution, solution.n_iter
        iterations = 0
        for mu in HINGE_SMOOTHING:
            objective.spec = LossSpec("smooth_hinge", mu)
            last = mu == HINGE_SMOOTHING[-1]
            solution = minimize_lbfgs(
                objective.loss_gradient,
                x,
                l1=l1,
                tol=self.tol if last else max(self.tol, mu * 1e-2),
                max_iter=self.max_iter,
            )
            x, iterations = solution.x, iterations + solution.n_iter
        return solution, iterations
