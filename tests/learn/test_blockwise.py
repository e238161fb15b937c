"""Block-wise helpers on plain, shared and memory-mapped arrays, on every backend."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from parlearn import parallel
from parlearn.learn import blockwise

BACKENDS = ["serial", "threads", "processes"]


@pytest.fixture
def arrays(tmp_path: Path) -> dict[str, object]:
    rng = np.random.default_rng(0)
    A = rng.normal(size=(3001, 7))
    np.save(tmp_path / "A.npy", A)
    return {"A": A, "B": rng.normal(size=(7, 4)), "path": tmp_path}


@pytest.mark.parametrize("backend", BACKENDS)
def test_matmul_from_plain_shared_and_mapped_arrays(
    arrays: dict[str, object], backend: str
) -> None:
    A, B, path = arrays["A"], arrays["B"], arrays["path"]
    assert isinstance(A, np.ndarray) and isinstance(B, np.ndarray) and isinstance(path, Path)
    shared = parallel.share(A)
    try:
        for source in (A, shared, np.load(path / "A.npy", mmap_mode="r")):
            result = blockwise.matmul(source, B, backend=backend, block_rows=400)
            np.testing.assert_allclose(result, A @ B, rtol=1e-12)
    finally:
        shared.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_results_written_into_out(arrays: dict[str, object], backend: str) -> None:
    A, B, path = arrays["A"], arrays["B"], arrays["path"]
    assert isinstance(A, np.ndarray) and isinstance(B, np.ndarray) and isinstance(path, Path)
    mapped = np.lib.format.open_memmap(path / "out.npy", "w+", np.float64, (3001, 4))
    returned = blockwise.matmul(A, B, out=mapped, backend=backend, block_rows=500)
    assert returned is mapped
    del mapped
    np.testing.assert_allclose(np.load(path / "out.npy"), A @ B, rtol=1e-12)
    shared = parallel.shared_zeros((3001, 7))
    plain = np.zeros((3001, 7))
    try:
        for out in (shared, plain):
            blockwise.add(A, A[0], out=out, backend=backend, block_rows=333)
            np.testing.assert_allclose(out, A + A[0])
        np.testing.assert_allclose(blockwise.add(A, A, backend=backend), 2 * A)
    finally:
        shared.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_reductions_do_not_depend_on_workers(arrays: dict[str, object], backend: str) -> None:
    A = arrays["A"]
    assert isinstance(A, np.ndarray)
    y = A[:, :2] * 3
    one = blockwise.gram(A, backend=backend, workers=1, block_rows=100)
    np.testing.assert_allclose(one, A.T @ A, rtol=1e-12)
    np.testing.assert_array_equal(
        blockwise.gram(A, backend=backend, workers=2, block_rows=100), one
    )
    np.testing.assert_allclose(blockwise.tmatmul(A, y, backend=backend), A.T @ y, rtol=1e-12)


def test_shapes_are_checked(arrays: dict[str, object]) -> None:
    A, B = arrays["A"], arrays["B"]
    assert isinstance(A, np.ndarray) and isinstance(B, np.ndarray)
    with pytest.raises(ValueError, match=r"A \(3001, 7\) and B \(4, 7\) do not align"):
        blockwise.matmul(A, B.T)
    with pytest.raises(ValueError, match=r"must be A's shape .* or one row"):
        blockwise.add(A, B)
    with pytest.raises(ValueError, match="out has shape"):
        blockwise.matmul(A, B, out=np.zeros((3, 3)))
    with pytest.raises(ValueError, match="same number of rows"):
        blockwise.tmatmul(A, A[:10])
    with pytest.raises(ValueError, match="block_rows must be an int >= 1"):
        blockwise.gram(A, block_rows=0)
