"""Chunked sources: the same rows from every format, training on them, and their errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from parlearn.learn import (
    ArraySource,
    CsvSource,
    NpySource,
    ParquetSource,
    SGDClassifier,
    SGDRegressor,
)

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
from pyarrow import csv  # noqa: E402


@pytest.fixture
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1000, 4))
    y = (X @ [1.0, -2.0, 0.5, 0.0] + 0.3 * rng.normal(size=1000) > 0).astype(np.int64)
    return X, y


def table(X: np.ndarray, y: np.ndarray) -> object:
    columns = {f"f{j}": X[:, j] for j in range(X.shape[1])}
    return pa.table({**columns, "label": y})


@pytest.fixture
def files(tmp_path: Path, data: tuple[np.ndarray, np.ndarray]) -> dict[str, Path]:
    X, y = data
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    folder = tmp_path / "parts"
    folder.mkdir()
    pq.write_table(table(X[:600], y[:600]), folder / "a.parquet")
    pq.write_table(table(X[600:], y[600:]), folder / "b.parquet")
    csv.write_csv(table(X, y), tmp_path / "data.csv")
    return {
        "X": tmp_path / "X.npy",
        "y": tmp_path / "y.npy",
        "parquet": folder,
        "csv": tmp_path / "data.csv",
    }


def every_source(files: dict[str, Path], data: tuple[np.ndarray, np.ndarray]) -> dict[str, object]:
    _X, y = data
    return {
        "npy": NpySource(files["X"], files["y"], chunk_rows=300),
        "npy-array-y": NpySource(files["X"], y, chunk_rows=300),
        "parquet": ParquetSource(files["parquet"], "label", chunk_rows=250),
        "csv": CsvSource(files["csv"], "label", chunk_bytes=20_000),
        "memmap": ArraySource(np.load(files["X"], mmap_mode="r"), y, chunk_rows=300),
    }


def test_every_source_reads_the_same_rows(
    files: dict[str, Path], data: tuple[np.ndarray, np.ndarray]
) -> None:
    X, y = data
    for name, source in every_source(files, data).items():
        chunks = list(source.chunks())  # type: ignore[attr-defined]
        assert len(chunks) > 1, name
        np.testing.assert_allclose(np.vstack([c[0] for c in chunks]), X, rtol=1e-15, err_msg=name)
        np.testing.assert_array_equal(np.concatenate([c[1] for c in chunks]), y, err_msg=name)
        assert list(source.labels()) == [0, 1], name  # type: ignore[attr-defined]
        assert source.n_features == 4  # type: ignore[attr-defined]


def test_training_on_sources(files: dict[str, Path], data: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = data
    for name, source in every_source(files, data).items():
        model = SGDClassifier(random_state=0, max_iter=5, tol=None).fit(source, classes=[0, 1])
        assert model.score(X, y) > 0.85, name
        assert model.n_features_in_ == 4


def test_one_chunk_source_gives_the_in_memory_model(
    files: dict[str, Path], data: tuple[np.ndarray, np.ndarray]
) -> None:
    X, y = data
    settings = {"random_state": 0, "max_iter": 4, "tol": None}
    in_memory = SGDClassifier(**settings).fit(X, y)
    streamed = SGDClassifier(**settings).fit(NpySource(files["X"], files["y"], chunk_rows=5000))
    np.testing.assert_array_equal(streamed.coef_, in_memory.coef_)


def test_a_memmap_fits_in_chunks(
    files: dict[str, Path], data: tuple[np.ndarray, np.ndarray]
) -> None:
    X, _y = data
    mapped = np.load(files["X"], mmap_mode="r")
    model = SGDRegressor(random_state=0).fit(mapped, X @ [1.0, 2.0, 3.0, 4.0])
    assert model.score(X, X @ [1.0, 2.0, 3.0, 4.0]) > 0.99


def test_float32_files_train_in_float32(
    tmp_path: Path, data: tuple[np.ndarray, np.ndarray]
) -> None:
    X, y = data
    np.save(tmp_path / "X32.npy", X.astype(np.float32))
    source = NpySource(tmp_path / "X32.npy", y)
    assert source.dtype == np.float32
    model = SGDClassifier(random_state=0).fit(source)
    assert model.coef_.dtype == np.float32


def test_parallel_source_training_matches_serial(
    files: dict[str, Path], data: tuple[np.ndarray, np.ndarray]
) -> None:
    settings = {"random_state": 0, "max_iter": 3, "tol": None}
    source = NpySource(files["X"], files["y"], chunk_rows=300)
    serial = SGDClassifier(backend="serial", **settings).fit(source)
    parallel = SGDClassifier(backend="processes", workers=2, **settings).fit(source)
    np.testing.assert_array_equal(parallel.coef_, serial.coef_)


# --------------------------------------------------------------------------- errors


def test_missing_files_name_the_path(tmp_path: Path, files: dict[str, Path]) -> None:
    with pytest.raises(FileNotFoundError, match=r"features file '.*nope.npy' does not exist"):
        NpySource(tmp_path / "nope.npy", files["y"])
    with pytest.raises(FileNotFoundError, match="targets file"):
        NpySource(files["X"], tmp_path / "nope.npy")
    with pytest.raises(FileNotFoundError, match="Parquet path"):
        ParquetSource(tmp_path / "nope.parquet", "label")
    with pytest.raises(FileNotFoundError, match="CSV file"):
        CsvSource(tmp_path / "nope.csv", "label")


def test_wrong_shapes_say_what_is_expected(
    tmp_path: Path, data: tuple[np.ndarray, np.ndarray]
) -> None:
    X, y = data
    np.save(tmp_path / "flat.npy", X.ravel())
    with pytest.raises(ValueError, match="must be 2-d"):
        NpySource(tmp_path / "flat.npy", y)
    np.save(tmp_path / "X.npy", X)
    with pytest.raises(ValueError, match="pass one target per row, a 1-d array of 1000"):
        NpySource(tmp_path / "X.npy", y[:10])
    np.save(tmp_path / "text.npy", np.array([["a", "b"], ["c", "d"]]))
    with pytest.raises(ValueError, match="training needs numbers"):
        NpySource(tmp_path / "text.npy", [0, 1])
    (tmp_path / "fake.npy").write_text("not numpy")
    with pytest.raises(ValueError, match=r"is not a \.npy file"):
        NpySource(tmp_path / "fake.npy", y)


def test_table_columns_are_checked(tmp_path: Path, files: dict[str, Path]) -> None:
    with pytest.raises(ValueError, match=r"no target column 'target'; its columns are \['f0'"):
        ParquetSource(files["parquet"], "target")
    with pytest.raises(ValueError, match=r"no column\(s\) \['f9'\]"):
        CsvSource(files["csv"], "label", features=["f0", "f9"])
    (tmp_path / "text.csv").write_text("city,label\nParis,1\nRome,0\n")
    with pytest.raises(
        ValueError, match=r"column 'city' .* holds string values; features must be numbers"
    ):
        CsvSource(tmp_path / "text.csv", "label")


def test_nan_in_a_chunk_is_refused(tmp_path: Path, data: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = data
    X = X.copy()
    X[777, 2] = np.nan
    np.save(tmp_path / "X.npy", X)
    with pytest.raises(ValueError, match="Input X contains NaN"):
        SGDClassifier().fit(NpySource(tmp_path / "X.npy", y, chunk_rows=100))


def test_source_and_y_together_are_refused(
    files: dict[str, Path], data: tuple[np.ndarray, np.ndarray]
) -> None:
    with pytest.raises(ValueError, match="holds its own targets; call fit\\(source\\) without y"):
        SGDClassifier().fit(NpySource(files["X"], files["y"]), data[1])
    with pytest.raises(ValueError, match="not among the classes"):
        SGDClassifier().fit(NpySource(files["X"], files["y"]), classes=[0, 2])
