"""``backend="auto"``: pick a backend from what a few items cost.

The engine runs the first items in the caller (they count as results) until about
``PROBE_SECONDS`` have passed, then decides with :func:`choose_backend`, a pure function:

1. a coroutine function goes to ``async``;
2. one core, or little work left (known total x time per item < ``TINY_SECONDS``) or items
   cheaper than shipping one to another process (``CHEAP_ITEM_SECONDS``): ``serial``;
3. items that spend most of their time waiting, not computing (CPU time / wall time below
   ``IO_BOUND_CPU_SHARE``): ``threads``;
4. otherwise the work is CPU-bound: ``processes`` -- if the remaining work outweighs starting
   the workers (``COLD_START_SECONDS`` when no process pool is running yet).
"""

from __future__ import annotations

__all__ = [
    "CHEAP_ITEM_SECONDS",
    "COLD_START_SECONDS",
    "IO_BOUND_CPU_SHARE",
    "PROBE_SECONDS",
    "TINY_SECONDS",
    "choose_backend",
]

# The probe stops after this much time (or PROBE_MAX_ITEMS items): long enough to average out a
# first call's warm-up, short enough to be lost in the run.
PROBE_SECONDS = 0.01
PROBE_MAX_ITEMS = 100
# Below this much remaining work, starting workers costs more than it saves.
TINY_SECONDS = 0.05
# Starting a process pool (fork server, workers importing NumPy) took about 0.2 s here; work
# shorter than a few times that is done sooner serially when no pool is warm.
COLD_START_SECONDS = 0.5
# Pickling an item and its result and a share of a pipe round trip cost a few microseconds,
# so cheaper items cannot gain from processes.
CHEAP_ITEM_SECONDS = 5e-6
# Work that uses the CPU less than this share of its wall time is waiting on I/O.
IO_BOUND_CPU_SHARE = 0.5


def choose_backend(
    *,
    is_coroutine: bool,
    cores: int,
    remaining: int | None,
    per_item_seconds: float,
    cpu_share: float,
    processes_warm: bool = True,
) -> str:
    """The backend for the rest of the items. ``remaining`` is None for a stream."""
    if is_coroutine:
        return "async"
    if remaining == 0:
        return "serial"
    io_bound = cpu_share < IO_BOUND_CPU_SHARE
    if io_bound:
        # Waiting overlaps even on one core; only trivially short waits stay serial.
        if remaining is not None and remaining * per_item_seconds < TINY_SECONDS:
            return "serial"
        return "threads"
    if cores <= 1 or per_item_seconds < CHEAP_ITEM_SECONDS:
        return "serial"
    threshold = TINY_SECONDS if processes_warm else COLD_START_SECONDS
    if remaining is not None and remaining * per_item_seconds < threshold:
        return "serial"
    return "processes"
