"""The request and response bodies as pydantic models, for the OpenAPI document at ``/docs``
only: requests are checked by ``_validation.py`` on NumPy arrays (faster, and its errors name
the exact element), never by these classes."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field

__all__ = ["install_openapi"]


class PredictRequest(BaseModel):
    instances: list[list[float]] = Field(
        description="one list of feature values per row", examples=[[[0.0, 5.0, 13.0, 9.0]]]
    )
    model: str | None = Field(None, description="which model; needed only when several are served")
    version: str | None = Field(None, description="which version; the latest by default")


class PredictResponse(BaseModel):
    predictions: list[Any] = Field(description="one prediction per row (class id, or value)")


class RequestInput(BaseModel):
    name: str = Field(examples=["input-0"])
    shape: list[int] = Field(description="[rows, features]", examples=[[1, 4]])
    datatype: str = Field(description="FP32, FP64, INT32, INT64, ...", examples=["FP32"])
    data: list[Any] = Field(description="the values, flat in row-major order or nested")


class RequestOutput(BaseModel):
    name: str = Field(description="an output of the model, e.g. predict or predict_proba")


class InferenceRequest(BaseModel):
    id: str | None = None
    inputs: list[RequestInput]
    outputs: list[RequestOutput] | None = Field(None, description="all outputs by default")


class ResponseOutput(BaseModel):
    name: str
    datatype: str
    shape: list[int]
    data: list[Any]


class InferenceResponse(BaseModel):
    model_name: str
    model_version: str
    id: str
    outputs: list[ResponseOutput]


class TensorMetadata(BaseModel):
    name: str
    datatype: str
    shape: list[int]


class ModelMetadata(BaseModel):
    name: str
    versions: list[str]
    platform: str
    inputs: list[TensorMetadata]
    outputs: list[TensorMetadata]
    parameters: dict[str, Any]


class ErrorResponse(BaseModel):
    error: str = Field(description="what was wrong and how to fix it")
    field: str | None = Field(None, description="the part of the body at fault")
    request_id: str


def _body(model: type[BaseModel]) -> dict[str, Any]:
    ref = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"content": {"application/json": {"schema": ref}}}


def _errors() -> dict[str, Any]:
    return {
        str(code): {"description": text, **_body(ErrorResponse)}
        for code, text in (
            (400, "the body is not JSON"),
            (404, "no such model or version"),
            (413, "the body is over the size limit"),
            (422, "the body does not fit the model; the message names the field"),
            (503, "overloaded (queue full) or still loading; see Retry-After"),
            (504, "the request took longer than its time limit"),
        )
    }


def _operation(
    summary: str, request: type[BaseModel], response: type[BaseModel], params: list[str]
) -> dict[str, Any]:
    return {
        "post": {
            "tags": ["inference"],
            "summary": summary,
            "parameters": [
                {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                for p in params
            ],
            "requestBody": {"required": True, **_body(request)},
            "responses": {"200": {"description": "the outputs", **_body(response)}, **_errors()},
        }
    }


# The inference endpoints are answered in front of FastAPI (_inference.py), so they are
# described here by hand.
INFERENCE_PATHS = {
    "/predict": _operation(
        'Plain JSON: {"instances": [[...], ...]} in, {"predictions": [...]} out',
        PredictRequest, PredictResponse, [],
    ),
    "/v2/models/{name}/infer": _operation(
        "Inference in the Open Inference Protocol (KServe v2), on the latest version",
        InferenceRequest, InferenceResponse, ["name"],
    ),
    "/v2/models/{name}/versions/{version}/infer": _operation(
        "Inference on one version of a model",
        InferenceRequest, InferenceResponse, ["name", "version"],
    ),
}  # fmt: skip
_DOCUMENTED = (PredictRequest, PredictResponse, InferenceRequest, InferenceResponse, ErrorResponse)


def install_openapi(app: FastAPI) -> None:
    """Give ``app`` an OpenAPI document that includes the inference endpoints."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in _DOCUMENTED:
            found = model.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(found.pop("$defs", {}))
            components[model.__name__] = found
        schema["paths"] = {**INFERENCE_PATHS, **schema.get("paths", {})}
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "no such model or version"},
    503: {"model": ErrorResponse, "description": "still loading; see Retry-After"},
}
