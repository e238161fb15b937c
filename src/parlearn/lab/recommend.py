"""Which concurrency model to use, and why: a pure decision over measured speedups.

The rules, in order (the thresholds are the constants below, each with its reason):

1. What bounds the work: the share of the sequential run's wall time that the CPU was busy.
   Below 30% it mostly waited (I/O-bound); above 70% it mostly computed (CPU-bound).
2. If no model beats the sequential loop by 1.2x, keep it sequential: the gain does not pay
   for the complexity.
3. Otherwise the fastest model by median speedup; but if a simpler model is within 10% of it,
   the simpler one: threads (blocking code as it is) before asyncio (``async`` code all the
   way down) before processes (start-up, pickling, memory per worker).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "MODES",
    "Bound",
    "ModeOutcome",
    "Recommendation",
    "classify",
    "format_speedup",
    "recommend",
]

MODES = ("sequential", "threads", "asyncio", "processes")
Bound = Literal["I/O-bound", "CPU-bound", "mixed"]

# A sequential run whose CPU was busy less than 30% of the time spent most of it waiting:
# overlapping the waits (threads, asyncio) is what pays. Above 70% the CPU is the limit.
IO_BOUND_CPU_SHARE = 0.3
CPU_BOUND_CPU_SHARE = 0.7
# Below 1.2x a parallel version is rarely worth its code, and on a shared machine a 10-20%
# difference is within the noise of a few repeats.
WORTHWHILE_SPEEDUP = 1.2
# Two models within 10% of each other are a tie at the precision a few repeats give.
TIE = 0.10
# On a tie, the model that asks least of the code and the machine.
SIMPLICITY = ("threads", "asyncio", "processes")
_WHY_SIMPLER = {
    "threads": "threads keep blocking code as it is and share memory",
    "asyncio": "asyncio needs no worker processes, pickling or extra memory",
}


@dataclass(frozen=True)
class ModeOutcome:
    """One model's result: its median speedup over the sequential run at ``workers``."""

    mode: str
    workers: int
    speedup: float


@dataclass(frozen=True)
class Recommendation:
    """The model to use, what bounds the work, a one-line summary and the reasons."""

    mode: str
    bound: Bound | None
    summary: str
    reasons: tuple[str, ...]


def classify(cpu_share: float) -> Bound:
    """What bounds the work, from the CPU-busy share of the sequential run's wall time."""
    if not 0.0 <= cpu_share <= 1.5:  # a little over 1 happens with timer granularity
        raise ValueError(f"cpu_share must be a share of wall time in [0, 1], got {cpu_share!r}")
    if cpu_share < IO_BOUND_CPU_SHARE:
        return "I/O-bound"
    if cpu_share > CPU_BOUND_CPU_SHARE:
        return "CPU-bound"
    return "mixed"


def format_speedup(value: float) -> str:
    """``38x`` for large speedups, ``1.9x`` for small ones, ``0.85x`` below one."""
    if value >= 10:
        return f"{value:.0f}x"
    if value >= 1:
        return f"{value:.1f}x"
    return f"{value:.2f}x"


def recommend(
    outcomes: Sequence[ModeOutcome], *, cpu_share: float | None, cores: int
) -> Recommendation:
    """Pick a concurrency model from measured speedups (see the module docstring).

    ``outcomes`` are the parallel models (threads, asyncio, processes; any subset);
    ``cpu_share`` is CPU time / wall time of the sequential run (None if unknown)."""
    parallel = [o for o in outcomes if o.mode != "sequential"]
    if not parallel:
        raise ValueError("recommend() needs at least one parallel model's outcome")
    unknown = [o.mode for o in parallel if o.mode not in MODES]
    if unknown:
        raise ValueError(f"unknown mode {unknown[0]!r}; modes are {', '.join(MODES)}")
    bound = None if cpu_share is None else classify(cpu_share)
    ranked = sorted(parallel, key=lambda o: o.speedup, reverse=True)
    best = ranked[0]
    reasons: list[str] = []
    if cpu_share is not None:
        reasons.append(_bound_reason(bound, cpu_share))

    if best.speedup < WORTHWHILE_SPEEDUP:
        chosen = "sequential"
        reasons.append(
            f"no model beat the sequential loop by {WORTHWHILE_SPEEDUP:g}x (best: {best.mode} "
            f"{format_speedup(best.speedup)}): per-item overheads eat the gain; keep it "
            "sequential, or give each item more work"
        )
    else:
        ties = [o for o in ranked if o.speedup >= best.speedup * (1 - TIE)]
        winner = min(ties, key=lambda o: SIMPLICITY.index(o.mode))
        chosen = winner.mode
        reasons.append(_why(winner, ranked, bound, cores))
        if winner is not best:
            reasons.append(
                f"{best.mode} ({format_speedup(best.speedup)}) is within {TIE:.0%}, a tie at "
                f"this precision; {_WHY_SIMPLER[winner.mode]}"
            )
    measured = ", ".join(f"{o.mode} {format_speedup(o.speedup)}" for o in ranked)
    verb = "keep it sequential" if chosen == "sequential" else f"use {chosen}"
    summary = f"{bound}: {measured}; {verb}" if bound else f"{measured}; {verb}"
    return Recommendation(chosen, bound, summary, tuple(reasons))


def _bound_reason(bound: Bound | None, cpu_share: float) -> str:
    busy = f"the CPU was busy {min(cpu_share, 1.0):.0%} of the sequential run"
    if bound == "I/O-bound":
        return f"{busy}: it mostly waited, so overlapping the waits is what pays"
    if bound == "CPU-bound":
        return f"{busy}: the work is computation, so only running on more cores pays"
    return f"{busy}: it both computes and waits"


def _why(
    winner: ModeOutcome, ranked: Sequence[ModeOutcome], bound: Bound | None, cores: int
) -> str:
    others = {o.mode: o for o in ranked}
    x = format_speedup(winner.speedup)
    if winner.mode == "asyncio":
        return (
            f"asyncio {x}: one thread keeps {winner.workers} operations in flight, with no "
            "thread or process per operation"
        )
    if winner.mode == "threads":
        if bound == "I/O-bound":
            return f"threads {x}: {winner.workers} threads overlap their waits, with blocking code as it is"
        procs = others.get("processes")
        if procs is not None:
            return (
                f"threads {x} vs processes {format_speedup(procs.speedup)}: the work runs in "
                "code that releases the GIL (C extensions, I/O), so threads run it in parallel "
                "without the start-up and pickling of processes"
            )
        return f"threads {x}: the work releases the GIL, so threads run it in parallel"
    # processes
    threads = others.get("threads")
    limit = min(winner.workers, cores)
    text = f"processes {x} on {cores} core{'s' if cores != 1 else ''}"
    if threads is not None and threads.speedup < WORTHWHILE_SPEEDUP:
        text += (
            f"; threads {format_speedup(threads.speedup)}: Python code holds the GIL, so "
            "threads take turns, while each process has its own interpreter"
        )
    if bound == "I/O-bound":
        text += f"; each of {winner.workers} processes still waits in turn"
    elif winner.speedup < 0.6 * limit:
        text += (
            f"; {winner.speedup / limit:.0%} of the {limit}x limit: the machine may be busy, "
            "or items too short for their overhead"
        )
    return text
