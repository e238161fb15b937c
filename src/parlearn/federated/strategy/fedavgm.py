"""FedAvgM: FedAvg with momentum on the server.

Hsu, Qi and Brown, "Measuring the Effects of Non-Identical Data Distribution for Federated
Visual Classification", 2019, arXiv:1909.06335 (Section 3, "FedAvgM"). The server treats
``current - average`` as a gradient and takes an SGD-with-momentum step on it
(:func:`~.aggregate.fedavgm_step`); this class keeps the momentum buffer between rounds.
"""

from __future__ import annotations

import math
from typing import Any

from parlearn.federated._types import Parameters
from parlearn.federated.strategy._base import Strategy
from parlearn.federated.strategy.aggregate import (
    check_client_average,
    check_shapes,
    fedavgm_initial_state,
    fedavgm_step,
)

__all__ = ["FedAvgM"]


class FedAvgM(Strategy):
    """Server momentum: ``u = server_momentum*u + (x - avg)``, ``x' = x - server_learning_rate*u``.

    ``server_momentum=0`` and ``server_learning_rate=1`` (Flower's defaults) is FedAvg; Hsu et
    al. find momentum around 0.9 helps most under label skew. Other keyword arguments are
    :class:`Strategy`'s.

    The momentum buffer ``momentum_`` lives for one run, a sequence of increasing server rounds:
    a round number not after the last one starts a new run with an empty buffer, and
    :meth:`reset` empties it by hand. Parameters whose shapes differ from the buffer's within a
    run raise ValueError.
    """

    def __init__(
        self, *, server_learning_rate: float = 1.0, server_momentum: float = 0.0, **kwargs: Any
    ) -> None:
        if not (math.isfinite(server_learning_rate) and server_learning_rate > 0):
            raise ValueError(
                f"server_learning_rate must be a finite number > 0, got {server_learning_rate!r}; "
                "1.0 applies the clients' average as it is"
            )
        if not 0.0 <= server_momentum < 1.0:
            raise ValueError(
                f"server_momentum must be in [0, 1), got {server_momentum!r}; 0 is no momentum, "
                "0.9 is the usual choice (1 or more makes the buffer grow without bound)"
            )
        super().__init__(**kwargs)
        self.server_learning_rate = server_learning_rate
        self.server_momentum = server_momentum
        self.momentum_: Parameters | None = None
        self._last_round: int | None = None

    def reset(self) -> None:
        """Forget the momentum buffer: the next round starts as round 1 of a new run."""
        self.momentum_ = None
        self._last_round = None

    def aggregate(self, server_round: int, current: Parameters, average: Parameters) -> Parameters:
        check_client_average(current, average)
        if self._last_round is not None and server_round <= self._last_round:
            self.reset()
        if self.momentum_ is None:
            buffer = fedavgm_initial_state(current)
        else:
            buffer = self.momentum_
            check_shapes(
                buffer,
                current,
                expected_name="the momentum buffer from earlier rounds",
                actual_name="the global model",
                fix="the model changed shape mid-run; call reset() before training a new model",
            )
        new, self.momentum_ = fedavgm_step(
            current,
            average,
            buffer,
            server_learning_rate=self.server_learning_rate,
            server_momentum=self.server_momentum,
        )
        self._last_round = server_round
        return new

    def __repr__(self) -> str:
        return (
            f"FedAvgM(server_learning_rate={self.server_learning_rate}, "
            f"server_momentum={self.server_momentum}, fraction_fit={self.fraction_fit})"
        )
