"""What one worker's app and its server share about where the worker is in its life.

::

    starting ──(models loaded and warmed)──► ready ──(recycling: request limit reached)──► draining
        ready:    /v2/health/ready answers 200 (503 before)
        draining: every response carries "Connection: close", so clients move to other
                  workers before this one exits
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["WorkerState"]


@dataclass
class WorkerState:
    ready: bool = False
    draining: bool = False
