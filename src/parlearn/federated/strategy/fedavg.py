"""FedAvg: the new global model is the clients' parameters averaged, weighted by examples.

McMahan, Moore, Ramage, Hampson and Agüera y Arcas, "Communication-Efficient Learning of Deep
Networks from Decentralized Data", AISTATS 2017, arXiv:1602.05629 (Algorithm 1, FederatedAveraging).
The weighted mean itself is folded client by client in :class:`~._base.FitAggregator`.
"""

from __future__ import annotations

from parlearn.federated._types import Parameters
from parlearn.federated.strategy._base import Strategy
from parlearn.federated.strategy.aggregate import cast_like, check_client_average

__all__ = ["FedAvg"]


class FedAvg(Strategy):
    """Federated Averaging: ``x' = sum_k n_k x_k / sum_k n_k``, in the current model's dtypes."""

    def aggregate(self, server_round: int, current: Parameters, average: Parameters) -> Parameters:
        check_client_average(current, average)
        return cast_like(average, current)
