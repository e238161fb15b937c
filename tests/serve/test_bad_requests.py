"""Every kind of bad request gets its status code and a message naming the field at fault,
and never disturbs the requests around it."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.serve.conftest import Server

pytestmark = pytest.mark.slow  # shares the session's server

ROW = [0.0] * 64


def _v2(
    data: object, shape: object = (1, 64), datatype: object = "FP64", **extra: object
) -> dict[str, object]:
    tensor = {
        "name": "x",
        "shape": list(shape) if isinstance(shape, tuple) else shape,
        "datatype": datatype,
        "data": data,
    }
    return {"inputs": [tensor], **extra}


@pytest.mark.parametrize(
    "body",
    [b"{not json", b'{"instances": [[1, 2', b"", b"   ", b"\xff\xfe", b'{"instances": [[1,]]}'],
)
def test_malformed_json_is_400(server: Server, body: bytes) -> None:
    answer = server.post("/predict", body)
    assert answer.status == 400, answer.body
    assert "JSON" in answer.json()["error"] or "empty" in answer.json()["error"]
    assert answer.json()["request_id"] == answer.headers["x-request-id"]
    assert server.post("/v2/models/digits/infer", body).status == 400


@pytest.mark.parametrize(
    ("instances", "field", "words"),
    [
        ([[1.0, 2.0]], "instances", "64 features"),
        ([ROW, ROW[:63]], "instances[1]", "expected 64 values"),
        (ROW, "instances", "wrap one row in another list"),
        ([], "instances", "at least one row"),
        ("1,2,3", "instances", "expected a list of rows"),
        ([[*ROW[:3], "abc", *ROW[4:]]], "instances[0][3]", 'expected a number, got "abc"'),
        ([[True] * 64], "instances[0][0]", "got true"),
        ([[*ROW[:7], None, *ROW[8:]]], "instances[0][7]", "missing value"),
        ([ROW, [ROW]], "instances[1]", "expected 64 values"),
        ([ROW, [*ROW[:63], [1.0]]], "instances[1][63]", "expected a number, got [1.0]"),
        ([[[0.0] * 64]], "instances[0]", "got 1"),
    ],
)
def test_wrong_instances_are_422_naming_the_field(
    server: Server, instances: object, field: str, words: str
) -> None:
    answer = server.post("/predict", {"model": "digits", "instances": instances})
    assert answer.status == 422, answer.body
    error = answer.json()
    assert error["field"] == field, error
    assert words in error["error"], error


def test_missing_instances_and_wrong_body_shape_are_422(server: Server) -> None:
    answer = server.post("/predict", {"model": "digits", "rows": [ROW]})
    assert answer.status == 422 and answer.json()["field"] == "instances"
    answer = server.post("/predict", [ROW])
    assert answer.status == 422 and answer.json()["field"] == "body"


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_nan_and_infinity_are_422_for_a_model_that_cannot_take_them(
    server: Server, literal: str
) -> None:
    row = ", ".join(["0.0"] * 5 + [literal] + ["0.0"] * 58)
    body = f'{{"model": "digits", "instances": [[{", ".join(["1"] * 64)}], [{row}]]}}'
    answer = server.post("/predict", body.encode())
    assert answer.status == 422, answer.body
    assert answer.json()["field"] == "instances[1][5]"
    assert "cannot take NaN or infinite values" in answer.json()["error"]


def test_values_too_large_for_float32_are_422(server: Server) -> None:
    answer = server.post("/predict", {"model": "onnx_digits", "instances": [[1e300] * 64]})
    assert answer.status == 422 and answer.json()["field"] == "instances[0][0]"
    assert "FP32" in answer.json()["error"]


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"id": "x"}, "inputs", "expected a list with one input tensor"),
        (
            _v2(ROW) | {"inputs": [_v2(ROW)["inputs"][0]] * 2},
            "inputs",
            "takes 1 input tensor, got 2",
        ),  # type: ignore[operator]
        (
            {"inputs": [{"name": "x", "shape": [1, 64], "data": ROW}]},
            "inputs[0].datatype",
            "missing",
        ),
        (_v2(ROW, datatype="BYTES"), "inputs[0].datatype", "takes FP64"),
        (_v2(ROW, datatype="FLOAT"), "inputs[0].datatype", "unknown datatype"),
        (_v2(ROW, shape=(1, 63)), "inputs[0].shape", "takes shape [N, 64]"),
        (_v2(ROW, shape=(64,)), "inputs[0].shape", "takes shape [N, 64]"),
        (_v2(ROW, shape=(1, -64)), "inputs[0].shape", "sizes >= 0"),
        (_v2(ROW[:60], shape=(1, 64)), "inputs[0].data", "60 values do not fill shape [1, 64]"),
        (_v2([*ROW[:10], "x", *ROW[11:]]), "inputs[0].data[10]", 'expected a number, got "x"'),
        (_v2([*ROW[:9], 0.5, *ROW[10:]], datatype="INT64"), "inputs[0].data[9]", "whole numbers"),
        (_v2(ROW, outputs=[{"name": "logits"}]), "outputs[0].name", 'has no output "logits"'),
        (_v2(ROW, id=5), "id", "expected a string"),
    ],
)
def test_bad_v2_requests_are_422_naming_the_field(
    server: Server, body: dict[str, object], field: str, words: str
) -> None:
    answer = server.post("/v2/models/digits/infer", body)
    assert answer.status == 422, answer.body
    error = answer.json()
    assert error["field"] == field, error
    assert words in error["error"], error


def test_body_over_the_limit_is_413(server: Server) -> None:
    rows = [[1.0] * 64] * 300  # about 80 KB, over the test server's 64 KiB
    answer = server.post("/predict", {"model": "digits", "instances": rows})
    assert answer.status == 413
    assert "65,536-byte limit" in answer.json()["error"]
    # Declared too large: refused before the body is read.
    conn = server.connection()
    conn.putrequest("POST", "/predict")
    conn.putheader("Content-Length", str(10**9))
    conn.endheaders()
    response = conn.getresponse()
    assert response.status == 413
    conn.close()


def test_wrong_method_is_405(server: Server) -> None:
    answer = server.request("GET", "/predict")
    assert answer.status == 405 and answer.headers["allow"] == "POST"


def test_bad_requests_do_not_disturb_good_ones(server: Server) -> None:
    good = {"model": "digits", "instances": [ROW]}
    bad = [b"{oops", json.dumps({"model": "digits", "instances": [[1.0]]}).encode(), b"[" * 5000]
    expected = server.post("/predict", good).json()

    def one(i: int) -> tuple[bool, int, object]:
        if i % 2:
            return True, *_pair(server.post("/predict", good))
        return False, *_pair(server.post("/predict", bad[i // 2 % len(bad)]))

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(one, range(200)))
    for is_good, status, body in results:
        if is_good:
            assert status == 200 and body == expected
        else:
            assert status in (400, 422)
    assert server.request("GET", "/v2/health/ready").status == 200


def _pair(answer: object) -> tuple[int, object]:
    status = answer.status  # type: ignore[attr-defined]
    return status, answer.json() if status == 200 else None  # type: ignore[attr-defined]
