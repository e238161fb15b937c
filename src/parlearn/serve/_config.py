"""The server's settings: one frozen value built by the command line (or by a caller), checked
once, and shared by the master and, through fork, by every worker."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["BatchPolicy", "ServeConfig"]


@dataclass(frozen=True)
class BatchPolicy:
    """How one worker groups concurrent requests to one model into one call.

    ``max_batch_size`` bounds the rows of one call (a single request larger than that runs
    alone, never split); ``max_delay`` bounds, in seconds, how long a request may wait for
    others to join its batch; ``max_queue`` is how many requests may wait per model and worker
    before new ones are refused with 503. ``enabled=False`` runs every request on its own (it
    still queues, so 503 and 504 behave the same).
    """

    enabled: bool = True
    # 64 rows: large enough that a matrix product amortises its per-call cost, small enough
    # that a batch of the 1M-parameter MLP takes about a millisecond on one core.
    max_batch_size: int = 64
    # 2 ms: below the network jitter a client sees anyway; the wait only happens when other
    # requests are already on their way (see _batching.py), so idle latency is unchanged.
    max_delay: float = 0.002
    # 512 waiting requests per model per worker: eight full batches. Only a worker that cannot
    # keep up fills it, and then a fast 503 beats a slow 504.
    max_queue: int = 512

    def __post_init__(self) -> None:
        if self.max_batch_size < 1:
            raise ValueError(
                f"max_batch_size must be >= 1, got {self.max_batch_size}; "
                "use enabled=False (--no-batching) to turn batching off"
            )
        if not 0 <= self.max_delay <= 1:
            raise ValueError(
                f"max_delay must be between 0 and 1 second, got {self.max_delay}; "
                "a few milliseconds is typical"
            )
        if self.max_queue < 1:
            raise ValueError(f"max_queue must be >= 1, got {self.max_queue}")


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@dataclass(frozen=True)
class ServeConfig:
    """Everything ``parlearn serve`` needs; see ``docs/serving.md`` for each setting."""

    path: Path
    name: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int | None = None  # None: one per core
    threads_per_worker: int | None = None  # None: cores // workers, at least 1
    trusted: bool = False
    batching: BatchPolicy = field(default_factory=BatchPolicy)
    request_timeout: float = 30.0
    max_body_bytes: int = 10 * 1024 * 1024
    # Worker recycling: a worker that has answered this many requests (plus up to
    # max_requests_jitter, so workers do not all restart at once) drains its connections and
    # is replaced. 0 turns recycling off.
    max_requests: int = 1_000_000
    max_requests_jitter: int = 100_000
    graceful_timeout: float = 30.0
    keepalive: float = 5.0
    access_log: bool = False
    log_level: str = "info"

    def __post_init__(self) -> None:
        if self.workers is not None and self.workers < 1:
            raise ValueError(
                f"workers must be >= 1, got {self.workers}; leave it unset for one per core"
            )
        if self.threads_per_worker is not None and self.threads_per_worker < 1:
            raise ValueError(f"threads_per_worker must be >= 1, got {self.threads_per_worker}")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be between 0 and 65535, got {self.port}")
        if self.request_timeout <= 0:
            raise ValueError(f"request_timeout must be > 0 seconds, got {self.request_timeout}")
        if self.max_body_bytes < 1:
            raise ValueError(f"max_body_bytes must be >= 1, got {self.max_body_bytes}")
        if self.max_requests < 0 or self.max_requests_jitter < 0:
            raise ValueError(
                "max_requests and max_requests_jitter must be >= 0 (0 turns recycling off), "
                f"got {self.max_requests} and {self.max_requests_jitter}"
            )
        if self.graceful_timeout <= 0:
            raise ValueError(f"graceful_timeout must be > 0 seconds, got {self.graceful_timeout}")

    @property
    def worker_count(self) -> int:
        return self.workers or _cores()

    @property
    def threads(self) -> int:
        """BLAS / OpenMP / onnxruntime threads of one worker."""
        return self.threads_per_worker or max(1, _cores() // self.worker_count)
