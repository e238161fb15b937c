"""Shared data for the parlearn.learn tests: small, so the suite stays fast."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

pytest.importorskip("sklearn")
pytest.importorskip("scipy")

from sklearn.datasets import make_classification, make_regression

from parlearn.learn import _blocks


@pytest.fixture
def binary() -> tuple[np.ndarray, np.ndarray]:
    return make_classification(600, 8, n_informative=4, random_state=0)


@pytest.fixture
def multiclass() -> tuple[np.ndarray, np.ndarray]:
    return make_classification(900, 10, n_informative=6, n_classes=3, random_state=1)


@pytest.fixture
def regression() -> tuple[np.ndarray, np.ndarray]:
    X, y = make_regression(500, 6, noise=0.5, random_state=2)
    return X + 3.0, y + 10.0  # off-centre: the intercept matters


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Blocks of 4 KiB, so small data still makes many blocks (and many partial sums)."""
    monkeypatch.setattr(_blocks, "BLOCK_BYTES", 4096)
    yield
