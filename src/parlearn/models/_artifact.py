"""The model artifact: what training writes and serving will load.

One ``.npz`` file: the parameter arrays (``param_0``, ``param_1``, ...) and ``__meta__``, a
UTF-8 JSON document stored as a byte array (format version, model kind, shapes, class labels,
feature count, how it was trained). It is read with ``allow_pickle=False``: loading an artifact
never executes code, so an artifact from anywhere is safe to open.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from parlearn.models import linear

__all__ = ["FORMAT", "ModelArtifact", "load_model", "save_model"]

FORMAT = "parlearn-model/1"


@dataclass
class ModelArtifact:
    """A trained model: its kind (``"logistic"`` or ``"linear"``), parameters and metadata."""

    kind: str
    parameters: list[NDArray[np.float64]]
    metadata: dict[str, Any] = field(default_factory=dict)

    def predict(self, X: NDArray[np.generic]) -> NDArray[np.generic]:
        return linear.predict(self.kind, self.parameters, np.asarray(X, dtype=np.float64))

    def predict_proba(self, X: NDArray[np.generic]) -> NDArray[np.float64]:
        if self.kind != "logistic":
            raise ValueError(f"predict_proba needs a logistic model, this one is {self.kind!r}")
        return linear.predict_proba(self.parameters, np.asarray(X, dtype=np.float64))


def save_model(path: str | os.PathLike[str], artifact: ModelArtifact) -> Path:
    """Write ``artifact`` to ``path`` (``.npz`` is added if missing); returns the path."""
    if artifact.kind not in linear.KINDS:
        raise ValueError(
            f"unknown model kind {artifact.kind!r}; choose one of {', '.join(linear.KINDS)}"
        )
    target = Path(path)
    if target.suffix != ".npz":
        target = target.with_name(target.name + ".npz")
    meta = {
        "format": FORMAT,
        "kind": artifact.kind,
        "shapes": [list(np.shape(p)) for p in artifact.parameters],
        **artifact.metadata,
    }
    arrays: dict[str, Any] = {
        f"param_{i}": np.asarray(p, dtype=np.float64) for i, p in enumerate(artifact.parameters)
    }
    arrays["__meta__"] = np.frombuffer(json.dumps(meta, sort_keys=True).encode(), dtype=np.uint8)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    with open(tmp, "wb") as fh:
        np.savez(fh, **arrays)
    os.replace(tmp, target)  # never leave a half-written artifact behind
    return target


def load_model(path: str | os.PathLike[str]) -> ModelArtifact:
    """Read an artifact written by :func:`save_model`; never unpickles anything."""
    source = Path(path)
    if not source.is_file():
        raise FileNotFoundError(f"no model artifact at {str(source)!r}")
    try:
        with np.load(source, allow_pickle=False) as data:
            if "__meta__" not in data:
                raise ValueError("it has no __meta__ entry")
            meta = json.loads(bytes(data["__meta__"]).decode())
            count = len(meta.get("shapes", []))
            parameters = [np.array(data[f"param_{i}"]) for i in range(count)]
    except (OSError, ValueError, KeyError, json.JSONDecodeError) as exc:
        raise ValueError(
            f"{str(source)!r} is not a parlearn model artifact ({FORMAT}): {exc}"
        ) from exc
    if meta.get("format") != FORMAT:
        raise ValueError(
            f"{str(source)!r} has format {meta.get('format')!r}; this parlearn reads {FORMAT!r}"
        )
    for i, (p, shape) in enumerate(zip(parameters, meta["shapes"], strict=True)):
        if list(p.shape) != list(shape):
            raise ValueError(
                f"{str(source)!r}: param_{i} has shape {p.shape}, metadata says {shape}"
            )
    kind = meta.pop("kind")
    for key in ("format", "shapes"):
        meta.pop(key, None)
    return ModelArtifact(kind, parameters, meta)
