"""Training on a file much larger than the memory it is allowed: peak memory measured in a
fresh subprocess, so nothing else this test session holds counts."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

ROWS, FEATURES = 500_000, 50  # float32: 100 MB of features
CHUNK_BYTES = 2 * 2**20

SCRIPT = textwrap.dedent(
    """
    import json, sys, threading
    import numpy as np
    import psutil
    from parlearn.learn import NpySource, SGDClassifier

    me = psutil.Process()
    peak, stop = [0], threading.Event()

    def sample():  # resident memory of this process, every millisecond
        while not stop.wait(0.001):
            peak[0] = max(peak[0], me.memory_info().rss)

    folder, backend, chunk_bytes = sys.argv[1], sys.argv[2], int(sys.argv[3])
    source = NpySource(f"{folder}/X.npy", f"{folder}/y.npy", chunk_bytes=chunk_bytes)
    model = SGDClassifier(max_iter=1, tol=None, random_state=0, backend=backend, workers=2)
    model.fit(NpySource(f"{folder}/X.npy", f"{folder}/y.npy", chunk_rows=1000))  # warm up
    before = peak[0] = me.memory_info().rss
    sampler = threading.Thread(target=sample)
    sampler.start()
    model.fit(source, classes=[0, 1])
    stop.set()
    sampler.join()
    X = np.load(f"{folder}/X.npy", mmap_mode="r")[:20000]
    y = np.load(f"{folder}/y.npy")[:20000]
    mb = 2**20
    print(json.dumps({"before": before / mb, "peak": peak[0] / mb, "score": model.score(X, y)}))
    """
)


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ooc")
    rng = np.random.default_rng(0)
    w = rng.normal(size=FEATURES).astype(np.float32)
    X = np.lib.format.open_memmap(folder / "X.npy", "w+", np.float32, (ROWS, FEATURES))
    y = np.empty(ROWS, dtype=np.int8)
    for start in range(0, ROWS, 100_000):
        part = rng.normal(size=(100_000, FEATURES)).astype(np.float32)
        X[start : start + 100_000] = part
        y[start : start + 100_000] = part @ w > 0
    X.flush()
    del X
    np.save(folder / "y.npy", y)
    return folder


@pytest.mark.slow
@pytest.mark.parametrize(
    "backend",
    # processes hung now and then on a loaded machine: the pool's manager lost a wake-up
    # (issue 6; tests/test_processes_wakeup.py reproduces it every time).
    ["serial", "threads", "processes"],
)
def test_one_epoch_over_a_file_stays_within_a_few_chunks(big_file: Path, backend: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(big_file), backend, str(CHUNK_BYTES)],
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    grew = result["peak"] - result["before"]
    file_mb = ROWS * FEATURES * 4 / 2**20
    # A chunk being read, one waiting, one training, their targets and a batch's temporaries:
    # well under 16 chunks, and a small fraction of the file.
    assert grew < 16 * CHUNK_BYTES / 2**20, result
    assert grew < file_mb / 5, result
    assert result["score"] > 0.9
