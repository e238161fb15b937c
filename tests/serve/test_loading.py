"""Which files are served under which names, and that nothing is unpickled without --trusted.
No server: these run in a second."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from parlearn.models import ModelArtifact, save_model
from parlearn.serve import ModelLoadError, discover_models, load_predictor
from parlearn.serve._config import BatchPolicy, ServeConfig
from tests.serve.slow_model import SlowModel


def _artifact(path: Path) -> Path:
    rng = np.random.default_rng(0)
    return save_model(path, ModelArtifact("logistic", [rng.random((4, 3)), rng.random(3)]))


def test_a_file_is_one_model_named_after_it_or_renamed(tmp_path: Path) -> None:
    path = _artifact(tmp_path / "model.npz")
    [source] = discover_models(path)
    assert (source.name, source.version, source.path) == ("model", "1", path)
    assert discover_models(path, name="digits")[0].name == "digits"


def test_a_folder_holds_files_model_folders_and_versions(tmp_path: Path) -> None:
    _artifact(tmp_path / "a.npz")
    _artifact(tmp_path / "run" / "model.npz")
    _artifact(tmp_path / "b" / "1" / "model.npz")
    _artifact(tmp_path / "b" / "10" / "model.npz")
    _artifact(tmp_path / "b" / "2" / "model.npz")
    (tmp_path / "run" / "history.json").write_text("{}")
    (tmp_path / "readme.txt").write_text("ignored")
    found = [(s.name, s.version) for s in discover_models(tmp_path)]
    assert found == [("a", "1"), ("b", "1"), ("b", "2"), ("b", "10"), ("run", "1")]


def test_folder_errors_name_the_files(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="no model files in"):
        discover_models(tmp_path)
    _artifact(tmp_path / "x.npz")
    _artifact(tmp_path / "x" / "model.npz")
    with pytest.raises(ModelLoadError, match="two files claim model 'x' version 1"):
        discover_models(tmp_path)
    _artifact(tmp_path / "x" / "other.npz")
    with pytest.raises(ModelLoadError, match="holds 2 model files"):
        discover_models(tmp_path)
    with pytest.raises(ModelLoadError, match="no such file or folder"):
        discover_models(tmp_path / "missing")
    with pytest.raises(ModelLoadError, match=r"unknown model format '\.txt'"):
        (tmp_path / "model.txt").write_text("")
        discover_models(tmp_path / "model.txt")
    with pytest.raises(ModelLoadError, match="names may hold only"):
        discover_models(_artifact(tmp_path / "bad name.npz"))


def test_pickles_are_refused_unless_trusted(tmp_path: Path) -> None:
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(SlowModel()))
    with pytest.raises(ModelLoadError, match="loading a pickle runs any code"):
        load_predictor(path)
    with pytest.raises(ModelLoadError, match="pickle files count only with --trusted"):
        discover_models(tmp_path)
    predictor = load_predictor(path, trusted=True)
    assert predictor.output_names == ("predict",)
    assert predictor.infer(np.array([[0.0, 3.0]]), ("predict",))["predict"].tolist() == [6.0]


def test_skops_types_outside_its_safe_list_need_trust(
    tmp_path: Path, digits: tuple[np.ndarray, np.ndarray]
) -> None:
    from sklearn.tree import DecisionTreeClassifier
    from skops.io import dump

    X, y = digits
    path = tmp_path / "tree.skops"
    dump(DecisionTreeClassifier(max_depth=2).fit(X, y), path)
    with pytest.raises(ModelLoadError, match=r"sklearn\.tree\._tree\.Tree"):
        load_predictor(path)
    predictor = load_predictor(path, trusted=True)
    assert predictor.platform == "sklearn" and predictor.feature_shape == (64,)


def test_broken_files_are_load_errors(tmp_path: Path) -> None:
    for name in ("model.npz", "model.onnx", "model.skops"):
        (tmp_path / name).write_bytes(b"garbage")
        with pytest.raises(ModelLoadError, match="model"):
            load_predictor(tmp_path / name)


def test_onnx_model_with_only_map_outputs_is_refused_with_a_hint(
    tmp_path: Path, digits: tuple[np.ndarray, np.ndarray]
) -> None:
    from skl2onnx import to_onnx
    from sklearn.linear_model import LogisticRegression

    X, y = digits
    model = to_onnx(
        LogisticRegression(max_iter=5000).fit(X[:200], y[:200]), X[:1].astype(np.float32)
    )
    path = tmp_path / "zipmap.onnx"
    path.write_bytes(model.SerializeToString())
    predictor = load_predictor(path)  # the label is a tensor; the probability map is left out
    assert predictor.output_names == ("output_label",)


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="max_batch_size must be >= 1"):
        BatchPolicy(max_batch_size=0)
    with pytest.raises(ValueError, match="workers must be >= 1, got 0"):
        ServeConfig(Path("."), workers=0)
    assert ServeConfig(Path("."), workers=2).worker_count == 2


def test_cli_refuses_a_pickle_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(SlowModel()))
    done = subprocess.run(
        [sys.executable, "-m", "parlearn.cli", "serve", str(path), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "refusing to load" in done.stderr and "--trusted" in done.stderr


def test_cli_help_lists_serve() -> None:
    from typer.testing import CliRunner

    from parlearn.cli import app

    result = CliRunner().invoke(app, ["serve", "--help"])
    assert result.exit_code == 0
    for option in ("--workers", "--host", "--port", "--trusted", "--max-batch-size"):
        assert option in result.output
