"""Amdahl's law, fitted to measured speedups: pure functions over plain numbers.

Amdahl (1967): if a share ``s`` of a job cannot run in parallel, ``n`` workers make it at most

    S(n) = 1 / (s + (1 - s) / n)

times faster, and no number of workers beats ``1 / s``. Given speedups measured at several
worker counts, :func:`fit_amdahl` finds the ``s`` that predicts the measured times best, and so
the ceiling for more cores.

How the fit works. The model's time relative to one worker, ``s + (1 - s) / n``, is linear in
``s``, so the best ``s`` is a bounded linear least-squares problem (``scipy.optimize.lsq_linear``,
``0 <= s <= 1``). The residuals are *relative* errors in time,
``(predicted time - measured time) / measured time``: a 5% miss counts the same at 2 workers as
at 64, which matches how timing noise behaves (a share of the time, not a fixed number of
seconds). The one-worker point, speedup 1 by definition, constrains nothing.

Karp and Flatt (1990) give the serial fraction each measurement implies on its own,
``e(n) = (1/S - 1/n) / (1 - 1/n)``. A constant ``e`` is Amdahl's law; an ``e`` that grows with
``n`` means an overhead that grows with the workers (start-up, contention, a shared lock), which
Amdahl's law does not model: the fitted ceiling is then optimistic. :func:`karp_flatt` computes it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import lsq_linear

__all__ = ["AmdahlFit", "amdahl_speedup", "fit_amdahl", "karp_flatt"]


def amdahl_speedup(workers: ArrayLike, serial_fraction: float) -> NDArray[np.float64]:
    """Amdahl's predicted speedup at each worker count, for a serial fraction in [0, 1]."""
    if not 0.0 <= serial_fraction <= 1.0:
        raise ValueError(f"serial_fraction must be in [0, 1], got {serial_fraction!r}")
    n = np.asarray(workers, dtype=np.float64)
    if np.any(n < 1):
        raise ValueError(f"worker counts must be >= 1, got {n.min():g}")
    result: NDArray[np.float64] = 1.0 / (serial_fraction + (1.0 - serial_fraction) / n)
    return result


def karp_flatt(workers: ArrayLike, speedups: ArrayLike) -> NDArray[np.float64]:
    """The serial fraction each measured speedup implies on its own (Karp and Flatt 1990).

    Defined for worker counts above one; NaN at one worker."""
    n = np.asarray(workers, dtype=np.float64)
    s = np.asarray(speedups, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        result: NDArray[np.float64] = np.where(n > 1, (1.0 / s - 1.0 / n) / (1.0 - 1.0 / n), np.nan)
    return result


@dataclass(frozen=True)
class AmdahlFit:
    """Amdahl's law fitted to measured speedups.

    ``serial_fraction`` is the share of the one-worker time that did not get faster with more
    workers; ``rms_error`` is the root-mean-square relative error of the fitted times against
    the measured ones (0.03: the curve passes within about 3% of the points)."""

    serial_fraction: float
    rms_error: float
    workers: tuple[int, ...]
    speedups: tuple[float, ...]

    @property
    def ceiling(self) -> float:
        """The speedup no number of workers can pass: ``1 / serial_fraction``."""
        return math.inf if self.serial_fraction == 0 else 1.0 / self.serial_fraction

    @property
    def exact(self) -> bool:
        """True when only one worker count above one was measured: any ``s`` fits one point
        exactly, so the fit says nothing about whether Amdahl's law holds."""
        return sum(1 for n in set(self.workers) if n > 1) < 2

    @property
    def karp_flatt(self) -> tuple[float, ...]:
        """The serial fraction implied by each measurement (NaN at one worker)."""
        return tuple(float(e) for e in karp_flatt(self.workers, self.speedups))

    def predict(self, workers: int) -> float:
        """The fitted speedup at ``workers`` workers."""
        return float(amdahl_speedup(workers, self.serial_fraction))


def fit_amdahl(workers: Sequence[int], speedups: Sequence[float]) -> AmdahlFit:
    """Fit Amdahl's law to ``speedups`` measured at ``workers`` (the same length).

    At least one worker count must be above one. Speedups must be finite and positive."""
    if len(workers) != len(speedups):
        raise ValueError(
            f"workers and speedups must have the same length, got {len(workers)} and "
            f"{len(speedups)}"
        )
    n = np.asarray(workers, dtype=np.float64)
    s = np.asarray(speedups, dtype=np.float64)
    if n.size == 0 or not np.any(n > 1):
        raise ValueError(
            f"fitting Amdahl's law needs a measurement at more than one worker, got workers="
            f"{list(workers)}; measure at 2 or more workers"
        )
    if np.any(n < 1) or not np.all(np.isfinite(n)):
        raise ValueError(f"worker counts must be finite and >= 1, got {list(workers)}")
    if np.any(s <= 0) or not np.all(np.isfinite(s)):
        raise ValueError(f"speedups must be finite and > 0, got {list(speedups)}")
    # Relative time error S_i * (s + (1 - s) / n_i) - 1 = A_i * s - b_i, linear in s.
    a = s * (1.0 - 1.0 / n)
    b = 1.0 - s / n
    parallel = n > 1
    # BVLS: an active-set method, exact on the bounds (no 1e-11 where the answer is 0).
    solution = lsq_linear(a[parallel, None], b[parallel], bounds=(0.0, 1.0), method="bvls")
    fraction = float(np.clip(solution.x[0], 0.0, 1.0))
    residuals = a[parallel] * fraction - b[parallel]
    return AmdahlFit(
        serial_fraction=fraction,
        rms_error=float(np.sqrt(np.mean(residuals**2))),
        workers=tuple(int(w) for w in workers),
        speedups=tuple(float(v) for v in speedups),
    )
