"""The regularised objective of a linear model, evaluated in parallel over row blocks.

::

    parent (the solver)                               workers (BlockTask, resident)
    theta ─► Objective.loss_gradient(theta)
              items [("loss_gradient", block i, coef, intercept) for i in blocks] ──► one
              block each: _kernels.block_loss_gradient over the rows it holds
              sum of the partial results, in block order ◄── (loss sum, gradient sums)
           ◄─ f = sum / total weight + l2/2 |coef|^2, and its gradient

The data travel once per fit (inside the resident task); an iteration sends only the
weights (a few KB) and gets back one gradient per block.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from parlearn.learn import _kernels
from parlearn.learn._blocks import assert_finite, populate
from parlearn.learn._execution import BlockExecutor
from parlearn.learn._kernels import LossSpec

__all__ = ["BlockTask", "Objective", "TrainingData", "sum_in_order"]

Array = NDArray[Any]
Vector = NDArray[np.float64]


@dataclass(frozen=True)
class TrainingData:
    """What the workers hold for a fit: data, encoded targets, weights, and the block plan."""

    X: Array
    y: Array
    weights: Array | None
    blocks: tuple[tuple[int, int], ...]


@dataclass
class BlockTask:
    """The resident task: one operation on one block of the data it holds.

    An item is ``(operation, block index, loss, arguments)``: the loss travels with each item
    (a few bytes) so one resident task serves a whole fit, smoothing stages included.

    The first time a worker meets a block it checks it for NaN and infinity: the check runs
    in parallel, on data about to be read anyway, instead of as a pass of its own."""

    data: TrainingData
    _mapped: bool = field(default=False, repr=False)
    _checked: set[int] = field(default_factory=set, repr=False)

    def __call__(self, item: tuple[str, int, LossSpec, tuple[Any, ...]]) -> Any:
        if not self._mapped:  # a worker's first call: map the shared pages in one go
            self._mapped = True
            for array in (self.data.X, self.data.y, self.data.weights):
                if array is not None:
                    populate(array)
        op, index, spec, args = item
        d = self.data
        rows = d.blocks[index]
        if index not in self._checked:
            assert_finite(d.X[rows[0] : rows[1]], "X")
            self._checked.add(index)
        if op == "loss_gradient":
            coef, intercept = args
            return _kernels.block_loss_gradient(d.X, d.y, d.weights, rows, coef, intercept, spec)
        if op == "loss":
            coef, intercept = args
            return _kernels.block_loss_values(d.X, d.y, d.weights, rows, coef, intercept, spec)
        if op == "hessian_product":
            coef, intercept, direction = args
            return _kernels.block_hessian_product(
                d.X, d.y, d.weights, rows, coef, intercept, direction, spec
            )
        if op == "gram":
            return _kernels.block_gram(d.X, d.y, d.weights, rows, *args)
        raise ValueError(f"unknown block operation {op!r}")


def sum_in_order(results: Sequence[Any]) -> Any:
    """Partial results (numbers, arrays, or tuples of them) added in the order given: the
    block order, which never depends on the workers."""
    total = results[0]
    for part in results[1:]:
        if isinstance(part, tuple):
            total = tuple(a + b for a, b in zip(total, part, strict=True))
        else:
            total = total + part
    return total


class Objective:
    """``f(theta) = sum of weighted losses / total weight + l2 / 2 * |coef|^2``.

    ``theta`` is the flat float64 vector ``[coef.ravel(), intercept]`` (the intercept only
    with ``fit_intercept``); coef is (d,) for one output, (d, K) for K.
    """

    def __init__(
        self,
        run: BlockExecutor,
        spec: LossSpec,
        n_blocks: int,
        n_features: int,
        n_outputs: int,
        *,
        fit_intercept: bool,
        total_weight: float,
        l2: float,
    ) -> None:
        self._run = run
        self.spec = spec
        self._blocks = range(n_blocks)
        self.n_features = n_features
        self.n_outputs = n_outputs
        self.fit_intercept = fit_intercept
        self.total_weight = total_weight
        self.l2 = l2
        self.evaluations = 0

    @property
    def size(self) -> int:
        return self.n_features * self.n_outputs + (self.n_outputs if self.fit_intercept else 0)

    def unpack(self, theta: Vector) -> tuple[Vector, Vector]:
        """(coef, intercept) views of ``theta``."""
        k = self.n_outputs
        split = self.n_features * k
        coef = theta[:split] if k == 1 else theta[:split].reshape(self.n_features, k)
        intercept = theta[split:] if self.fit_intercept else np.zeros(k)
        return coef, (intercept if k > 1 else intercept.reshape(()))

    def _pack(self, coef: Array, intercept: Array) -> Vector:
        parts = [np.asarray(coef, dtype=np.float64).ravel()]
        if self.fit_intercept:
            parts.append(np.asarray(intercept, dtype=np.float64).ravel())
        return np.concatenate(parts)

    def _map(self, op: str, args: tuple[Any, ...]) -> Any:
        return sum_in_order(self._run.map([(op, i, self.spec, args) for i in self._blocks]))

    def loss_gradient(self, theta: Vector) -> tuple[float, Vector]:
        self.evaluations += 1
        coef, intercept = self.unpack(theta)
        loss, grad, grad_intercept = self._map("loss_gradient", (coef, intercept))
        scale = 1.0 / self.total_weight
        value = loss * scale + 0.5 * self.l2 * float(np.dot(coef.ravel(), coef.ravel()))
        gradient = self._pack(grad * scale + self.l2 * coef, grad_intercept * scale)
        return value, gradient

    def loss(self, theta: Vector) -> float:
        coef, intercept = self.unpack(theta)
        total = float(self._map("loss", (coef, intercept)))
        return total / self.total_weight + 0.5 * self.l2 * float(np.dot(coef.ravel(), coef.ravel()))

    def hessian_product(self, theta: Vector, vector: Vector) -> Vector:
        coef, intercept = self.unpack(theta)
        v_coef, v_intercept = self.unpack(np.asarray(vector, dtype=np.float64))
        h, h_intercept = self._map("hessian_product", (coef, intercept, (v_coef, v_intercept)))
        scale = 1.0 / self.total_weight
        return self._pack(h * scale + self.l2 * v_coef, h_intercept * scale)
