"""Datasets for federated simulation: built-ins that need no download, and local-file loaders.

::

    load_dataset("digits")            -> load_digits()        scikit-learn's 8x8 digits (default)
    load_dataset("synthetic(1,1)")    -> make_synthetic(1, 1)  FedProx Synthetic(alpha, beta)
    load_dataset("data.npz")          -> load_npz(...)
    load_dataset("data.csv", label_column="y") -> load_csv(...)
    load_dataset("mnist_dir/")        -> load_idx(train-images..., train-labels...)

Every loader returns a :class:`Dataset`: float64 features, int64 class labels (or float64
targets for regression) and, where the data names its clients, a ``client_ids`` column for
:func:`parlearn.federated.partition.partition_natural`. A missing or malformed file raises
``FileNotFoundError`` or ``ValueError`` with the path, what was expected and what was found.
"""

from __future__ import annotations

import csv
import gzip
import importlib
import re
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from parlearn.errors import MissingDependencyError
from parlearn.federated.partition import _as_generator

__all__ = [
    "Dataset",
    "load_csv",
    "load_dataset",
    "load_digits",
    "load_idx",
    "load_npz",
    "make_synthetic",
    "train_test_split",
]

Task = Literal["auto", "classification", "regression"]

# IDX magic numbers (LeCun's MNIST page): 0x0000 08 0d, type 0x08 = unsigned byte, d dimensions.
_IDX_IMAGES = 2051  # 0x00000803: uint8, 3 dimensions (count, rows, columns)
_IDX_LABELS = 2049  # 0x00000801: uint8, 1 dimension (count)
_GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True, eq=False)
class Dataset:
    """Features ``X`` (one row per sample), targets ``y`` and, optionally, each sample's client.

    ``num_classes`` is ``None`` for regression targets; class labels lie in
    ``[0, num_classes)``.
    """

    X: NDArray[np.float64]
    y: NDArray[Any]
    name: str
    num_classes: int | None
    client_ids: NDArray[Any] | None = None
    feature_names: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.X.ndim != 2 or self.X.dtype != np.float64:
            raise ValueError(
                f"dataset {self.name!r}: X must be a 2-D float64 array, got {self.X.dtype} "
                f"{self.X.shape}"
            )
        n = self.X.shape[0]
        if self.y.shape != (n,):
            raise ValueError(f"dataset {self.name!r}: y must have shape ({n},), got {self.y.shape}")
        if self.client_ids is not None and self.client_ids.shape != (n,):
            raise ValueError(
                f"dataset {self.name!r}: client_ids must have shape ({n},), got "
                f"{self.client_ids.shape}"
            )
        if self.feature_names is not None and len(self.feature_names) != self.X.shape[1]:
            raise ValueError(
                f"dataset {self.name!r}: {len(self.feature_names)} feature names for "
                f"{self.X.shape[1]} features"
            )

    @property
    def num_samples(self) -> int:
        return int(self.X.shape[0])

    @property
    def num_features(self) -> int:
        return int(self.X.shape[1])


def load_digits() -> Dataset:
    """scikit-learn's 8x8 handwritten digits (1,797 samples, 64 features, 10 classes), pixel
    values scaled from 0..16 to [0, 1]. Needs the ``federated`` extra (scikit-learn)."""
    try:
        sklearn_datasets: Any = importlib.import_module("sklearn.datasets")
    except ImportError as exc:
        raise MissingDependencyError("scikit-learn", "federated", "the digits dataset") from exc
    bunch = sklearn_datasets.load_digits()
    X = np.asarray(bunch.data, dtype=np.float64) / 16.0  # pixels are counts 0..16
    y = np.asarray(bunch.target, dtype=np.int64)
    return Dataset(X, y, "digits", 10, feature_names=tuple(bunch.feature_names))


