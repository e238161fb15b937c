"""How many items go to a worker at once.

Dispatching a chunk costs a roughly fixed overhead (pickling, a pipe round trip, a future),
so tiny tasks are batched. As joblib does, we measure how long items take where they run and
size chunks toward a target duration: long enough that the fixed overhead is a small share,
short enough that the work still spreads evenly over the workers and the tail stays short.
"""

from __future__ import annotations

import math

__all__ = ["ChunkSizer"]

# With a known total, no chunk is larger than remaining / (workers * SPREAD): chunks shrink as
# the work runs out ("guided" scheduling, as in OpenMP), so every worker gets several chunks and
# all finish close together instead of one core idling through a long last chunk.
SPREAD = 4
# ...but guided shrinking stops at this much work per chunk (or at total / (workers * SPREAD),
# whichever is smaller): at ~0.1-0.2 ms of fixed cost per chunk, shorter chunks would make
# dispatch a visible share, and a tail this short costs nothing.
MIN_CHUNK_SECONDS = 0.005
# An unbounded stream keeps at most this many items in one chunk, so memory stays bounded.
MAX_STREAM_CHUNK = 10_000


class ChunkSizer:
    """Chooses the next chunk size from the per-item times seen so far (a pure state machine)."""

    def __init__(
        self,
        *,
        workers: int,
        target_seconds: float,
        total: int | None = None,
        fixed: int | None = None,
    ) -> None:
        if fixed is not None and (not isinstance(fixed, int) or fixed < 1):
            raise ValueError(
                f"chunksize must be a positive int, got {fixed!r}; "
                "pass chunksize=None to size chunks automatically"
            )
        self._fixed = fixed
        self._target = target_seconds
        self._workers = max(workers, 1)
        # Chunks up to this size keep every worker busy with several chunks from the start, so
        # sending, computing and receiving overlap.
        self._static_cap = (
            None if total is None else max(1, math.ceil(total / (self._workers * SPREAD)))
        )
        # Decayed sums of items and seconds: the per-item estimate is weighted by item count,
        # so a first single-item chunk (slow: a first call warms caches) weighs next to nothing
        # once a large chunk has been measured, and recent chunks count more than old ones.
        self._items = 0.0
        self._seconds = 0.0

    @property
    def measured(self) -> bool:
        """Whether any chunk has been measured (until then chunks are single-item probes)."""
        return self._fixed is not None or self._items > 0

    @property
    def _per_item(self) -> float | None:
        return None if self._items <= 0 else self._seconds / self._items

    def next_size(self, remaining: int | None) -> int:
        """Size of the next chunk; ``remaining`` is the number of items not yet sent, or None
        for a stream of unknown length."""
        if self._fixed is not None:
            return self._fixed
        measured = self._per_item
        if measured is None:
            return 1  # nothing measured yet: probe with single items
        per_item = max(measured, 1e-9)
        on_target = max(1, int(self._target / per_item))
        if remaining is None:
            return min(on_target, MAX_STREAM_CHUNK)
        guided = math.ceil(remaining / (self._workers * SPREAD))
        floor = min(on_target, max(1, int(MIN_CHUNK_SECONDS / per_item)))
        if self._static_cap is not None:
            floor = min(floor, self._static_cap)
        return max(1, min(on_target, guided), floor)

    def observe(self, items: int, seconds: float) -> None:
        """Record that ``items`` items took ``seconds`` of compute where they ran."""
        if items <= 0:
            return
        self._items = 0.5 * self._items + items
        self._seconds = 0.5 * self._seconds + seconds
