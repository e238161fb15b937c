"""Timing statistics, speedup and efficiency: pure functions over measured seconds.

A measurement is a handful of repeated wall times. It is summarised by its median (robust to
one slow repeat on a busy machine) and its range (min-max), never by a mean alone.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["SpeedupRange", "Timing", "efficiency", "speedup", "summarize"]


@dataclass(frozen=True)
class Timing:
    """Repeated wall times of one configuration, in seconds."""

    median: float
    low: float
    high: float
    samples: tuple[float, ...]

    @property
    def spread(self) -> float:
        """Range relative to the median: 0.05 means the repeats lie within 5% of each other."""
        return (self.high - self.low) / self.median if self.median > 0 else 0.0


def summarize(seconds: Sequence[float]) -> Timing:
    """Median and range of repeated timings."""
    if not seconds:
        raise ValueError("no timings to summarize; run at least one repeat (repeats >= 1)")
    bad = [s for s in seconds if not (math.isfinite(s) and s >= 0)]
    if bad:
        raise ValueError(f"timings must be finite and >= 0 seconds, got {bad[0]!r}")
    values = tuple(float(s) for s in seconds)
    return Timing(statistics.median(values), min(values), max(values), values)


@dataclass(frozen=True)
class SpeedupRange:
    """Speedup over a baseline: the ratio of medians, and the range the repeats allow."""

    median: float
    low: float
    high: float


def speedup(baseline: Timing, timing: Timing) -> SpeedupRange:
    """How many times faster ``timing`` is than ``baseline``.

    The median is the ratio of medians; the range divides the baseline's median by the slowest
    and the fastest repeat, so it shows how much the repeats of this run moved."""
    return SpeedupRange(
        _ratio(baseline.median, timing.median),
        _ratio(baseline.median, timing.high),
        _ratio(baseline.median, timing.low),
    )


def efficiency(speedup: float, workers: int) -> float:
    """Speedup per worker: 1.0 when ``workers`` workers are ``workers`` times faster."""
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    return speedup / workers


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator > 0 else math.inf
