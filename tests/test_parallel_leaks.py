"""No shared-memory segment is left in /dev/shm, and no worker outlives its pool: after normal
runs, exceptions, crashes, and a Ctrl-C (SIGINT) sent to a process running ``map``.

The autouse fixture in conftest checks /dev/shm after every test; these tests make the paths
that could leak happen on purpose.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import psutil
import pytest

from parlearn.errors import WorkerCrashedError
from parlearn.parallel import Pool
from tests import tasks
from tests.conftest import parlearn_segments


def test_no_segment_after_normal_run_exception_and_crash() -> None:
    before = parlearn_segments()
    big = np.ones(300_000)  # auto-shared
    with Pool("processes", workers=2) as pool:
        assert pool.map(tasks.array_sum, [big, big]) == [300_000.0, 300_000.0]

        def boom(i: int) -> float:
            if i == 1:
                raise RuntimeError("boom")
            return float(big.sum())

        with pytest.raises(RuntimeError):
            pool.map(boom, range(4))

        def crash(i: int) -> float:
            if i == 1:
                os.kill(os.getpid(), signal.SIGKILL)
            return float(big.sum())

        with pytest.raises(WorkerCrashedError):
            pool.map(crash, range(4), chunksize=1)
        assert parlearn_segments() == before


SCRIPT = textwrap.dedent(
    """
    import os, sys, time
    import numpy as np
    from parlearn import parallel

    def slow(x):
        time.sleep(30)
        return float(x.sum())

    data = parallel.share(np.ones(1000))
    big = np.ones(400_000)
    @CALL@
    with parallel.Pool("processes", workers=2) as pool:
        pool.map(len, [[1]])  # start the workers
        print("ready", flush=True)
        pool.map(slow, ITEMS, meanwhile=MEANWHILE)
    """
)
# The interrupt lands while the caller waits for the workers, or while it runs its own work
# (``meanwhile``) with the items already sent (two items: the scatter fast path).
CALLS = {
    "waiting": "ITEMS, MEANWHILE = [data, big, data, big], None",
    "in meanwhile": "ITEMS, MEANWHILE = [data, big], lambda: time.sleep(30)",
}


@pytest.mark.slow
@pytest.mark.parametrize("call", CALLS)
def test_ctrl_c_stops_workers_and_unlinks_segments(call: str) -> None:
    script = SCRIPT.replace("@CALL@", CALLS[call])
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("ready"):
            break
    assert len(parlearn_segments(proc.pid)) >= 1
    time.sleep(1.0)  # the slow tasks are running now
    # Workers, the fork server and the resource tracker: none may outlive the program.
    children = psutil.Process(proc.pid).children(recursive=True)
    assert len(children) >= 2
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=15)
    assert time.monotonic() - started < 10.0
    assert "KeyboardInterrupt" in stderr
    _gone, alive = psutil.wait_procs(children, timeout=5)
    assert alive == [], f"processes left running after Ctrl-C: {alive}"
    assert parlearn_segments(proc.pid) == set()


@pytest.mark.slow
def test_owner_killed_outright_still_leaves_no_segment() -> None:
    """SIGKILL gives the owner no chance to clean up; Python's resource tracker does it."""
    code = (
        "from parlearn import parallel; import numpy as np, time; "
        "a = parallel.share(np.ones(10)); print(a.segment_name, flush=True); time.sleep(30)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    name = proc.stdout.readline().strip()
    assert name in parlearn_segments(proc.pid)
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 10
    while parlearn_segments(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert parlearn_segments(proc.pid) == set()
