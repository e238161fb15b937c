"""Median, range, speedup and efficiency of repeated timings."""

from __future__ import annotations

import math

import pytest

from parlearn.lab.timing import efficiency, speedup, summarize


def test_summarize_gives_median_and_range() -> None:
    timing = summarize([3.0, 1.0, 2.0, 10.0])
    assert (timing.median, timing.low, timing.high) == (2.5, 1.0, 10.0)
    assert timing.samples == (3.0, 1.0, 2.0, 10.0)
    assert timing.spread == pytest.approx(9.0 / 2.5)


def test_speedup_is_the_ratio_of_medians_with_the_repeats_range() -> None:
    ratio = speedup(summarize([4.0, 4.0, 4.0]), summarize([1.0, 2.0, 4.0]))
    assert (ratio.median, ratio.low, ratio.high) == (2.0, 1.0, 4.0)
    assert speedup(summarize([1.0]), summarize([0.0])).median == math.inf


def test_efficiency_is_speedup_per_worker() -> None:
    assert efficiency(3.0, 4) == 0.75
    with pytest.raises(ValueError, match="workers must be >= 1, got 0"):
        efficiency(1.0, 0)


@pytest.mark.parametrize("bad", [[], [1.0, -1.0], [float("inf")]])
def test_summarize_rejects_bad_timings(bad: list[float]) -> None:
    with pytest.raises(ValueError):
        summarize(bad)
