"""``federate``: a whole federated experiment in one call -- data, partition, clients, strategy,
simulation, model artifact. The ``parlearn federate`` command and notebooks both use it.

::

    dataset ─► held-out test set (centralized evaluation)
          └─► training part ─► partition (iid · dirichlet · shards · natural)
                                 └─► per-client train/test split
    X, y ─► shared memory once ─► ArrayClients built in the workers, per round
    simulate(...) ─► History ─► ModelArtifact (model.npz)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from parlearn.federated._history import History, RoundRecord
from parlearn.federated._types import Config, Metrics, Parameters
from parlearn.federated.client import ArrayClient
from parlearn.federated.datasets import Dataset, load_dataset, train_test_split
from parlearn.federated.partition import (
    Partition,
    partition_dirichlet,
    partition_iid,
    partition_natural,
    partition_shards,
    train_test_split_per_client,
)
from parlearn.federated.simulation import StragglerPolicy, simulate
from parlearn.federated.strategy import make_strategy
from parlearn.models import ModelArtifact, linear
from parlearn.parallel import SharedArray, share

__all__ = ["PARTITIONS", "ArrayClientFactory", "FederateResult", "federate"]

PARTITIONS: tuple[str, ...] = ("iid", "dirichlet", "shards", "natural")


@dataclass
class ArrayClientFactory:
    """Builds client ``cid`` from shared arrays and two partitions: picklable, small, and the
    same object for every client (the ``client_fn`` the simulator ships to its workers)."""

    # Its clients are the built-in NumPy trainers: their errors are exceptions, never a dead
    # process, so the simulator may run some of them in the server (``simulate``).
    safe_in_server: ClassVar[bool] = True

    kind: str
    X: NDArray[np.float64]
    y: NDArray[Any]
    train: Partition
    test: Partition
    num_classes: int
    epochs: int
    batch_size: int
    learning_rate: float

    def num_examples(self, cid: int) -> int:
        """Client ``cid``'s training examples, known before it runs: the simulator balances
        rounds by it until the client has reported its own (and been timed)."""
        return int(self.train.offsets[cid + 1] - self.train.offsets[cid])

    def __call__(self, cid: int) -> ArrayClient:
        return _RowsClient(self, cid)

    def rows(self, part: Partition, cid: int) -> tuple[NDArray[np.float64], NDArray[Any]]:
        """Client ``cid``'s samples in ``part`` (train or test), copied out of the shared
        arrays as plain ndarrays: rows of a SharedArray would be SharedArrays too, and every
        NumPy step of training would pay the subclass's Python-level hooks."""
        rows = part.client_indices(cid)
        return np.asarray(self.X)[rows], np.asarray(self.y)[rows]


_NOT_YET: NDArray[Any] = np.empty(0)


class _RowsClient(ArrayClient):
    """An ``ArrayClient`` over a factory's shared arrays. Its test rows are copied out only
    when it is asked to evaluate: a fit (most calls) never reads them."""

    def __init__(self, factory: ArrayClientFactory, cid: int) -> None:
        X_train, y_train = factory.rows(factory.train, cid)
        super().__init__(
            factory.kind, X_train, y_train, _NOT_YET, _NOT_YET,
            num_classes=factory.num_classes, epochs=factory.epochs,
            batch_size=factory.batch_size, learning_rate=factory.learning_rate,
        )  # fmt: skip
        self._factory = factory
        self._cid = cid

    def evaluate(self, parameters: Parameters, config: Config) -> tuple[float, int, Metrics]:
        if self.X_test is _NOT_YET:
            self.X_test, self.y_test = self._factory.rows(self._factory.test, self._cid)
        return super().evaluate(parameters, config)


@dataclass
class FederateResult:
    """What :func:`federate` returns: the history and the final model."""

    history: History
    artifact: ModelArtifact
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def accuracy(self) -> float | None:
        final = self.history.final
        return None if final is None else final.test_accuracy


