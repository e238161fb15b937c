"""What a federated run records: one row per round, written as JSON and CSV."""

from __future__ import annotations

import csv
import json
import math
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from parlearn.federated._types import Parameters

__all__ = ["History", "RoundRecord"]


@dataclass
class RoundRecord:
    """One round. Losses and accuracies are None where that evaluation was not run."""

    round: int
    seconds: float
    fit_clients: int  # clients whose update was aggregated
    fit_failures: int  # selected clients that failed, dropped out or were dropped as stragglers
    train_loss: float | None = None  # clients' local training loss, weighted by examples
    test_loss: float | None = None  # centralized evaluation on the held-out set
    test_accuracy: float | None = None
    client_loss: float | None = None  # federated evaluation on clients' own test data
    client_accuracy_mean: float | None = None
    client_accuracy_worst10: float | None = None  # mean of the worst 10% of clients
    client_accuracy_std: float | None = None
    failure_reasons: list[str] = field(default_factory=list)


CSV_FIELDS = [f.name for f in fields(RoundRecord) if f.name != "failure_reasons"]


@dataclass
class History:
    """Every round of a run, the final global parameters, and the settings that produced them."""

    rounds: list[RoundRecord] = field(default_factory=list)
    parameters: Parameters = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def final(self) -> RoundRecord | None:
        return self.rounds[-1] if self.rounds else None

    def column(self, name: str) -> list[float | None]:
        return [getattr(r, name) for r in self.rounds]

    def to_dict(self) -> dict[str, Any]:
        return {"settings": self.settings, "rounds": [_clean(asdict(r)) for r in self.rounds]}

    def write_json(self, path: str | os.PathLike[str]) -> Path:
        target = Path(path)
        target.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=False) + "\n")
        return target

    def write_csv(self, path: str | os.PathLike[str]) -> Path:
        target = Path(path)
        with open(target, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=CSV_FIELDS, extrasaction="ignore")
            writer.writeheader()
            for record in self.rounds:
                writer.writerow(
                    {k: "" if v is None else v for k, v in _clean(asdict(record)).items()}
                )
        return target


def _clean(row: dict[str, Any]) -> dict[str, Any]:
    """JSON has no NaN: write null instead."""
    return {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in row.items()}
