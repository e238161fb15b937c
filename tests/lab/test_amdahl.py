"""Amdahl's law fitted to synthetic speedups whose serial fraction is known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from parlearn.lab.amdahl import amdahl_speedup, fit_amdahl, karp_flatt

WORKERS = [1, 2, 4, 8, 16, 32]


@pytest.mark.parametrize("serial_fraction", [0.0, 0.01, 0.1, 0.5, 1.0])
def test_fit_recovers_a_known_serial_fraction(serial_fraction: float) -> None:
    speedups = amdahl_speedup(WORKERS, serial_fraction)
    fit = fit_amdahl(WORKERS, list(speedups))
    assert fit.serial_fraction == pytest.approx(serial_fraction, abs=1e-9)
    assert fit.rms_error == pytest.approx(0.0, abs=1e-9)
    assert not fit.exact


def test_fit_with_noisy_timings_lands_near_the_truth() -> None:
    rng = np.random.default_rng(0)
    truth = 0.05
    # 3% multiplicative noise on each measured time, as a busy machine gives.
    times = (truth + (1 - truth) / np.array(WORKERS)) * rng.normal(1.0, 0.03, len(WORKERS))
    times[0] = 1.0
    fit = fit_amdahl(WORKERS, list(1 / times))
    assert fit.serial_fraction == pytest.approx(truth, abs=0.01)
    assert 0.0 < fit.rms_error < 0.06


def test_ceiling_and_predictions() -> None:
    fit = fit_amdahl([1, 2, 4], list(amdahl_speedup([1, 2, 4], 0.2)))
    assert fit.ceiling == pytest.approx(5.0)
    assert fit.predict(8) == pytest.approx(1 / (0.2 + 0.8 / 8))
    assert fit_amdahl([1, 2], [1.0, 2.0]).ceiling == math.inf


def test_one_point_above_one_worker_is_an_exact_fit() -> None:
    fit = fit_amdahl([1, 2], [1.0, 1.6])
    assert fit.exact
    assert fit.predict(2) == pytest.approx(1.6)
    assert fit.serial_fraction == pytest.approx(2 / 1.6 - 1)


def test_slower_than_sequential_means_everything_is_serial() -> None:
    fit = fit_amdahl([1, 2, 4], [1.0, 0.8, 0.7])
    assert fit.serial_fraction == 1.0
    assert fit.ceiling == 1.0


def test_superlinear_speedups_clamp_to_no_serial_part() -> None:
    assert fit_amdahl([1, 2], [1.0, 2.3]).serial_fraction == 0.0


def test_karp_flatt_of_amdahl_data_is_the_serial_fraction() -> None:
    implied = karp_flatt(WORKERS, amdahl_speedup(WORKERS, 0.07))
    assert math.isnan(implied[0])
    assert implied[1:] == pytest.approx([0.07] * (len(WORKERS) - 1))
    fit = fit_amdahl(WORKERS, list(amdahl_speedup(WORKERS, 0.07)))
    assert fit.karp_flatt[1:] == pytest.approx([0.07] * (len(WORKERS) - 1))


@pytest.mark.parametrize(
    ("workers", "speedups", "message"),
    [
        ([1, 2], [1.0], "same length"),
        ([1], [1.0], "more than one worker"),
        ([], [], "more than one worker"),
        ([1, 2], [1.0, 0.0], "speedups must be finite and > 0"),
        ([1, 2], [1.0, float("nan")], "speedups must be finite and > 0"),
        ([0, 2], [1.0, 1.5], "worker counts must be finite and >= 1"),
    ],
)
def test_bad_input_says_what_is_wrong(
    workers: list[int], speedups: list[float], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        fit_amdahl(workers, speedups)


def test_amdahl_speedup_validates() -> None:
    assert amdahl_speedup([1, 2], 0.0) == pytest.approx([1.0, 2.0])
    with pytest.raises(ValueError, match=r"serial_fraction must be in \[0, 1\], got 1.5"):
        amdahl_speedup([2], 1.5)
    with pytest.raises(ValueError, match="worker counts must be >= 1"):
        amdahl_speedup([0.5], 0.1)
