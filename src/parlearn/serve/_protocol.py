"""Response bodies: the Open Inference Protocol's (KServe v2) shapes, ``/predict``'s, and the
one error shape every endpoint uses (``{"error": ..., "field": ..., "request_id": ...}``;
v2 clients read ``error``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
from numpy.typing import NDArray

from parlearn import __version__
from parlearn.serve._repository import ModelEntry, ModelRepository
from parlearn.serve._tensors import datatype_of

__all__ = [
    "error_body",
    "model_metadata",
    "predict_body",
    "server_metadata",
    "v2_infer_body",
]

_NUMPY = orjson.OPT_SERIALIZE_NUMPY


def _wire(array: NDArray[Any]) -> Any:
    """What orjson can write: contiguous numeric arrays as they are, anything else as lists."""
    if array.dtype.kind in "biuf":
        return np.ascontiguousarray(array)
    return array.tolist()


def error_body(message: str, request_id: str, field: str | None = None) -> bytes:
    body: dict[str, Any] = {"error": message}
    if field is not None:
        body["field"] = field
    body["request_id"] = request_id
    return orjson.dumps(body)


def predict_body(predictions: NDArray[Any]) -> bytes:
    return orjson.dumps({"predictions": _wire(predictions)}, option=_NUMPY)


def v2_infer_body(
    entry: ModelEntry, request_id: str, outputs: dict[str, NDArray[Any]], names: tuple[str, ...]
) -> bytes:
    tensors = []
    for name in names:
        value = outputs[name]
        tensors.append(
            {
                "name": name,
                "datatype": datatype_of(value.dtype),
                "shape": list(value.shape),
                "data": _wire(value.reshape(-1)),
            }
        )
    return orjson.dumps(
        {
            "model_name": entry.name,
            "model_version": entry.version,
            "id": request_id,
            "outputs": tensors,
        },
        option=_NUMPY,
    )


def server_metadata() -> dict[str, Any]:
    return {"name": "parlearn", "version": __version__, "extensions": []}


def model_metadata(entry: ModelEntry, repository: ModelRepository, max_batch_size: int) -> bytes:
    predictor = entry.predictor
    return orjson.dumps(
        {
            "name": entry.name,
            "versions": repository.versions(entry.name),
            "platform": predictor.platform,
            "inputs": [predictor.input.as_json()],
            "outputs": [o.as_json() for o in predictor.outputs],
            "parameters": {
                "version": entry.version,
                "file": entry.path.name,
                "max_batch_size": max_batch_size,
                "accepts_nan": predictor.allows_nan,
                **predictor.parameters,
            },
        },
        default=str,
    )