def make_synthetic(
    alpha: float,
    beta: float,
    *,
    num_devices: int = 30,
    num_features: int = 60,
    num_classes: int = 10,
    rng: np.random.Generator | int = 0,
    max_samples_per_device: int | None = None,
) -> Dataset:
    """FedProx's Synthetic(alpha, beta): each device has its own model and its own feature shift.

    Li et al. 2020, "Federated Optimization in Heterogeneous Networks" (MLSys; arXiv 1812.06127),
    section 5.1, following their ``data/synthetic_*/generate_synthetic.py``. For device k:

    - ``u_k ~ N(0, alpha)``, ``W_k ~ N(u_k, 1)`` (features x classes), ``b_k ~ N(u_k, 1)``:
      ``alpha`` sets how much the devices' models differ;
    - ``B_k ~ N(0, beta)``, ``v_k ~ N(B_k, 1)`` per feature, ``x ~ N(v_k, Sigma)`` with
      ``Sigma`` diagonal, ``Sigma_jj = j^-1.2`` (j from 1): ``beta`` sets the feature shift;
    - ``y = argmax(W_k^T x + b_k)`` (the argmax of the softmax, as they write it);
    - ``n_k = int(lognormal(4, 2)) + 50`` samples: a heavy-tailed, power-law-like size spread.

    As in their code, ``alpha`` and ``beta`` are the *standard deviations* of the normals (the
    paper writes N(0, alpha)), and the draws come in their order: sizes, all u_k, all B_k, all
    v_k, then per device W_k, b_k and x. Values differ from theirs: we use a seeded ``Generator``
    and draw x as ``v_k + sqrt(diag(Sigma)) * z`` rather than ``multivariate_normal``.
    ``max_samples_per_device`` (not in the original) caps the lognormal tail. ``client_ids`` is
    each sample's device.
    """
    if not (alpha >= 0 and beta >= 0 and np.isfinite(alpha) and np.isfinite(beta)):
        raise ValueError(f"alpha and beta must be finite and >= 0, got {alpha}, {beta}; e.g. 1, 1")
    for name, value, least in (
        ("num_devices", num_devices, 1),
        ("num_features", num_features, 1),
        ("num_classes", num_classes, 2),
        ("max_samples_per_device", max_samples_per_device, 1),  # None: no cap
    ):
        if value is not None and value < least:
            raise ValueError(f"{name} must be >= {least}, got {value}")
    generator = _as_generator(rng)
    # Their constants: lognormal(mean=4, sigma=2) + 50 gives a median of ~100 samples per device.
    sizes = generator.lognormal(4.0, 2.0, num_devices).astype(np.int64) + 50
    if max_samples_per_device is not None:
        sizes = np.minimum(sizes, max_samples_per_device)
    model_means = generator.normal(0.0, alpha, num_devices)
    feature_shifts = generator.normal(0.0, beta, num_devices)
    feature_means = generator.normal(feature_shifts[:, None], 1.0, (num_devices, num_features))
    feature_std = np.arange(1, num_features + 1, dtype=np.float64) ** (-1.2 / 2)
    X = np.empty((int(sizes.sum()), num_features), dtype=np.float64)
    y = np.empty(X.shape[0], dtype=np.int64)
    start = 0
    for k in range(num_devices):
        weights = generator.normal(model_means[k], 1.0, (num_features, num_classes))
        bias = generator.normal(model_means[k], 1.0, num_classes)
        stop = start + int(sizes[k])
        X[start:stop] = feature_means[k] + feature_std * generator.standard_normal(
            (stop - start, num_features)
        )
        y[start:stop] = np.argmax(X[start:stop] @ weights + bias, axis=1)
        start = stop
    devices = np.repeat(np.arange(num_devices, dtype=np.int64), sizes)
    return Dataset(X, y, f"synthetic({alpha:g},{beta:g})", num_classes, client_ids=devices)


def load_npz(
    path: str | Path,
    x_key: str = "X",
    y_key: str = "y",
    client_key: str | None = None,
    *,
    task: Task = "auto",
) -> Dataset:
    """Arrays from a NumPy ``.npz`` file (no pickled objects). Features of more than two
    dimensions (images) are flattened per sample; values are not rescaled."""
    path = _existing_file(path, "a NumPy .npz file")
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise ValueError(
            f"{path}: expected a NumPy .npz archive, could not read it: {exc}"
        ) from exc
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(f"{path}: expected a .npz archive of named arrays, found one .npy array")
    with archive:
        wanted = [key for key in (x_key, y_key, client_key) if key is not None]
        missing = [key for key in wanted if key not in archive.files]
        if missing:
            raise ValueError(
                f"{path}: expected arrays {wanted}, but {missing} are missing; the file holds "
                f"{archive.files}; pass x_key=, y_key=, client_key= to name them"
            )
        try:
            arrays = [archive[key] for key in wanted]
        except (OSError, ValueError, zipfile.BadZipFile) as exc:
            raise ValueError(f"{path}: could not read the arrays {wanted}: {exc}") from exc
    X_raw, y_raw = arrays[0], arrays[1]
    clients = arrays[2] if client_key is not None else None
    return _build(path, X_raw, y_raw, clients, None, task)


