"""Arrays reach process workers and come back exactly as they were: every dtype, shape, memory
order, write flag and subclass (``_serialize``'s compact form for plain numeric arrays)."""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np

from parlearn.parallel import Pool, share
from parlearn.parallel._serialize import dumps_result
from tests import tasks


def _assert_same(got: Any, want: Any) -> None:
    assert type(got) is np.ndarray
    assert got.dtype == want.dtype and got.shape == want.shape
    assert got.flags.writeable == want.flags.writeable
    if want.dtype.hasobject:
        assert got.tolist() == want.tolist()
    else:
        np.testing.assert_array_equal(got, want)
    if want.flags.f_contiguous and not want.flags.c_contiguous:
        assert got.flags.f_contiguous


def test_dumps_result_round_trips_every_kind_of_array() -> None:
    arrays = tasks.arrays_of_every_kind(0)
    back = pickle.loads(dumps_result(arrays))
    for got, want in zip(back, arrays, strict=True):
        _assert_same(got, want)


def test_results_of_every_kind_come_back_from_process_workers() -> None:
    with Pool("processes", workers=2) as pool:
        for seed, got in enumerate(pool.map(tasks.arrays_of_every_kind, range(4))):
            for g, want in zip(got, tasks.arrays_of_every_kind(seed), strict=True):
                _assert_same(g, want)


def test_a_view_of_shared_input_comes_back_with_its_values() -> None:
    data = share(np.arange(40.0).reshape(10, 4))
    try:
        with Pool("processes", workers=1) as pool:
            (rows,) = pool.map(tasks.rows_of, [data])
        np.testing.assert_array_equal(rows, np.arange(40.0).reshape(10, 4)[2:5])
    finally:
        data.close()


def test_items_of_every_kind_reach_the_workers_as_they_were() -> None:
    arrays = [*tasks.arrays_of_every_kind(1), np.ma.masked_array([1.0, 2.0], mask=[0, 1])]
    with Pool("processes", workers=2) as pool:
        seen = pool.map(tasks.describe_array, arrays, chunksize=3)
    assert seen == [tasks.describe_array(a) for a in arrays]
