"""From request bytes to a NumPy array the model takes, or a :class:`RequestError` that names
the field at fault and what was expected.

Fast path first: ``np.array`` on the parsed JSON, then checks on the array (dtype kind,
shape, finiteness), all vectorised. Only a request that fails them is walked element by
element, to say *where* it is wrong (``instances[3][17]: expected a number, got "abc"``).

=================================================  ======
what is wrong                                      status
=================================================  ======
body is not JSON                                   400
body is JSON of the wrong shape or types, wrong    422
number of features, NaN/inf for a model that
cannot take them, unknown output or datatype
=================================================  ======
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import orjson
from numpy.typing import NDArray

from parlearn.serve._errors import RequestError
from parlearn.serve._loaders import Predictor
from parlearn.serve._tensors import NUMERIC_DATATYPES, numpy_dtype

__all__ = ["V2Request", "parse_json", "parse_predict", "parse_v2", "to_array"]

# Longest value quoted back in an error message.
_QUOTE = 40


def parse_json(body: bytes) -> Any:
    """The JSON document in ``body``; 400 if there is none."""
    if not body.strip():
        raise RequestError(
            400, 'the request body is empty; send JSON such as {"instances": [[1.0, 2.0]]}'
        )
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        try:  # Python's json writes NaN and Infinity, which strict JSON parsers refuse
            return json.loads(body)
        except (ValueError, RecursionError):
            pass
        raise RequestError(400, f"the request body is not valid JSON: {exc}") from None


def _quote(value: Any) -> str:
    text = orjson.dumps(value).decode() if _jsonable(value) else repr(value)
    return text if len(text) <= _QUOTE else text[: _QUOTE - 3] + "..."


def _jsonable(value: Any) -> bool:
    return not (isinstance(value, float) and not math.isfinite(value))


def _shape_text(shape: tuple[int, ...]) -> str:
    return "[" + ", ".join("N" if d < 0 else str(d) for d in shape) + "]"


def _find_problem(
    value: Any, field: str, feature_shape: tuple[int, ...], predictor: Predictor
) -> RequestError:
    """Walk ``value`` (a list of rows) to the first element that is wrong."""

    def walk(node: Any, path: str, dims: tuple[int, ...]) -> RequestError | None:
        if not dims:  # a value
            if node is None and predictor.allows_nan:
                return None
            if isinstance(node, bool) or not isinstance(node, int | float):
                got = (
                    "null (a missing value, which this model cannot take)"
                    if node is None
                    else _quote(node)
                )
                return RequestError(422, f"{path}: expected a number, got {got}", field=path)
            return None
        if not isinstance(node, list):
            return RequestError(
                422,
                f"{path}: expected a list of {dims[0] if dims[0] >= 0 else 'N'} values, got "
                f"{_quote(node)}",
                field=path,
            )
        if dims[0] >= 0 and len(node) != dims[0]:
            return RequestError(
                422,
                f"{path}: expected {dims[0]} values (the model takes rows of shape "
                f"{_shape_text(feature_shape)}), got {len(node)}",
                field=path,
            )
        inner = dims[1:]
        if inner and inner[0] < 0 and node and isinstance(node[0], list):
            inner = (len(node[0]), *inner[1:])  # any size, but the same for every sibling
        for i, child in enumerate(node):
            problem = walk(child, f"{path}[{i}]", inner)
            if problem is not None:
                return problem
        return None

    found = walk(value, field, (-1, *feature_shape))
    if found is not None:
        return found
    return RequestError(422, f"{field}: values of mixed or unsupported types", field=field)


def to_array(value: Any, field: str, predictor: Predictor) -> NDArray[Any]:
    """Rows for ``predictor`` from a JSON value (a list of rows); 422 naming ``field`` if not."""
    feature_shape = predictor.feature_shape
    if not isinstance(value, list):
        raise RequestError(
            422,
            f"{field}: expected a list of rows, each of shape {_shape_text(feature_shape)}, got "
            f"{'nothing' if value is None else type(value).__name__ + ' ' + _quote(value)}",
            field=field,
        )
    if not value:
        raise RequestError(
            422, f"{field}: expected at least one row, got an empty list", field=field
        )
    try:
        array = np.array(value)
    except (ValueError, OverflowError, TypeError):  # ragged rows, huge integers
        raise _find_problem(value, field, feature_shape, predictor) from None
    if array.dtype.kind not in "iuf":
        if array.dtype.kind == "O" and predictor.allows_nan:
            try:  # null is a missing value for a model that takes NaN
                array = np.array(value, dtype=np.float64)
            except (ValueError, TypeError):
                raise _find_problem(value, field, feature_shape, predictor) from None
        else:
            raise _find_problem(value, field, feature_shape, predictor)
    if array.ndim == 1 and len(feature_shape) == 1 and feature_shape[0] not in (-1, 1):
        raise RequestError(
            422,
            f"{field}: expected a list of rows, each a list of {feature_shape[0]} numbers; got a "
            f"flat list of {len(array)} numbers (wrap one row in another list: [[...]])",
            field=field,
        )
    if array.ndim == 1 and feature_shape in ((1,), (-1,)):
        array = array.reshape(-1, 1)  # one number per row
    if array.ndim != 1 + len(feature_shape):
        raise _find_problem(value, field, feature_shape, predictor)
    for got, want in zip(array.shape[1:], feature_shape, strict=True):
        if want >= 0 and got != want:
            raise RequestError(
                422,
                f"{field}: expected rows of shape {_shape_text(feature_shape)} (the model takes "
                f"{_features(feature_shape)}), got rows of shape {list(array.shape[1:])}",
                field=field,
            )
    return _cast(array, field, predictor)


def _cast(array: NDArray[Any], field: str, predictor: Predictor) -> NDArray[Any]:
    dtype = predictor.dtype
    if dtype.kind in "iu" and array.dtype.kind == "f":
        whole = np.isfinite(array) & (array == np.round(array))
        if not whole.all():
            at = _position(np.argwhere(~whole)[0])
            raise RequestError(
                422,
                f"{field}{at}: the model takes whole numbers ({predictor.input.datatype}), got "
                f"{array[tuple(np.argwhere(~whole)[0])]!r}",
                field=field + at,
            )
    out = array.astype(dtype, copy=False)
    if dtype.kind == "f" and not predictor.allows_nan:
        finite = np.isfinite(out)
        if not finite.all():
            index = tuple(np.argwhere(~finite)[0])
            at = _position(np.asarray(index))
            sent = array[index]
            got = (
                f"{sent!r}, too large for {predictor.input.datatype}"
                if np.isfinite(sent)
                else ("NaN" if np.isnan(sent) else f"{'-' if sent < 0 else ''}Infinity")
            )
            raise RequestError(
                422,
                f"{field}{at}: got {got}; this model cannot take NaN or infinite values",
                field=field + at,
            )
    return np.ascontiguousarray(out)


def _features(feature_shape: tuple[int, ...]) -> str:
    if len(feature_shape) == 1:
        return f"{feature_shape[0]} features per row"
    return f"rows of shape {_shape_text(feature_shape)}"


def _position(index: NDArray[Any]) -> str:
    return "".join(f"[{int(i)}]" for i in index)


# --------------------------------------------------------------------------- request bodies


def _object(payload: Any, example: str) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise RequestError(
            422,
            f"the body must be a JSON object such as {example}, got {type(payload).__name__}",
            field="body",
        )
    return payload


def parse_predict(payload: Any) -> tuple[str | None, str | None, Any]:
    """``(model, version, instances)`` of a ``POST /predict`` body."""
    body = _object(payload, '{"instances": [[1.0, 2.0]]}')
    if "instances" not in body:
        raise RequestError(
            422,
            'instances: missing; send {"instances": [[...], ...]}, one list per row',
            field="instances",
        )
    model, version = body.get("model"), body.get("version")
    for key, value in (("model", model), ("version", version)):
        if value is not None and not isinstance(value, str | int):
            raise RequestError(422, f"{key}: expected a name, got {_quote(value)}", field=key)
    return (
        None if model is None else str(model),
        None if version is None else str(version),
        body["instances"],
    )


class V2Request:
    """A parsed ``POST /v2/models/{name}/infer`` body: the rows and the outputs asked for."""

    def __init__(
        self, rows: NDArray[Any], outputs: tuple[str, ...], request_id: str | None
    ) -> None:
        self.rows = rows
        self.outputs = outputs
        self.id = request_id


def parse_v2(payload: Any, predictor: Predictor, model: str) -> V2Request:
    """Check an inference request of the Open Inference Protocol against ``predictor``."""
    body = _object(
        payload,
        '{"inputs": [{"name": "input-0", "shape": [1, 4], "datatype": "FP32", "data": [...]}]}',
    )
    request_id = body.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise RequestError(422, f"id: expected a string, got {_quote(request_id)}", field="id")
    inputs = body.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise RequestError(
            422,
            f"inputs: expected a list with one input tensor, got {_quote(inputs)}",
            field="inputs",
        )
    if len(inputs) != 1:
        raise RequestError(
            422, f"inputs: model {model!r} takes 1 input tensor, got {len(inputs)}", field="inputs"
        )
    tensor = inputs[0]
    if not isinstance(tensor, dict):
        raise RequestError(
            422, f"inputs[0]: expected an object, got {_quote(tensor)}", field="inputs[0]"
        )
    for key in ("name", "shape", "datatype", "data"):
        if key not in tensor:
            raise RequestError(422, f"inputs[0].{key}: missing", field=f"inputs[0].{key}")
    datatype = tensor["datatype"]
    if not isinstance(datatype, str) or numpy_dtype(datatype) is None:
        raise RequestError(
            422,
            f"inputs[0].datatype: unknown datatype {_quote(datatype)}; use one of "
            f"{', '.join(NUMERIC_DATATYPES)}",
            field="inputs[0].datatype",
        )
    if datatype not in NUMERIC_DATATYPES:
        raise RequestError(
            422,
            f"inputs[0].datatype: model {model!r} takes {predictor.input.datatype} (any numeric "
            f"datatype is converted), got {datatype}",
            field="inputs[0].datatype",
        )
    shape = tensor["shape"]
    if not isinstance(shape, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
    ):
        raise RequestError(
            422,
            f"inputs[0].shape: expected a list of sizes >= 0, got {_quote(shape)}",
            field="inputs[0].shape",
        )
    feature_shape = predictor.feature_shape
    want = [-1, *feature_shape]
    if len(shape) != len(want) or any(
        w >= 0 and g != w for g, w in zip(shape[1:], want[1:], strict=True)
    ):
        raise RequestError(
            422,
            f"inputs[0].shape: model {model!r} takes shape {_shape_text(tuple(want))}, got {shape}",
            field="inputs[0].shape",
        )
    data = tensor["data"]
    size = math.prod(shape)
    flat = _flat_values(data, "inputs[0].data", predictor)
    if flat.size != size:
        raise RequestError(
            422,
            f"inputs[0].data: {flat.size} values do not fill shape {shape} ({size} values)",
            field="inputs[0].data",
        )
    if size == 0:
        raise RequestError(
            422, "inputs[0].shape: expected at least one row", field="inputs[0].shape"
        )
    if datatype.startswith(("INT", "UINT")) and flat.dtype.kind == "f":
        fractional = np.isfinite(flat) & (flat != np.round(flat))
        if fractional.any():
            at = int(np.argmax(fractional))
            raise RequestError(
                422,
                f"inputs[0].data[{at}]: datatype {datatype} needs whole numbers, got {flat[at]!r}",
                field=f"inputs[0].data[{at}]",
            )
    rows = _cast(flat.reshape(shape), "inputs[0].data", predictor)
    outputs = _requested_outputs(body.get("outputs"), predictor, model)
    return V2Request(rows, outputs, request_id)


def _flat_values(data: Any, field: str, predictor: Predictor) -> NDArray[Any]:
    if not isinstance(data, list):
        raise RequestError(
            422, f"{field}: expected a list of numbers, got {_quote(data)}", field=field
        )
    try:
        array = np.array(data)
    except (ValueError, OverflowError, TypeError):
        array = None
    if array is not None and array.dtype.kind in "iuf":
        return array.reshape(-1)
    # Walk it flat to name the first bad value.
    stack: list[tuple[Any, str]] = [(data, field)]
    while stack:
        node, path = stack.pop()
        if isinstance(node, list):
            stack.extend((child, f"{path}[{i}]") for i, child in reversed(list(enumerate(node))))
        elif node is None and predictor.allows_nan:
            continue
        elif isinstance(node, bool) or not isinstance(node, int | float):
            raise RequestError(422, f"{path}: expected a number, got {_quote(node)}", field=path)
    if array is not None and array.dtype.kind == "O" and predictor.allows_nan:
        try:
            return np.array(data, dtype=np.float64).reshape(-1)
        except (ValueError, TypeError):
            pass
    raise RequestError(422, f"{field}: nested lists of unequal lengths", field=field)


def _requested_outputs(requested: Any, predictor: Predictor, model: str) -> tuple[str, ...]:
    if requested is None:
        return predictor.output_names
    if not isinstance(requested, list):
        raise RequestError(
            422, f"outputs: expected a list, got {_quote(requested)}", field="outputs"
        )
    names: list[str] = []
    for i, item in enumerate(requested):
        name = item.get("name") if isinstance(item, dict) else None
        if name not in predictor.output_names:
            raise RequestError(
                422,
                f"outputs[{i}].name: model {model!r} has no output {_quote(name)}; it has "
                f"{', '.join(predictor.output_names)}",
                field=f"outputs[{i}].name",
            )
        names.append(str(name))
    return tuple(dict.fromkeys(names)) or predictor.output_names