def federate(
    dataset: str | Dataset = "digits",
    *,
    dataset_options: dict[str, Any] | None = None,
    num_clients: int = 10,
    partition: str = "dirichlet",
    alpha: float = 0.5,
    shards_per_client: int = 2,
    strategy: str = "fedavg",
    strategy_options: dict[str, Any] | None = None,
    rounds: int = 20,
    fraction_fit: float = 1.0,
    fraction_evaluate: float = 1.0,
    local_epochs: int = 1,
    batch_size: int = 16,
    learning_rate: float = 0.5,
    model: str = "logistic",
    proximal_mu: float | None = None,
    stragglers: float = 0.0,
    straggler_policy: StragglerPolicy = "partial",
    dropout: float = 0.0,
    test_fraction: float = 0.2,
    client_test_fraction: float = 0.2,
    seed: int = 0,
    workers: int | None = None,
    backend: str = "processes",
    run_in_server: bool | None = None,
    on_round: Callable[[RoundRecord], None] | None = None,
) -> FederateResult:
    """Train ``model`` over ``num_clients`` simulated clients and return the history and model.

    ``dataset`` is ``"digits"``, ``"synthetic"`` / ``"synthetic(a,b)"``, a path to ``.npz`` /
    ``.csv`` / an MNIST IDX folder, or a :class:`Dataset`. ``partition`` is one of
    ``iid``, ``dirichlet`` (label skew, ``alpha``), ``shards`` (``shards_per_client``) or
    ``natural`` (the dataset's own client ids; ``num_clients`` is then what the data says).
    ``dataset_options`` go to the loader (e.g. ``label_column`` for a CSV file).
    ``proximal_mu`` is FedProx's mu: required with ``strategy="fedprox"``, refused otherwise.
    ``run_in_server``: see :func:`~parlearn.federated.simulate` (None: yes, with processes).
    """
    name = strategy.lower()
    if name == "fedprox" and proximal_mu is None:
        raise ValueError(
            "FedProx needs proximal_mu (mu > 0 keeps clients near the global model; the FedProx "
            "paper tries 0.001, 0.01, 0.1 and 1)"
        )
    if name != "fedprox" and proximal_mu:
        raise ValueError(
            f"proximal_mu={proximal_mu} only applies to strategy 'fedprox', not {strategy!r}"
        )
    data = load_dataset(dataset, **(dataset_options or {})) if isinstance(dataset, str) else dataset
    if model not in linear.KINDS:
        raise ValueError(f"unknown model {model!r}; choose one of {', '.join(linear.KINDS)}")
    if model == "logistic" and data.num_classes is None:
        raise ValueError(
            f"dataset {data.name!r} has real-valued targets; use model='linear' for regression"
        )
    rng = np.random.default_rng(seed)
    if partition == "natural":
        held_out = None
        train_data = data
    else:
        train_data, held_out = train_test_split(data, test_fraction, rng)
    split = _partition(train_data, partition, num_clients, alpha, shards_per_client, rng)
    client_train, client_test = train_test_split_per_client(split, client_test_fraction, rng)
    num_clients = split.num_clients
    num_classes = data.num_classes or 1

    # Once, into shared memory: every worker reads the same pages, and a round ships only
    # references to them (not the data, not the partitions' index arrays).
    shared: list[SharedArray] = [
        share(a)
        for a in (
            train_data.X, train_data.y,
            client_train.order, client_train.offsets, client_test.order, client_test.offsets,
        )
    ]  # fmt: skip
    X, y = shared[0], shared[1]
    try:
        factory = ArrayClientFactory(
            model, X, y, Partition(shared[2], shared[3]), Partition(shared[4], shared[5]),
            num_classes, local_epochs, batch_size, learning_rate,
        )  # fmt: skip
        if held_out is not None:
            eval_X, eval_y = held_out.X, held_out.y
        else:  # natural partitions: the clients' own test samples, pooled
            rows = np.sort(client_test.order)
            eval_X, eval_y = train_data.X[rows], train_data.y[rows]
        options = {
            "fraction_fit": fraction_fit,
            "fraction_evaluate": fraction_evaluate,
            "min_fit_clients": min(2, num_clients),
            "min_evaluate_clients": min(2, num_clients),
            "min_available_clients": min(2, num_clients),
            "evaluate_fn": _centralized(model, eval_X, eval_y),
            "initial_parameters": linear.init_parameters(model, data.X.shape[1], num_classes),
            **(strategy_options or {}),
        }
        if name == "fedprox":
            options.setdefault("proximal_mu", proximal_mu)
        chosen = make_strategy(strategy, **options)
        history = simulate(
            factory, num_clients, chosen, rounds,
            local_epochs=local_epochs, stragglers=stragglers, straggler_policy=straggler_policy,
            dropout=dropout, seed=seed, backend=backend, workers=workers,
            run_in_server=run_in_server, on_round=on_round,
        )  # fmt: skip
    finally:
        for array in shared:
            array.close()
    history.settings.update(
        {
            "dataset": data.name,
            "dataset_options": dataset_options or None,
            "partition": partition,
            "alpha": alpha if partition == "dirichlet" else None,
            "shards_per_client": shards_per_client if partition == "shards" else None,
            "model": model,
            "batch_size": batch_size,
            "learning_rate": learning_rate,
            "fraction_fit": fraction_fit,
            "fraction_evaluate": fraction_evaluate,
            "test_fraction": None if partition == "natural" else test_fraction,
            "client_test_fraction": client_test_fraction,
            "strategy_options": _plain(strategy_options) or None,
            "proximal_mu": proximal_mu if name == "fedprox" else None,
        }
    )
    final = history.final
    artifact = ModelArtifact(
        model,
        [np.asarray(p, dtype=np.float64) for p in history.parameters],
        {
            "num_features": int(data.X.shape[1]),
            "num_classes": data.num_classes,
            "dataset": data.name,
            "feature_names": list(data.feature_names) if data.feature_names else None,
            "trained_by": "parlearn federate",
            "training": {k: v for k, v in history.settings.items() if v is not None},
            "test_accuracy": None if final is None else final.test_accuracy,
        },
    )
    return FederateResult(history, artifact, dict(history.settings))


