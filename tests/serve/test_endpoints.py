"""Every endpoint of a real server (two workers) serving a folder of models in three formats."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from parlearn.models import load_model
from tests.serve.conftest import Server

pytestmark = pytest.mark.slow  # one server for the module, started in about two seconds


def test_health(server: Server) -> None:
    live = server.request("GET", "/v2/health/live")
    assert live.status == 200 and live.json() == {"live": True}
    ready = server.request("GET", "/v2/health/ready")
    assert ready.status == 200 and ready.json() == {"ready": True}


def test_server_metadata(server: Server) -> None:
    answer = server.request("GET", "/v2")
    assert answer.status == 200 and answer.json()["name"] == "parlearn"


def test_model_metadata_describes_inputs_outputs_and_versions(server: Server) -> None:
    digits = server.request("GET", "/v2/models/digits").json()
    assert digits["platform"] == "parlearn" and digits["versions"] == ["1"]
    assert digits["inputs"] == [{"name": "input-0", "datatype": "FP64", "shape": [-1, 64]}]
    assert [o["name"] for o in digits["outputs"]] == ["predict", "predict_proba"]
    assert digits["parameters"]["max_batch_size"] == 64
    onnx = server.request("GET", "/v2/models/onnx_digits").json()
    assert onnx["platform"] == "onnxruntime" and onnx["versions"] == ["1", "2"]
    assert onnx["inputs"][0]["datatype"] == "FP32" and onnx["inputs"][0]["shape"] == [-1, 64]
    assert (
        server.request("GET", "/v2/models/onnx_digits/versions/1").json()["parameters"]["version"]
        == "1"
    )
    skops = server.request("GET", "/v2/models/sk_digits").json()
    assert skops["platform"] == "sklearn"
    assert [o["name"] for o in skops["outputs"]] == ["predict", "predict_proba"]


def test_model_ready(server: Server) -> None:
    assert server.request("GET", "/v2/models/digits/ready").json() == {
        "name": "digits",
        "ready": True,
    }
    answer = server.request("GET", "/v2/models/onnx_digits/versions/2/ready")
    assert answer.status == 200 and answer.json()["ready"] is True


def test_unknown_model_and_version_are_404_naming_what_exists(server: Server) -> None:
    answer = server.request("GET", "/v2/models/nope")
    assert answer.status == 404
    assert "no model named 'nope'" in answer.json()["error"]
    assert "onnx_digits (versions 1, 2)" in answer.json()["error"]
    answer = server.post("/v2/models/onnx_digits/versions/7/infer", {"inputs": []})
    assert answer.status == 404 and "has no version '7'" in answer.json()["error"]
    assert server.request("GET", "/nowhere").status == 404


def test_predict_matches_the_artifact(
    server: Server, model_folder: Path, digits: tuple[np.ndarray, np.ndarray]
) -> None:
    X, _ = digits
    answer = server.post("/predict", {"model": "digits", "instances": X[:20].tolist()})
    assert answer.status == 200
    expected = load_model(model_folder / "digits.npz").predict(X[:20])
    assert answer.json() == {"predictions": expected.tolist()}
    assert answer.headers["content-type"] == "application/json"


def test_predict_needs_a_model_name_when_several_are_served(
    server: Server, digits: tuple[np.ndarray, np.ndarray]
) -> None:
    answer = server.post("/predict", {"instances": digits[0][:1].tolist()})
    assert answer.status == 422
    assert answer.json()["field"] == "model"
    assert "digits (version 1)" in answer.json()["error"]


def test_v2_infer_parlearn_artifact(
    server: Server, model_folder: Path, digits: tuple[np.ndarray, np.ndarray]
) -> None:
    X, _ = digits
    artifact = load_model(model_folder / "digits.npz")
    body = {
        "id": "my-request",
        "inputs": [
            {"name": "x", "shape": [3, 64], "datatype": "FP64", "data": X[:3].ravel().tolist()}
        ],
    }
    answer = server.post("/v2/models/digits/infer", body)
    assert answer.status == 200
    out = answer.json()
    assert out["model_name"] == "digits" and out["model_version"] == "1"
    assert out["id"] == "my-request"
    predict, proba = out["outputs"]
    assert predict == {
        "name": "predict",
        "datatype": "INT64",
        "shape": [3],
        "data": artifact.predict(X[:3]).tolist(),
    }
    assert proba["shape"] == [3, 10] and proba["datatype"] == "FP64"
    np.testing.assert_allclose(
        np.reshape(proba["data"], (3, 10)), artifact.predict_proba(X[:3]), rtol=1e-12
    )


def test_v2_infer_one_requested_output_with_nested_data(
    server: Server, digits: tuple[np.ndarray, np.ndarray]
) -> None:
    body = {
        "inputs": [
            {
                "name": "x",
                "shape": [2, 64],
                "datatype": "INT64",
                "data": digits[0][:2].astype(int).tolist(),
            }
        ],
        "outputs": [{"name": "predict_proba"}],
    }
    out = server.post("/v2/models/digits/infer", body).json()
    assert [o["name"] for o in out["outputs"]] == ["predict_proba"]


def test_v2_infer_onnx_versions(server: Server, digits: tuple[np.ndarray, np.ndarray]) -> None:
    from sklearn.tree import DecisionTreeClassifier

    X, y = digits
    for version, depth in (("1", 4), ("2", 8)):
        expected = DecisionTreeClassifier(max_depth=depth, random_state=0).fit(X, y).predict(X[:50])
        body = {
            "inputs": [
                {
                    "name": "X",
                    "shape": [50, 64],
                    "datatype": "FP32",
                    "data": X[:50].ravel().tolist(),
                }
            ],
            "outputs": [{"name": "label"}],
        }
        out = server.post(f"/v2/models/onnx_digits/versions/{version}/infer", body).json()
        assert out["model_version"] == version
        assert out["outputs"][0]["data"] == expected.tolist()
    latest = server.post("/predict", {"model": "onnx_digits", "instances": X[:50].tolist()})
    assert latest.json()["predictions"] == expected.tolist()  # version 2, the latest


def test_skops_model_predicts_like_scikit_learn(
    server: Server, digits: tuple[np.ndarray, np.ndarray]
) -> None:
    from sklearn.linear_model import LogisticRegression

    X, y = digits
    expected = LogisticRegression(C=0.01, max_iter=5000).fit(X, y).predict(X[:30])
    answer = server.post("/predict", {"model": "sk_digits", "instances": X[:30].tolist()})
    assert answer.json()["predictions"] == expected.tolist()


def test_openapi_docs(server: Server) -> None:
    docs = server.request("GET", "/docs")
    assert docs.status == 200 and b"swagger" in docs.body.lower()
    schema = server.request("GET", "/openapi.json").json()
    for path in ("/predict", "/v2/models/{name}/infer", "/v2/health/ready", "/metrics"):
        assert path in schema["paths"]
    assert "PredictRequest" in schema["components"]["schemas"]


def test_request_ids_in_responses_and_logs(server: Server) -> None:
    answer = server.request("GET", "/v2/health/live")
    assert len(answer.headers["x-request-id"]) == 16
    mine = server.post(
        "/predict", {"model": "digits", "instances": [[1.0]]}, headers={"X-Request-ID": "abc-123"}
    )
    assert mine.status == 422
    assert mine.headers["x-request-id"] == "abc-123" and mine.json()["request_id"] == "abc-123"
    assert server.wait_for_log("request_id=abc-123 422 instances: expected rows of shape [64]")
    odd = server.request("GET", "/v2/health/live", headers={"X-Request-ID": "bad id\u00e9"[:6]})
    assert odd.headers["x-request-id"] != "bad id"  # not a sane token: replaced


def test_metrics_count_requests_errors_and_batches(server: Server) -> None:
    server.post("/predict", {"model": "digits", "instances": [[0.0] * 64]})
    server.post("/predict", b"{not json")
    text = server.metrics()
    for family in (
        "parlearn_requests_total",
        "parlearn_request_errors_total",
        "parlearn_request_duration_seconds_bucket",
        "parlearn_requests_in_flight",
        "parlearn_batch_queue_depth",
        "parlearn_batch_size_bucket",
        "parlearn_batch_requests_bucket",
        "parlearn_inference_duration_seconds_bucket",
    ):
        assert family in text, family
    assert 'parlearn_request_errors_total{code="400",route="/predict"}' in text
    assert 'parlearn_requests_total{code="200",method="POST",route="/predict"}' in text