def load_csv(
    path: str | Path,
    label_column: str | int,
    client_column: str | int | None = None,
    *,
    delimiter: str = ",",
    task: Task = "auto",
) -> Dataset:
    """A numeric CSV file with a header row; columns are named or given by position."""
    path = _existing_file(path, "a CSV file with a header row")
    with open(path, newline="") as handle:
        header = next(csv.reader(handle, delimiter=delimiter), None)
    if not header:
        raise ValueError(f"{path}: expected a header row of column names, found an empty file")
    header = [name.strip() for name in header]
    label_at = _column(path, header, label_column, "label_column")
    client_at = (
        None if client_column is None else _column(path, header, client_column, "client_column")
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "no data": reported below instead
            table = np.loadtxt(path, delimiter=delimiter, skiprows=1, ndmin=2, dtype=np.float64)
    except ValueError as exc:
        raise ValueError(
            f"{path}: expected numbers in every column after the header: {exc}"
        ) from exc
    if table.shape[0] == 0:
        raise ValueError(f"{path}: expected data rows after the header, found none")
    if table.shape[1] != len(header):
        raise ValueError(
            f"{path}: the header names {len(header)} columns but the rows have {table.shape[1]}"
        )
    features = [i for i in range(len(header)) if i not in (label_at, client_at)]
    clients = None if client_at is None else table[:, client_at]
    if clients is not None and np.array_equal(clients, np.round(clients)):
        clients = clients.astype(np.int64)  # ids read as floats: 7.0 -> 7
    names = tuple(header[i] for i in features)
    return _build(path, table[:, features], table[:, label_at], clients, names, task)


def load_idx(images_path: str | Path, labels_path: str | Path) -> Dataset:
    """MNIST-style IDX files, plain or gzip: images flattened and scaled from 0..255 to [0, 1]."""
    images_file = _existing_file(images_path, "an IDX image file (magic 2051)")
    labels_file = _existing_file(labels_path, "an IDX label file (magic 2049)")
    images = _read_idx(images_file, _IDX_IMAGES)
    labels = _read_idx(labels_file, _IDX_LABELS)
    if images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"{images_file} holds {images.shape[0]} images but {labels_file} holds "
            f"{labels.shape[0]} labels; expected one label per image (same split?)"
        )
    X = images.reshape(images.shape[0], -1).astype(np.float64) / 255.0
    y = labels.astype(np.int64)
    # At least 10 classes, so an MNIST split that lacks a digit still gets MNIST's model shape.
    return Dataset(X, y, images_file.name, max(int(y.max(initial=0)) + 1, 10))


def load_dataset(name_or_path: str | Path, **kwargs: Any) -> Dataset:
    """A built-in dataset by name, or a local file or folder by path.

    ``"digits"``; ``"synthetic"`` or ``"synthetic(alpha,beta)"`` (keyword arguments go to
    :func:`make_synthetic`, alpha and beta default to 1); a path ending ``.npz`` or ``.csv``
    (keyword arguments go to :func:`load_npz` / :func:`load_csv`); or a folder holding
    ``{split}-images-idx3-ubyte[.gz]`` and ``{split}-labels-idx1-ubyte[.gz]`` (``split`` keyword,
    default ``"train"``; ``"t10k"`` for MNIST's test set).
    """
    text = str(name_or_path).strip()
    if text.lower() == "digits":
        return load_digits(**kwargs)
    synthetic = re.fullmatch(r"synthetic(?:\(\s*([^,\s]+)\s*,\s*([^)\s]+)\s*\))?", text.lower())
    if synthetic:
        if synthetic.group(1) is not None:
            kwargs = {
                "alpha": float(synthetic.group(1)),
                "beta": float(synthetic.group(2)),
                **kwargs,
            }
        kwargs.setdefault("alpha", 1.0)
        kwargs.setdefault("beta", 1.0)
        return make_synthetic(**kwargs)
    path = Path(text).expanduser()
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return load_npz(path, **kwargs)
    if suffix == ".csv":
        return load_csv(path, **kwargs)
    if path.is_dir():
        split = kwargs.pop("split", "train")
        if kwargs:
            raise TypeError(f"an IDX folder takes only split=, got {sorted(kwargs)}")
        return load_idx(*_idx_files(path, split))
    raise ValueError(
        f"unknown dataset {text!r}: expected 'digits', 'synthetic', 'synthetic(alpha,beta)', "
        f"a .npz or .csv file, or a folder of MNIST IDX files; found "
        f"{'a file' if path.exists() else 'no such file or folder'}"
    )


