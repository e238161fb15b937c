"""The recommendation rules, on speedups chosen to hit each rule."""

from __future__ import annotations

import pytest

from parlearn.lab.recommend import ModeOutcome, classify, format_speedup, recommend


def outcomes(**speedups: float) -> list[ModeOutcome]:
    workers = {"threads": 32, "asyncio": 32, "processes": 2}
    return [ModeOutcome(mode, workers[mode], value) for mode, value in speedups.items()]


def test_io_bound_with_asyncio_clearly_ahead() -> None:
    rec = recommend(outcomes(threads=31, asyncio=38, processes=1.9), cpu_share=0.04, cores=2)
    assert rec.mode == "asyncio"
    assert rec.bound == "I/O-bound"
    assert rec.summary == "I/O-bound: asyncio 38x, threads 31x, processes 1.9x; use asyncio"
    assert any("mostly waited" in r for r in rec.reasons)


def test_a_tie_goes_to_the_simpler_model() -> None:
    rec = recommend(outcomes(threads=35, asyncio=38, processes=1.9), cpu_share=0.04, cores=2)
    assert rec.mode == "threads"
    assert rec.summary.endswith("; use threads")
    assert any("within 10%" in r for r in rec.reasons)


def test_cpu_bound_python_code_goes_to_processes_and_names_the_gil() -> None:
    rec = recommend(outcomes(threads=0.98, asyncio=1.0, processes=1.9), cpu_share=0.99, cores=2)
    assert rec.mode == "processes"
    assert rec.bound == "CPU-bound"
    assert any("GIL" in r for r in rec.reasons)


def test_cpu_work_that_releases_the_gil_goes_to_threads() -> None:
    rec = recommend(outcomes(threads=1.85, asyncio=1.0, processes=1.9), cpu_share=0.99, cores=2)
    assert rec.mode == "threads"
    assert any("releases the GIL" in r for r in rec.reasons)


def test_no_worthwhile_speedup_keeps_it_sequential() -> None:
    rec = recommend(outcomes(threads=1.1, asyncio=0.9, processes=0.7), cpu_share=0.9, cores=2)
    assert rec.mode == "sequential"
    assert rec.summary.endswith("; keep it sequential")


def test_without_a_cpu_share_there_is_no_bound() -> None:
    rec = recommend(outcomes(processes=1.9), cpu_share=None, cores=2)
    assert rec.bound is None
    assert rec.summary == "processes 1.9x; use processes"


@pytest.mark.parametrize(
    ("share", "bound"),
    [(0.0, "I/O-bound"), (0.29, "I/O-bound"), (0.5, "mixed"), (0.95, "CPU-bound")],
)
def test_classify(share: float, bound: str) -> None:
    assert classify(share) == bound


def test_format_speedup() -> None:
    assert [format_speedup(v) for v in (38.2, 1.94, 0.854)] == ["38x", "1.9x", "0.85x"]


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="at least one parallel model"):
        recommend([ModeOutcome("sequential", 1, 1.0)], cpu_share=0.5, cores=2)
    with pytest.raises(ValueError, match="unknown mode 'gpu'"):
        recommend([ModeOutcome("gpu", 1, 9.0)], cpu_share=0.5, cores=2)
    with pytest.raises(ValueError, match="cpu_share"):
        classify(-0.1)