def _plain(options: dict[str, Any] | None) -> dict[str, Any]:
    """The JSON-friendly part of user-given strategy options (numbers, strings, booleans)."""
    return {k: v for k, v in (options or {}).items() if isinstance(v, (bool, int, float, str))}


def _partition(
    data: Dataset,
    kind: str,
    num_clients: int,
    alpha: float,
    shards_per_client: int,
    rng: np.random.Generator,
) -> Partition:
    if kind == "iid":
        return partition_iid(len(data.y), num_clients, rng)
    if kind == "dirichlet":
        return partition_dirichlet(data.y, num_clients, alpha, rng)
    if kind == "shards":
        return partition_shards(data.y, num_clients, shards_per_client, rng)
    if kind == "natural":
        if data.client_ids is None:
            raise ValueError(
                f"dataset {data.name!r} has no client ids, so it has no natural partition; "
                "choose iid, dirichlet or shards"
            )
        return partition_natural(data.client_ids)
    raise ValueError(f"unknown partition {kind!r}; choose one of {', '.join(PARTITIONS)}")


def _centralized(
    kind: str, X: NDArray[np.float64], y: NDArray[Any]
) -> Callable[[int, Parameters], tuple[float, Metrics]]:
    def evaluate(server_round: int, parameters: Parameters) -> tuple[float, Metrics]:
        loss = linear.loss(kind, parameters, X, y)
        metrics: Metrics = {}
        if kind == "logistic":
            metrics["accuracy"] = float(np.mean(linear.predict(kind, parameters, X) == y))
        return loss, metrics

    return evaluate
