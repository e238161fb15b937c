"""The model artifact: round trip, and loading never executes code."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from parlearn.models import ModelArtifact, linear, load_model, save_model


def _artifact() -> ModelArtifact:
    rng = np.random.default_rng(0)
    return ModelArtifact("logistic", [rng.random((4, 3)), rng.random(3)], {"num_classes": 3})


def test_round_trip_keeps_parameters_metadata_and_predictions(tmp_path: Path) -> None:
    art = _artifact()
    path = save_model(tmp_path / "model", art)
    assert path.name == "model.npz"
    back = load_model(path)
    assert back.kind == "logistic" and back.metadata == {"num_classes": 3}
    for a, b in zip(art.parameters, back.parameters, strict=True):
        np.testing.assert_array_equal(a, b)
    X = np.random.default_rng(1).random((5, 4))
    np.testing.assert_array_equal(art.predict(X), back.predict(X))
    np.testing.assert_allclose(back.predict_proba(X).sum(axis=1), 1.0)


def test_a_pickle_inside_is_refused_not_executed(tmp_path: Path) -> None:
    evil = tmp_path / "evil.npz"
    meta = json.dumps({"format": "parlearn-model/1", "kind": "linear", "shapes": [[1]]})
    np.savez(
        evil,
        param_0=np.array([object()], dtype=object),  # would need pickle to load
        __meta__=np.frombuffer(meta.encode(), dtype=np.uint8),
    )
    with pytest.raises(ValueError, match="not a parlearn model artifact"):
        load_model(evil)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not a zip", "not a parlearn model artifact"),
        (pickle.dumps({"a": 1}), "not a parlearn model artifact"),
    ],
)
def test_garbage_files_give_a_clear_error(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.npz"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message):
        load_model(path)


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nowhere\.npz"):
        load_model(tmp_path / "nowhere.npz")


def test_linear_gradient_matches_finite_differences() -> None:
    rng = np.random.default_rng(0)
    X, y = rng.random((20, 3)), rng.integers(0, 3, 20)
    params = [rng.random((3, 3)), rng.random(3)]
    grads = linear.gradient("logistic", params, X, y)
    eps = 1e-6
    bumped = [p.copy() for p in params]
    bumped[0][1, 2] += eps
    numeric = (linear.loss("logistic", bumped, X, y) - linear.loss("logistic", params, X, y)) / eps
    assert grads[0][1, 2] == pytest.approx(numeric, rel=1e-4)
