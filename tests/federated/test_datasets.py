"""Built-in datasets and local-file loaders, including their errors for bad files."""

from __future__ import annotations

import gzip
import re
import struct
import sys
from pathlib import Path

import numpy as np
import pytest

from parlearn.errors import MissingDependencyError
from parlearn.federated.datasets import (
    Dataset,
    load_csv,
    load_dataset,
    load_digits,
    load_idx,
    load_npz,
    make_synthetic,
    train_test_split,
)
from parlearn.federated.partition import partition_natural


def test_digits_shape_and_range() -> None:
    pytest.importorskip("sklearn")
    digits = load_digits()
    assert digits.X.shape == (1797, 64) and digits.X.dtype == np.float64
    assert digits.X.min() == 0.0 and digits.X.max() == 1.0
    assert digits.y.dtype == np.int64 and set(np.unique(digits.y)) == set(range(10))
    assert digits.num_classes == 10 and digits.client_ids is None
    assert load_dataset("digits").X.shape == (1797, 64)


def test_digits_without_sklearn_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    # None in sys.modules makes `import sklearn...` raise ImportError, as if not installed.
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(
        MissingDependencyError, match=r"scikit-learn.*pip install 'parlearn\[federated\]'"
    ):
        load_digits()


def test_synthetic_matches_the_fedprox_setting() -> None:
    data = make_synthetic(1.0, 1.0, rng=0)
    assert data.X.shape[1] == 60 and data.num_classes == 10 and data.name == "synthetic(1,1)"
    assert data.client_ids is not None
    sizes = np.bincount(data.client_ids)
    assert sizes.size == 30 and sizes.min() >= 50
    # Lognormal(4, 2) sizes: heavy-tailed, far from equal.
    assert sizes.max() > 4 * np.median(sizes)
    assert partition_natural(data.client_ids).num_clients == 30
    assert data.y.min() >= 0 and data.y.max() < 10 and np.unique(data.y).size >= 5


def test_synthetic_is_deterministic_by_seed() -> None:
    first, again, other = (make_synthetic(0.5, 0.5, rng=s) for s in (3, 3, 4))
    assert np.array_equal(first.X, again.X) and np.array_equal(first.y, again.y)
    assert not np.array_equal(first.y[:50], other.y[:50])


def test_synthetic_devices_differ_in_labels_and_features() -> None:
    data = make_synthetic(1.0, 1.0, num_devices=10, rng=1, max_samples_per_device=300)
    assert data.client_ids is not None
    assert np.bincount(data.client_ids).max() <= 300
    means = np.array([data.X[data.client_ids == k].mean(axis=0)[0] for k in range(10)])
    assert means.std() > 0.3  # v_k ~ N(B_k, 1): the first feature's mean moves by device
    iid_like = make_synthetic(0.0, 0.0, num_devices=10, rng=1, max_samples_per_device=300)
    assert iid_like.X.shape[1] == 60


def test_load_dataset_synthetic_by_name() -> None:
    assert load_dataset("synthetic(0.5, 0.5)", rng=2).name == "synthetic(0.5,0.5)"
    assert load_dataset("synthetic", num_devices=5).name == "synthetic(1,1)"


def test_train_test_split_holds_out_rows() -> None:
    data = make_synthetic(1.0, 1.0, num_devices=5, rng=0)
    train, test = train_test_split(data, 0.2, 0)
    assert train.num_samples + test.num_samples == data.num_samples
    assert test.num_samples == int(np.floor(0.2 * data.num_samples + 0.5))
    assert train.client_ids is not None and test.client_ids is not None
    rows = np.vstack([train.X, test.X])
    assert np.array_equal(np.sort(rows[:, 0]), np.sort(data.X[:, 0]))
    assert np.array_equal(train_test_split(data, 0.2, 0)[1].X, test.X)
    with pytest.raises(ValueError, match=r"strictly between 0 and 1, got 0"):
        train_test_split(data, 0, 0)


def test_dataset_validates_shapes() -> None:
    with pytest.raises(ValueError, match=r"y must have shape \(3,\)"):
        Dataset(np.zeros((3, 2)), np.zeros(2, dtype=np.int64), "bad", 2)


# --- .npz ------------------------------------------------------------------------------------


def test_load_npz(tmp_path: Path) -> None:
    path = tmp_path / "data.npz"
    images = np.arange(24, dtype=np.uint8).reshape(3, 2, 4)
    np.savez(path, X=images, y=np.array([0, 2, 1]), who=np.array([7, 7, 9]))
    data = load_npz(path, client_key="who")
    assert data.X.shape == (3, 8) and data.X.dtype == np.float64
    assert data.y.tolist() == [0, 2, 1] and data.num_classes == 3
    assert data.client_ids is not None and data.client_ids.tolist() == [7, 7, 9]
    assert load_dataset(str(path)).X.shape == (3, 8)
    np.savez(path, X=np.ones((2, 2)), y=np.array([0.5, 1.5]))
    assert load_npz(path).num_classes is None  # non-integral targets: regression


def test_load_npz_errors(tmp_path: Path) -> None:
    missing = tmp_path / "absent.npz"
    with pytest.raises(
        FileNotFoundError, match=re.escape(f"{missing}: expected a NumPy .npz file")
    ):
        load_npz(missing)
    path = tmp_path / "keys.npz"
    np.savez(path, features=np.ones((2, 2)), y=np.zeros(2))
    with pytest.raises(ValueError, match=r"keys.npz: expected arrays \['X', 'y'\].*\['X'\] are"):
        load_npz(path)
    np.savez(path, X=np.ones((3, 2)), y=np.zeros(2))
    with pytest.raises(
        ValueError, match=r"keys.npz: expected a numeric 1-D label array of length 3"
    ):
        load_npz(path)
    single = tmp_path / "single.npz"
    with single.open("wb") as handle:
        np.save(handle, np.ones(3))
    with pytest.raises(ValueError, match=r"single.npz: expected a .npz archive.*one .npy array"):
        load_npz(single)
    garbage = tmp_path / "garbage.npz"
    garbage.write_text("not a zip")
    with pytest.raises(ValueError, match=r"garbage.npz"):
        load_npz(garbage)
    np.savez(path, X=np.ones((2, 2)), y=np.array([0, -1]))
    with pytest.raises(ValueError, match=r"integers >= 0.*task='regression'"):
        load_npz(path)


