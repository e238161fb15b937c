"""Full-batch solvers on SciPy: L-BFGS-B (with L1 by variable splitting) and Newton-CG.

L1 and elastic-net with a quasi-Newton method: the non-smooth ``l1 * |x|`` is removed by
writing ``x = u - v`` with ``u, v >= 0``; then ``l1 * (u + v)`` is linear and L-BFGS-B handles
the bounds (the classic reformulation, e.g. Schmidt, Fung and Rosales 2007). At the optimum one
of ``u_j, v_j`` is zero, and coefficients the penalty removes sit exactly on a bound: exact
zeros, as with coordinate descent.

Newton-CG is SciPy's trust-region Newton-CG (``trust-ncg``): each CG step needs one
Hessian-vector product, itself one parallel pass over the data; it stops on the gradient norm.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import optimize

__all__ = ["Solution", "minimize_lbfgs", "minimize_newton_cg"]

Vector = NDArray[np.float64]
LossGradient = Callable[[Vector], tuple[float, Vector]]

# As scikit-learn: a relative decrease this small in the objective also stops L-BFGS, so the
# gradient tolerance decides in practice.
FTOL = 64 * float(np.finfo(float).eps)


@dataclass(frozen=True)
class Solution:
    x: Vector
    fun: float
    n_iter: int
    converged: bool
    message: str


def minimize_lbfgs(
    fun: LossGradient,
    x0: Vector,
    *,
    l1: Vector | None = None,
    tol: float,
    max_iter: int,
    memory: int = 10,
) -> Solution:
    """Minimise ``fun(x) + sum(l1 * |x|)`` from ``x0`` (``l1``: a strength per variable)."""
    options = {"maxiter": max_iter, "maxls": 50, "gtol": tol, "ftol": FTOL, "maxcor": memory}
    if l1 is None or not np.any(l1 > 0):
        result = optimize.minimize(fun, x0, method="L-BFGS-B", jac=True, options=options)
        return _solution(result, result.x)
    l1 = np.asarray(l1, dtype=np.float64)
    n = len(x0)
    penalized = l1 > 0

    def split(z: Vector) -> tuple[float, Vector]:
        x = z[:n] - z[n:]
        value, grad = fun(x)
        value += float(np.dot(l1, z[:n] + z[n:]))
        return value, np.concatenate([grad + l1, -grad + l1])

    z0 = np.concatenate([np.maximum(x0, 0), np.maximum(-x0, 0)])
    # Unpenalised variables (the intercept) stay free on u; their v is pinned at zero.
    bounds: list[tuple[float | None, float | None]] = [
        (0.0, None) if p else (None, None) for p in penalized
    ]
    bounds += [(0.0, None) if p else (0.0, 0.0) for p in penalized]
    z0[:n][~penalized] = x0[~penalized]
    result = optimize.minimize(
        split, z0, method="L-BFGS-B", jac=True, bounds=bounds, options=options
    )
    return _solution(result, result.x[:n] - result.x[n:])


def minimize_newton_cg(
    fun: LossGradient,
    hessian_product: Callable[[Vector, Vector], Vector],
    x0: Vector,
    *,
    tol: float,
    max_iter: int,
) -> Solution:
    """Minimise a smooth, convex ``fun`` with trust-region Newton-CG."""
    with warnings.catch_warnings():
        # SciPy warns when it stops on max_iter; the estimator raises its own warning.
        warnings.simplefilter("ignore", RuntimeWarning)
        result = optimize.minimize(
            fun,
            x0,
            method="trust-ncg",
            jac=True,
            hessp=hessian_product,
            options={"gtol": tol, "maxiter": max_iter},
        )
    return _solution(result, result.x)


def _solution(result: Any, x: Vector) -> Solution:
    # Status 1 is "iteration limit reached" for both methods. The others that are not success
    # (L-BFGS-B's abnormal line search, trust-ncg's "bad approximation") mean no further
    # decrease can be measured in floating point: at a tight tol, that is the optimum.
    fun = float(result.fun)
    return Solution(
        x=np.asarray(x, dtype=np.float64),
        fun=fun,
        n_iter=int(result.get("nit", 0)),
        converged=int(result.status) != 1 and np.isfinite(fun),
        message=str(result.message),
    )
