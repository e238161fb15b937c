"""parlearn.federated: train one model across clients whose data never leaves them."""

from parlearn.federated._types import (
    ClientFailure,
    Config,
    EvaluateResult,
    FitResult,
    Metrics,
    Parameters,
)

__all__ = [
    "ClientFailure",
    "Config",
    "EvaluateResult",
    "FitResult",
    "Metrics",
    "Parameters",
]