# --- CSV -------------------------------------------------------------------------------------


def test_load_csv(tmp_path: Path) -> None:
    path = tmp_path / "table.csv"
    path.write_text("a,label,b,client\n0.5,1,2,10\n1.5,0,3,11\n2.5,2,4,10\n")
    data = load_csv(path, "label", client_column="client")
    assert data.X.tolist() == [[0.5, 2.0], [1.5, 3.0], [2.5, 4.0]]
    assert data.y.tolist() == [1, 0, 2] and data.y.dtype == np.int64 and data.num_classes == 3
    assert data.client_ids is not None and data.client_ids.tolist() == [10, 11, 10]
    assert data.feature_names == ("a", "b")
    by_position = load_dataset(str(path), label_column=1)
    assert by_position.X.shape == (3, 3)
    assert load_csv(path, "a", task="regression").y.dtype == np.float64


def test_load_csv_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nope.csv: expected a CSV file"):
        load_csv(tmp_path / "nope.csv", "y")
    path = tmp_path / "bad.csv"
    path.write_text("a,y\n1,0\n2,oops\n")
    with pytest.raises(ValueError, match=r"bad.csv: expected numbers in every column.*oops"):
        load_csv(path, "y")
    path.write_text("a,y\n1,0\n2\n")
    with pytest.raises(ValueError, match=r"bad.csv: expected numbers"):
        load_csv(path, "y")
    path.write_text("a,y\n1,0\n")
    with pytest.raises(
        ValueError, match=r"bad.csv: label_column='z' is not a column.*\['a', 'y'\]"
    ):
        load_csv(path, "z")
    path.write_text("")
    with pytest.raises(ValueError, match=r"bad.csv: expected a header row.*empty file"):
        load_csv(path, "y")
    path.write_text("a,y\n")
    with pytest.raises(ValueError, match=r"bad.csv: expected data rows after the header"):
        load_csv(path, "y")


# --- MNIST IDX -------------------------------------------------------------------------------


def write_idx(path: Path, magic: int, array: np.ndarray, compress: bool) -> Path:
    raw = struct.pack(">I", magic) + struct.pack(f">{array.ndim}I", *array.shape)
    raw += array.astype(np.uint8).tobytes()
    if compress:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(raw))
    else:
        path.write_bytes(raw)
    return path


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_load_idx(tmp_path: Path, compress: bool) -> None:
    images = np.arange(4 * 3 * 2, dtype=np.uint8).reshape(4, 3, 2) * 10
    labels = np.array([3, 1, 4, 1], dtype=np.uint8)
    images_path = write_idx(tmp_path / "train-images-idx3-ubyte", 2051, images, compress)
    labels_path = write_idx(tmp_path / "train-labels-idx1-ubyte", 2049, labels, compress)
    data = load_idx(images_path, labels_path)
    assert data.X.shape == (4, 6) and data.X.dtype == np.float64
    assert np.allclose(data.X, images.reshape(4, 6) / 255.0) and data.X.max() <= 1.0
    assert data.y.tolist() == [3, 1, 4, 1] and data.y.dtype == np.int64
    assert data.num_classes == 10
    from_folder = load_dataset(tmp_path)
    assert np.array_equal(from_folder.X, data.X)


def test_load_idx_errors(tmp_path: Path) -> None:
    images = np.zeros((2, 2, 2), dtype=np.uint8)
    images_path = write_idx(tmp_path / "imgs", 2051, images, compress=False)
    labels_path = write_idx(tmp_path / "lbls", 2049, np.zeros(3, dtype=np.uint8), compress=False)
    with pytest.raises(FileNotFoundError, match=r"absent: expected an IDX label file"):
        load_idx(images_path, tmp_path / "absent")
    with pytest.raises(
        ValueError, match=r"lbls: expected an IDX file with magic number 2051, found 2049"
    ):
        load_idx(labels_path, images_path)
    with pytest.raises(ValueError, match=r"holds 2 images but .*lbls holds 3 labels"):
        load_idx(images_path, labels_path)
    truncated = tmp_path / "truncated"
    truncated.write_bytes(images_path.read_bytes()[:-3])
    with pytest.raises(
        ValueError, match=r"truncated: the header declares shape \(2, 2, 2\), 8 bytes.*holds 5"
    ):
        load_idx(truncated, labels_path)
    broken_gzip = tmp_path / "broken.gz"
    broken_gzip.write_bytes(gzip.compress(images_path.read_bytes())[:-8])
    with pytest.raises(ValueError, match=r"broken.gz: expected a gzip-compressed IDX file"):
        load_idx(broken_gzip, labels_path)
    with pytest.raises(
        FileNotFoundError, match=r"expected MNIST IDX file train-images-idx3-ubyte.*'imgs'"
    ):
        load_dataset(tmp_path)


def test_load_dataset_unknown_name() -> None:
    with pytest.raises(ValueError, match=r"unknown dataset 'cifar'.*'digits'"):
        load_dataset("cifar")
    with pytest.raises(ValueError, match=r"unknown dataset 'data.json'.*no such file"):
        load_dataset("data.json")
