"""FedProx: FedAvg's aggregation; each client adds ``mu/2 * ||w - w_global||^2`` to its loss.

Li, Sahu, Zaheer, Sanjabi, Talwalkar and Smith, "Federated Optimization in Heterogeneous
Networks", MLSys 2020, arXiv:1812.06127 (Algorithm 2). The server's only part is to send
``mu``: every fit config carries ``"proximal_mu"``, and the local trainer adds the term.
"""

from __future__ import annotations

import math
from typing import Any

from parlearn.federated._types import Config
from parlearn.federated.strategy.fedavg import FedAvg

__all__ = ["FedProx"]


class FedProx(FedAvg):
    """FedAvg plus ``"proximal_mu"`` in every fit config.

    ``proximal_mu`` (required, as in Flower) weighs the proximal term; 0 is plain FedAvg. Li et al.
    tune it over {0.001, 0.01, 0.1, 1}. Other keyword arguments are :class:`Strategy`'s.
    """

    def __init__(self, *, proximal_mu: float, **kwargs: Any) -> None:
        if not (math.isfinite(proximal_mu) and proximal_mu >= 0):
            raise ValueError(
                f"proximal_mu must be a finite number >= 0, got {proximal_mu!r}; "
                "pass proximal_mu=0 for plain FedAvg, or e.g. proximal_mu=0.01"
            )
        super().__init__(**kwargs)
        self.proximal_mu = proximal_mu

    def fit_config(self, server_round: int) -> Config:
        """The user's config (``on_fit_config_fn``) with ``"proximal_mu"`` set: the strategy's
        value wins, so clients and server never disagree on mu."""
        config = super().fit_config(server_round)
        config["proximal_mu"] = self.proximal_mu
        return config

    def __repr__(self) -> str:
        return (
            f"FedProx(proximal_mu={self.proximal_mu}, fraction_fit={self.fraction_fit}, "
            f"accept_failures={self.accept_failures})"
        )
