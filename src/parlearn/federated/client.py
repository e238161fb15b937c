"""The client interface, and the built-in client that trains a linear model on its own arrays.

A client has three methods -- the shape of Flower's ``NumPyClient``, so a Flower client class runs
unchanged in parlearn's simulator:

- ``get_parameters(config) -> parameters``
- ``fit(parameters, config) -> (parameters, num_examples, metrics)``
- ``evaluate(parameters, config) -> (loss, num_examples, metrics)``

Parameters are a list of NumPy arrays. Keys parlearn puts in ``config``: ``server_round``,
``local_epochs`` (fewer for a simulated straggler), ``proximal_mu`` (FedProx), ``seed``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np
from numpy.typing import NDArray

from parlearn.federated._types import Config, Metrics, Parameters
from parlearn.models import linear

__all__ = ["ArrayClient", "Client", "local_sgd"]


class Client(ABC):
    """What a federated client does. Subclass it, or bring a Flower ``NumPyClient``."""

    @abstractmethod
    def get_parameters(self, config: Config) -> Parameters:
        """The client's current parameters (used to initialise the global model)."""

    @abstractmethod
    def fit(self, parameters: Parameters, config: Config) -> tuple[Parameters, int, Metrics]:
        """Train on local data from ``parameters``; return new parameters, examples used and
        metrics."""

    @abstractmethod
    def evaluate(self, parameters: Parameters, config: Config) -> tuple[float, int, Metrics]:
        """Evaluate ``parameters`` on local test data: loss, examples, metrics."""


def local_sgd(
    kind: str,
    params: Parameters,
    X: NDArray[np.float64],
    y: NDArray[Any],
    *,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    rng: np.random.Generator,
    proximal_mu: float = 0.0,
) -> Parameters:
    """Mini-batch SGD from ``params``; returns new arrays (``params`` is not changed).

    With ``proximal_mu`` > 0 each step adds mu * (w - w_global): the FedProx proximal term
    (Li et al. 2020, arXiv 1812.06127, eq. 2), which keeps a client near the global model.
    """
    start = [np.array(p, dtype=np.float64) for p in params]
    current = [p.copy() for p in start]
    n = len(y)
    if n == 0:
        return current
    size = max(1, min(batch_size, n))
    for _ in range(epochs):
        order = rng.permutation(n)
        for begin in range(0, n, size):
            batch = order[begin : begin + size]
            grads = linear.gradient(kind, current, X[batch], y[batch])
            for p, g, p0 in zip(current, grads, start, strict=True):
                if proximal_mu > 0.0:
                    g = g + proximal_mu * (p - p0)
                p -= learning_rate * g
    return current


class ArrayClient(Client):
    """A client holding its own train and test arrays, training a linear model by SGD.

    ``kind`` is ``"logistic"`` (multinomial logistic regression) or ``"linear"``. Config keys
    ``local_epochs``, ``learning_rate``, ``batch_size``, ``proximal_mu`` and ``seed`` override
    the constructor's values for one fit.
    """

    def __init__(
        self,
        kind: str,
        X_train: NDArray[np.float64],
        y_train: NDArray[Any],
        X_test: NDArray[np.float64],
        y_test: NDArray[Any],
        *,
        num_classes: int = 2,
        epochs: int = 1,
        batch_size: int = 32,
        learning_rate: float = 0.1,
        seed: int = 0,
    ) -> None:
        if kind not in linear.KINDS:
            raise ValueError(
                f"unknown model kind {kind!r}; choose one of {', '.join(linear.KINDS)}"
            )
        self.kind = kind
        self.X_train, self.y_train = X_train, y_train
        self.X_test, self.y_test = X_test, y_test
        self.num_classes = num_classes
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.seed = seed

    def get_parameters(self, config: Config) -> Parameters:
        return linear.init_parameters(self.kind, self.X_train.shape[1], self.num_classes)

    def fit(self, parameters: Parameters, config: Config) -> tuple[Parameters, int, Metrics]:
        epochs = int(config.get("local_epochs", self.epochs))
        mu = float(config.get("proximal_mu", 0.0))
        lr = float(config.get("learning_rate", self.learning_rate))
        rng = np.random.default_rng(int(config.get("seed", self.seed)))
        new = local_sgd(
            self.kind,
            parameters,
            self.X_train,
            self.y_train,
            epochs=epochs,
            batch_size=int(config.get("batch_size", self.batch_size)),
            learning_rate=lr,
            rng=rng,
            proximal_mu=mu,
        )
        metrics: Metrics = {"loss": linear.loss(self.kind, new, self.X_train, self.y_train)}
        return new, len(self.y_train), metrics

    def evaluate(self, parameters: Parameters, config: Config) -> tuple[float, int, Metrics]:
        X, y = self.X_test, self.y_test
        loss = linear.loss(self.kind, parameters, X, y)
        metrics: Metrics = {}
        if self.kind == "logistic" and len(y):
            metrics["accuracy"] = float(np.mean(linear.predict(self.kind, parameters, X) == y))
        return loss, len(y), metrics
