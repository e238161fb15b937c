"""Tensor descriptions in the Open Inference Protocol's (KServe v2) terms: a name, a datatype
(``FP32``, ``INT64``, ...) and a shape whose first dimension is the batch (``-1`` for any size).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["NUMERIC_DATATYPES", "TensorSpec", "datatype_of", "numpy_dtype"]

# The protocol's tensor datatypes and the NumPy dtypes they map to (BYTES: strings).
_DATATYPES: dict[str, np.dtype[Any]] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype(np.uint8),
    "UINT16": np.dtype(np.uint16),
    "UINT32": np.dtype(np.uint32),
    "UINT64": np.dtype(np.uint64),
    "INT8": np.dtype(np.int8),
    "INT16": np.dtype(np.int16),
    "INT32": np.dtype(np.int32),
    "INT64": np.dtype(np.int64),
    "FP16": np.dtype(np.float16),
    "FP32": np.dtype(np.float32),
    "FP64": np.dtype(np.float64),
    "BYTES": np.dtype(object),
}
NUMERIC_DATATYPES = tuple(name for name in _DATATYPES if name not in ("BOOL", "BYTES"))


@dataclass(frozen=True)
class TensorSpec:
    """One input or output of a model."""

    name: str
    datatype: str
    shape: tuple[int, ...]

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "datatype": self.datatype, "shape": list(self.shape)}


def numpy_dtype(datatype: str) -> np.dtype[Any] | None:
    """The NumPy dtype of a protocol datatype name, or None for an unknown name."""
    return _DATATYPES.get(datatype)


def datatype_of(dtype: np.dtype[Any]) -> str:
    """The protocol datatype of a NumPy dtype (strings and objects are ``BYTES``)."""
    if dtype.kind in "USO":
        return "BYTES"
    for name, candidate in _DATATYPES.items():
        if candidate == dtype:
            return name
    return "BYTES"
