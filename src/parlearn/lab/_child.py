"""A fresh Python process that measures one concurrency model: ``python -m parlearn.lab._child``.

::

    parent (bench.py)                          this process
    spec as JSON ──────── stdin ─────────────► MeasureSpec ─► measure() ─► Points
    result as JSON ◄────── stdout (saved fd) ── {"points": [...]} | {"task_error": ...}
    its tail in error messages ◄─ stderr ───── anything the task prints (stdout goes here too)

The task may print: file descriptor 1 is pointed at stderr before anything runs, and the result
is written to a saved copy of the original stdout, so nothing the task prints can corrupt it.
SIGTERM (the parent giving up, or Ctrl-C) unwinds like Ctrl-C: pools close, workers are reaped.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from types import FrameType
from typing import Any

from parlearn.errors import ParlearnError
from parlearn.lab._modes import MeasureSpec, TaskError, measure


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main() -> int:
    result_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    signal.signal(signal.SIGTERM, _interrupt)
    spec = MeasureSpec.from_dict(json.loads(sys.stdin.read()))
    payload: dict[str, Any]
    try:
        payload = {"points": [p.to_dict() for p in measure(spec)]}
    except TaskError as exc:
        payload = {"task_error": {"message": str(exc), "index": exc.index, "type": exc.error_type}}
    except (ParlearnError, ValueError, OSError) as exc:
        payload = {"error": f"{type(exc).__name__}: {exc}"}
    with os.fdopen(result_fd, "w") as out:
        json.dump(payload, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
