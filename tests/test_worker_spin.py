"""Idle process workers poll for their next chunk for ``worker_spin`` seconds, then sleep.

The spin saves a wake-up when chunks come back to back (a federated round every few
milliseconds); it must stay bounded, so an idle pool burns no CPU, and it must never cost
results.
"""

from __future__ import annotations

import time

import psutil
import pytest

from parlearn.parallel import Pool


def _cpu_seconds(pids: list[int]) -> float:
    return sum(sum(psutil.Process(pid).cpu_times()[:2]) for pid in pids)


@pytest.mark.parametrize("spin", [0.0, 0.2])
def test_an_idle_worker_stops_spinning_and_sleeps(spin: float) -> None:
    with Pool("processes", workers=2, worker_spin=spin) as pool:
        assert pool.map(abs, range(-50, 0), chunksize=5) == list(range(50, 0, -1))
        pids = pool.backend.worker_pids()  # type: ignore[attr-defined]
        assert len(pids) == 2
        time.sleep(spin + 0.3)  # past the spin: the workers sleep in recv
        before = _cpu_seconds(pids)
        time.sleep(0.5)
        used = _cpu_seconds(pids) - before
    # A spinning worker would use about 0.5 s of CPU each here; a sleeping one, none.
    assert used < 0.1, f"idle workers used {used:.2f} s of CPU in 0.5 s"


def test_a_worker_that_spins_still_gets_every_chunk() -> None:
    # Short jobs back to back: the workers catch most chunks while spinning.
    with Pool("processes", workers=2, worker_spin=0.05) as pool, pool.resident(abs) as run:
        for n in range(1, 40):
            assert run.map(range(-n, 0), chunksize=1) == list(range(n, 0, -1))


@pytest.mark.parametrize("bad", [-0.001, 1.0, "0.1", None])
def test_worker_spin_must_be_a_short_time(bad: object) -> None:
    with pytest.raises(ValueError, match="worker_spin must be seconds in"):
        Pool("processes", workers=1, worker_spin=bad)
