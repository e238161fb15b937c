"""The values that cross between server, strategy and clients.

Parameters are a list of NumPy arrays (one per model tensor), as in Flower's ``NumPyClient``.
Configs and metrics are flat dicts of scalars.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from numpy.typing import NDArray

__all__ = [
    "ClientFailure",
    "Config",
    "EvaluateResult",
    "FitResult",
    "Metrics",
    "Parameters",
    "Scalar",
]

Scalar = bool | bytes | float | int | str
Config = dict[str, Scalar]
Metrics = dict[str, Scalar]
Parameters = list[NDArray[Any]]


@dataclass(frozen=True)
class FitResult:
    """One client's successful local training: its new parameters and how much data it used."""

    cid: int
    parameters: Parameters
    num_examples: int
    metrics: Metrics = field(default_factory=dict)


@dataclass(frozen=True)
class EvaluateResult:
    """One client's evaluation of the global parameters on its own test data."""

    cid: int
    loss: float
    num_examples: int
    metrics: Metrics = field(default_factory=dict)


@dataclass(frozen=True)
class ClientFailure:
    """A selected client that returned nothing usable: it dropped out, raised, or returned
    parameters of the wrong shapes or with NaN/inf. ``reason`` says which."""

    cid: int
    reason: str
