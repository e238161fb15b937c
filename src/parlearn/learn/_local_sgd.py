"""Local SGD with periodic averaging (Stich 2018, "Local SGD converges fast and communicates
little"), over data in memory or streamed in chunks.

::

    for each epoch, for each chunk (the whole array, or one read from a source):
        order = permutation of the chunk's rows, seeded by (seed, epoch, chunk)
        replica m takes its contiguous share of ``order``; in rounds of ``average_every``
        batches, every replica runs local steps from the same weights (one item each,
        in parallel on the pool), then the parent averages them, weighted by rows, in
        replica order ─► the weights every replica starts the next round from

The replicas are a property of the model, not of the machine: ``replicas`` streams are
computed whatever the number of workers (two workers run four replicas each), so the same seed
gives the same model on any number of workers and any backend.

What travels per round: the weights and a few integers per replica (process workers reach the
chunk through shared memory; Ray workers get the rows of their share, once per epoch).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from parlearn.learn._blocks import to_shared
from parlearn.learn._execution import BlockExecutor
from parlearn.learn._sgd import ReplicaResult, SGDSettings, local_steps, soft_threshold

__all__ = ["Chunk", "EpochResult", "LocalSGD", "SGDState", "run_replica"]

Array = NDArray[Any]


@dataclass(frozen=True)
class Chunk:
    """Rows to train on: features, encoded targets (n,) or (n, K), optional weights."""

    X: Array
    Y: Array
    weights: Array | None = None


@dataclass
class SGDState:
    coef: NDArray[np.float64]  # (d,) or (d, K)
    intercept: NDArray[np.float64]  # () or (K,)
    t: float = 0.0  # samples seen per replica, for the learning-rate schedule


@dataclass(frozen=True)
class EpochResult:
    loss_sum: float
    weight_sum: float
    rows: int

    @property
    def mean_loss(self) -> float:
        return self.loss_sum / self.weight_sum if self.weight_sum > 0 else float("nan")


def run_replica(item: tuple[Any, ...]) -> ReplicaResult:
    """The resident task: one replica's local steps for one round."""
    X, Y, weights, order, start, stop, coef, intercept, t, settings = item
    return local_steps(X, Y, weights, order, start, stop, coef, intercept, t, settings)


class LocalSGD:
    """Runs rounds of local SGD on ``run`` (a pool with :func:`run_replica` resident)."""

    def __init__(
        self,
        run: BlockExecutor,
        settings: SGDSettings,
        *,
        replicas: int,
        average_every: int,
        seed: int,
        shuffle: bool,
    ) -> None:
        self._run = run
        self.settings = settings
        self.replicas = replicas
        self.average_every = average_every
        self.seed = seed
        self.shuffle = shuffle
        # Process workers read chunks through shared memory; Ray gets each share's rows.
        self._shared = run.backend == "processes"
        self._gather = run.backend == "ray"

    def epoch(self, chunks: Iterable[Chunk], state: SGDState, epoch: int) -> EpochResult:
        """One pass over ``chunks``, updating ``state`` in place."""
        loss_sum = weight_sum = 0.0
        rows = 0
        for index, chunk in enumerate(chunks):
            result = self.chunk(chunk, state, epoch, index)
            loss_sum += result.loss_sum
            weight_sum += result.weight_sum
            rows += result.rows
            if not (np.all(np.isfinite(state.coef)) and np.all(np.isfinite(state.intercept))):
                raise ValueError(
                    f"Floating-point under-/overflow occurred at epoch #{epoch + 1}: the "
                    "weights are no longer finite. Scale the features (StandardScaler) or "
                    "lower eta0"
                )
        return EpochResult(loss_sum, weight_sum, rows)

    def chunk(self, chunk: Chunk, state: SGDState, epoch: int, index: int) -> EpochResult:
        n = len(chunk.X)
        if n == 0:
            return EpochResult(0.0, 0.0, 0)
        order: Array | None = None
        if self.shuffle:
            order = np.random.default_rng([self.seed, epoch, index]).permutation(n)
        shared_order = None
        if self._shared and order is not None:
            shared_order = order = to_shared(order)
        try:
            return self._rounds(chunk, order, state)
        finally:
            if shared_order is not None:
                shared_order.close()

    def _shares(self, n: int) -> list[tuple[int, int]]:
        size = math.ceil(n / self.replicas)
        return [(m * size, min((m + 1) * size, n)) for m in range(self.replicas)]

    def _rounds(self, chunk: Chunk, order: Array | None, state: SGDState) -> EpochResult:
        per_round = self.average_every * self.settings.batch_size
        shares = [share for share in self._shares(len(chunk.X)) if share[1] > share[0]]
        longest = max(stop - start for start, stop in shares)
        loss_sum = weight_sum = 0.0
        for offset in range(0, longest, per_round):
            spans = [
                (start + offset, min(start + offset + per_round, stop))
                for start, stop in shares
                if start + offset < stop
            ]
            results = self._run.map([self._item(chunk, order, span, state) for span in spans])
            self._average(results, state)
            l1 = self.settings.alpha * self.settings.l1_ratio
            if l1 > 0:
                soft_threshold(state.coef, l1 * max(r.last_step for r in results))
            loss_sum += sum(r.loss_sum for r in results)
            weight_sum += sum(r.weight_sum for r in results)
        return EpochResult(loss_sum, weight_sum, len(chunk.X))

    def _item(
        self, chunk: Chunk, order: Array | None, span: tuple[int, int], state: SGDState
    ) -> tuple[Any, ...]:
        start, stop = span
        if self._gather:  # ship only this share's rows
            rows = np.arange(start, stop) if order is None else np.sort(order[start:stop])
            weights = None if chunk.weights is None else chunk.weights[rows]
            data: tuple[Any, ...] = (chunk.X[rows], chunk.Y[rows], weights, None, 0, len(rows))
        else:
            data = (chunk.X, chunk.Y, chunk.weights, order, start, stop)
        return (*data, state.coef, state.intercept, state.t, self.settings)

    @staticmethod
    def _average(results: list[ReplicaResult], state: SGDState) -> None:
        """Row-weighted mean of the replicas, added in replica order (float64)."""
        total = sum(r.rows for r in results)
        coef = np.zeros_like(state.coef)
        intercept = np.zeros_like(state.intercept)
        for r in results:
            coef += (r.rows / total) * r.coef
            intercept += (r.rows / total) * r.intercept
        state.coef, state.intercept = coef, intercept
        state.t += total / len(results)


def chunks_of(X: Array, Y: Array, weights: Array | None) -> Iterator[Chunk]:
    """The whole of an in-memory data set as one chunk."""
    yield Chunk(X, Y, weights)
