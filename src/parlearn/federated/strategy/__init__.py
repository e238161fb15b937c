"""Federated strategies: client sampling and aggregation on the server."""

from parlearn.federated.strategy._base import FitAggregator, Strategy

__all__ = ["FitAggregator", "Strategy"]
