"""Large arrays reach process workers without a copy; shared outputs are writable."""

from __future__ import annotations

import pickle
from collections.abc import Iterator

import numpy as np
import pytest

from parlearn.parallel import Pool, SharedArray, share, shared_empty, shared_zeros
from tests import tasks


@pytest.fixture(scope="module")
def pool() -> Iterator[Pool]:
    with Pool("processes", workers=2) as p:
        yield p


def test_share_copies_once_into_a_named_segment() -> None:
    a = np.arange(10.0)
    s = share(a)
    assert isinstance(s, SharedArray)
    assert s.segment_name is not None and s.segment_name.startswith("parlearn_")
    np.testing.assert_array_equal(s, a)
    assert share(s) is s  # already shared: no second copy
    s.close()


def test_workers_see_the_same_segment(pool: Pool) -> None:
    s = share(np.arange(1000.0))
    out = pool.map(tasks.describe, [s, s[10:20], s[::2]])
    assert [kind for kind, _ in out] == ["SharedArray"] * 3
    assert {name for _, name in out} == {s.segment_name}
    assert pool.map(tasks.array_sum, [s[10:20], s[::2]]) == [s[10:20].sum(), s[::2].sum()]
    s.close()


def test_workers_write_into_a_shared_output(pool: Pool) -> None:
    out = shared_zeros((8, 3))

    def fill(i: int) -> None:
        out[i] = i

    pool.map(fill, range(8))
    np.testing.assert_array_equal(out, np.repeat(np.arange(8.0), 3).reshape(8, 3))


def test_large_arrays_are_shared_automatically(pool: Pool) -> None:
    big = np.ones(500_000)  # 4 MB: above the automatic-sharing threshold
    small = np.ones(10)
    out = pool.map(tasks.describe, [big, small])
    assert out[0][0] == "SharedArray"
    assert out[1] == ("ndarray", None)

    def closure_sum(_: int) -> float:
        return float(big.sum())

    assert pool.map(closure_sum, range(3)) == [500_000.0] * 3


def test_pickled_elsewhere_it_is_an_ordinary_array() -> None:
    s = share(np.arange(5))
    back = pickle.loads(pickle.dumps(s))
    np.testing.assert_array_equal(back, np.arange(5))
    assert getattr(back, "segment_name", None) is None
    s.close()


def test_arithmetic_results_are_not_mistaken_for_shared_memory() -> None:
    s = share(np.arange(5.0))
    doubled = s * 2
    assert doubled.segment_name is None
    s.close()


def test_object_arrays_cannot_be_shared() -> None:
    with pytest.raises(TypeError, match="object"):
        share(np.array([object()]))


def test_shared_empty_has_shape_and_dtype() -> None:
    e = shared_empty((2, 3), np.int32)
    assert e.shape == (2, 3) and e.dtype == np.int32
    e.close()


def _mapped_segments(pid: int) -> set[str]:
    with open(f"/proc/{pid}/maps") as maps:
        return {line.split("/")[-1].strip() for line in maps if "/parlearn_" in line}


def test_idle_workers_release_a_finished_jobs_memory() -> None:
    import time

    with Pool("processes", workers=2) as pool:
        big = np.ones(500_000)  # auto-shared for the job
        pool.map(tasks.array_sum, [big, big], chunksize=1)
        pids = pool.backend.worker_pids()  # type: ignore[attr-defined]
        deadline = time.monotonic() + 5
        while any(_mapped_segments(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert all(_mapped_segments(p) == set() for p in pids)


def test_workers_drop_a_shared_array_once_its_owner_closes_it() -> None:
    import time

    with Pool("processes", workers=2) as pool:
        data = share(np.ones(300_000))
        pool.map(tasks.array_sum, [data, data], chunksize=1)
        pids = pool.backend.worker_pids()  # type: ignore[attr-defined]
        data.close()
        pool.map(tasks.square, range(4), chunksize=1)  # any later job carries the news
        deadline = time.monotonic() + 5
        while any(_mapped_segments(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert all(_mapped_segments(p) == set() for p in pids)