def train_test_split(
    dataset: Dataset, test_fraction: float, rng: np.random.Generator | int
) -> tuple[Dataset, Dataset]:
    """A random held-out test set (not stratified) of ``round(n * test_fraction)`` samples,
    at least one on each side; ``client_ids`` and names follow their rows."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(
            f"test_fraction must lie strictly between 0 and 1, got {test_fraction}; e.g. 0.2"
        )
    n = dataset.num_samples
    if n < 2:
        raise ValueError(f"dataset {dataset.name!r} has {n} sample; a split needs at least 2")
    num_test = min(max(int(np.floor(n * test_fraction + 0.5)), 1), n - 1)
    shuffled = _as_generator(rng).permutation(n)
    test_rows, train_rows = np.sort(shuffled[:num_test]), np.sort(shuffled[num_test:])
    return _rows(dataset, train_rows), _rows(dataset, test_rows)


def _rows(dataset: Dataset, rows: NDArray[np.int64]) -> Dataset:
    clients = None if dataset.client_ids is None else dataset.client_ids[rows]
    return Dataset(
        dataset.X[rows],
        dataset.y[rows],
        dataset.name,
        dataset.num_classes,
        client_ids=clients,
        feature_names=dataset.feature_names,
    )


def _build(
    path: Path,
    X_raw: NDArray[Any],
    y_raw: NDArray[Any],
    clients: NDArray[Any] | None,
    feature_names: tuple[str, ...] | None,
    task: Task,
) -> Dataset:
    if X_raw.ndim < 2 or X_raw.dtype.kind not in "biuf":
        raise ValueError(
            f"{path}: expected numeric features with one row per sample (2-D or more), found "
            f"{X_raw.dtype} of shape {X_raw.shape}"
        )
    X = X_raw.reshape(X_raw.shape[0], -1).astype(np.float64)
    if y_raw.ndim != 1 or y_raw.shape[0] != X.shape[0] or y_raw.dtype.kind not in "biuf":
        raise ValueError(
            f"{path}: expected a numeric 1-D label array of length {X.shape[0]} (one per row "
            f"of features), found {y_raw.dtype} of shape {y_raw.shape}"
        )
    if clients is not None and clients.shape != (X.shape[0],):
        raise ValueError(
            f"{path}: expected a 1-D client id column of length {X.shape[0]}, found shape "
            f"{clients.shape}"
        )
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{path}: expected finite features, found NaN or infinity")
    integral = bool(np.all(np.isfinite(y_raw)) and np.all(y_raw == np.round(y_raw)))
    classify = integral if task == "auto" else task == "classification"
    if not classify:
        return Dataset(X, y_raw.astype(np.float64), path.name, None, clients, feature_names)
    if not integral or y_raw.min() < 0:
        raise ValueError(
            f"{path}: expected class labels as integers >= 0, found values from {y_raw.min()} "
            f"to {y_raw.max()}; map them to 0..K-1, or pass task='regression'"
        )
    y = y_raw.astype(np.int64)
    return Dataset(X, y, path.name, int(y.max()) + 1, clients, feature_names)


def _existing_file(path: str | Path, expected: str) -> Path:
    resolved = Path(path).expanduser()
    if not resolved.exists():
        raise FileNotFoundError(f"{resolved}: expected {expected}, found no such file")
    if not resolved.is_file():
        raise ValueError(f"{resolved}: expected {expected}, found a directory or special file")
    return resolved


def _column(path: Path, header: list[str], column: str | int, argument: str) -> int:
    if isinstance(column, int):
        if not -len(header) <= column < len(header):
            raise ValueError(
                f"{path}: {argument}={column} is out of range for {len(header)} columns"
            )
        return column % len(header)
    if column not in header:
        raise ValueError(f"{path}: {argument}={column!r} is not a column; the header has {header}")
    return header.index(column)


def _idx_files(folder: Path, split: str) -> tuple[Path, Path]:
    found = []
    for kind, magic_dims in (("images", "idx3"), ("labels", "idx1")):
        stem = f"{split}-{kind}-{magic_dims}-ubyte"
        candidates = [folder / stem, folder / f"{stem}.gz"]
        match = next((c for c in candidates if c.is_file()), None)
        if match is None:
            present = sorted(p.name for p in folder.iterdir())[:20]
            raise FileNotFoundError(
                f"{folder}: expected MNIST IDX file {stem} or {stem}.gz, found {present}"
            )
        found.append(match)
    return found[0], found[1]


def _read_idx(path: Path, magic: int) -> NDArray[np.uint8]:
    """An IDX file's uint8 array, gzip-compressed or not (told apart by content, not name)."""
    raw = path.read_bytes()
    if raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise ValueError(f"{path}: expected a gzip-compressed IDX file, {exc}") from exc
    ndim = magic - 2048
    header_size = 4 + 4 * ndim  # the magic number, then one big-endian uint32 per dimension
    found = int.from_bytes(raw[:4], "big") if len(raw) >= 4 else None
    if found != magic:
        raise ValueError(
            f"{path}: expected an IDX file with magic number {magic}, found "
            f"{'a file shorter than 4 bytes' if found is None else found}"
        )
    if len(raw) < header_size:
        raise ValueError(
            f"{path}: expected a {header_size}-byte IDX header, found {len(raw)} bytes"
        )
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(shape))
    if len(raw) - header_size != expected:
        raise ValueError(
            f"{path}: the header declares shape {shape}, {expected} bytes of data, but the file "
            f"holds {len(raw) - header_size}; the file is truncated or not IDX"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header_size).reshape(shape)
