"""Federated strategies: client sampling and aggregation on the server.

Every strategy is a small :class:`Strategy` subclass; the maths is in :mod:`.aggregate`.
:func:`make_strategy` builds one by name (for the command line and configs).
"""

from __future__ import annotations

from typing import Any

from parlearn.federated.strategy._base import FitAggregator, Strategy
from parlearn.federated.strategy.fedavg import FedAvg
from parlearn.federated.strategy.fedavgm import FedAvgM
from parlearn.federated.strategy.fedopt import FedAdagrad, FedAdam, FedOpt, FedYogi
from parlearn.federated.strategy.fedprox import FedProx

__all__ = [
    "STRATEGY_NAMES",
    "FedAdagrad",
    "FedAdam",
    "FedAvg",
    "FedAvgM",
    "FedOpt",
    "FedProx",
    "FedYogi",
    "FitAggregator",
    "Strategy",
    "make_strategy",
]

_STRATEGIES: dict[str, type[Strategy]] = {
    "fedavg": FedAvg,
    "fedprox": FedProx,
    "fedavgm": FedAvgM,
    "fedadam": FedAdam,
    "fedyogi": FedYogi,
    "fedadagrad": FedAdagrad,
}

#: The names :func:`make_strategy` accepts.
STRATEGY_NAMES: tuple[str, ...] = tuple(_STRATEGIES)


def make_strategy(name: str, **kwargs: Any) -> Strategy:
    """The strategy called ``name`` (case-insensitive, one of :data:`STRATEGY_NAMES`), built
    with ``kwargs``: its own parameters and :class:`Strategy`'s."""
    try:
        cls = _STRATEGIES[name.strip().lower()]
    except KeyError:
        raise ValueError(
            f"unknown strategy {name!r}; choose one of: {', '.join(STRATEGY_NAMES)}"
        ) from None
    return cls(**kwargs)
