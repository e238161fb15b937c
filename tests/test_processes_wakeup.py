"""The processes backend's manager never misses a wake-up (issue 6).

A caller wakes the manager thread by writing one byte to a pipe, and skips the write while a
flag says a byte is already there. The manager cleared that flag *before* reading the pipe, so
a submit landing between the two wrote a byte the read then swallowed: the flag stayed set
over an empty pipe, every later submit skipped its write, and once the workers went idle the
manager slept in ``select`` for ever while the caller waited for its chunks. On a loaded
machine the manager is sometimes descheduled in that gap; here it is made to be, every time,
by a read that first sleeps.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

# The child replaces the manager's ``os`` with one whose ``read`` (used only on the wake-up
# pipe) sleeps first, as a descheduled manager thread would, while the caller submits one
# chunk every few milliseconds: submits keep landing in the gap.
SCRIPT = textwrap.dedent(
    """
    import os, time
    from parlearn.parallel import Pool, _processes

    class PreemptedOS:
        def __getattr__(self, name):
            return getattr(os, name)

        @staticmethod
        def read(fd, size):
            time.sleep(0.02)
            return os.read(fd, size)

    _processes.os = PreemptedOS()

    def slowly(n):
        for i in range(n):
            time.sleep(0.005)
            yield i

    with Pool("processes", workers=2) as pool, pool.resident(abs) as run:
        for _ in range(3):
            assert run.map(slowly(20), chunksize=1) == list(range(20))
    print("ok")
    """
)


def test_a_submit_while_the_manager_reads_its_wake_up_pipe_is_not_lost() -> None:
    # About two seconds when every wake-up is seen; with one lost, the child never finishes.
    try:
        done = subprocess.run(
            [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=30
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the pool hung: the manager lost a wake-up and never dispatched a chunk")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
