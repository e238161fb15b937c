"""Linear models in parallel: parlearn.learn side by side with scikit-learn, and SGD over a
memory-mapped file larger than memory.

Two scenarios:

1. ``inmemory``: ``make_classification`` data of 1M x 100 and 5M x 20 (plus 200,000 held-out
   rows), in float64 and float32. For each, three models against scikit-learn's:
   ``LogisticRegression`` (lbfgs, C=1, tol=1e-4), ``SGDClassifier`` (log_loss, alpha=1e-4,
   tol=1e-3) and ``Ridge`` (alpha=1, Cholesky). Reported: fit time, the final objective
   (computed the same way, in float64, for both models) and test accuracy.
   parlearn runs twice: on threads (what ``backend="auto"`` picks for large data) and on
   processes (the data copied into shared memory once per fit; the copy counts in the fit
   time).
2. ``ooc``: one epoch of ``SGDClassifier`` over a float32 ``.npy`` file larger than this
   machine's RAM (sized from free disk, see ``ooc_size``), read with ``NpySource``: throughput
   next to the disk's raw sequential read speed, and peak memory of the process (and of the
   process tree).

Method (``../shared/BENCHMARKS.md``): every fit runs in a fresh subprocess that loads the data
from ``.npy`` files, makes a small warm-up fit (imports, worker start-up), then times one fit.
scikit-learn gets both cores (``OMP/OPENBLAS/MKL_NUM_THREADS=2``: its BLAS calls and OpenMP
loops use them); parlearn gets ``workers=2`` (one BLAS thread each). Contenders alternate
(A B C, A B C, ...) for ``--repeats`` rounds; tables show the median and min-max, ratios pair
by pair within a round.

Run (under the shared lock, the machine is shared)::

    flock /tmp/parlearn-bench.lock .venv/bin/python -m benchmarks.learn_linear            # both
    flock /tmp/parlearn-bench.lock .venv/bin/python -m benchmarks.learn_linear --quick    # smoke
    ... -m benchmarks.learn_linear --scenario ooc      # only the out-of-core epoch
    ... -m benchmarks.learn_linear --check             # exit 1 when a target is missed

Data are generated once into ``--data-dir`` (default ``/tmp/parlearn-learn-bench``) and kept
for later runs; the out-of-core file is deleted after its run. Results (with the machine's
facts) go to ``benchmarks/results/learn_linear.json`` (``learn_linear-quick.json`` with
``--quick``); a run of one scenario keeps the other's results in that file.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._common import machine_facts, markdown_table, ratio, stats, value_range

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
NAME = "learn_linear"
CHILD_TIMEOUT = 1800
THREADS = 2  # cores given to every contender
TEST_ROWS = 200_000
WARMUP_ROWS = 20_000

TARGET_LOGISTIC_SPEEDUP = 1.5
TARGET_OBJECTIVE_REL = 1e-4
TARGET_SGD_SPEEDUP = 1.8
TARGET_SGD_ACCURACY_POINTS = 0.5
TARGET_OOC_PEAK_GB = 2.0

C = 1.0
ALPHA_SGD = 1e-4
ALPHA_RIDGE = 1.0

Result = dict[str, Any]


@dataclass(frozen=True)
class Dataset:
    key: str
    rows: int
    features: int


FULL = [Dataset("1M x 100", 1_000_000, 100), Dataset("5M x 20", 5_000_000, 20)]
QUICK = [Dataset("100k x 100", 100_000, 100), Dataset("500k x 20", 500_000, 20)]
DTYPES = ("float64", "float32")
MODELS = ("logistic", "sgd", "ridge")
CONTENDERS = ("sklearn", "parlearn", "parlearn-other")
# The backend backend="auto" picks for large data, and the other one, measured side by side.
DEFAULT_BACKEND = {"logistic": "threads", "sgd": "threads", "ridge": "threads"}
OTHER_BACKEND = {"logistic": "processes", "sgd": "processes", "ridge": "processes"}


def label(contender: str, model: str) -> str:
    if contender == "sklearn":
        return "scikit-learn"
    if contender == "parlearn":
        return f"parlearn.learn ({DEFAULT_BACKEND[model]}, the default)"
    return f"parlearn.learn ({OTHER_BACKEND[model]})"


MODEL_TITLES = {
    "logistic": "LogisticRegression (L-BFGS)",
    "sgd": "SGDClassifier (log_loss)",
    "ridge": "Ridge (Cholesky)",
}


# --------------------------------------------------------------------------- data


def _folder(data_dir: Path, dataset: Dataset) -> Path:
    return data_dir / f"{dataset.rows}x{dataset.features}"


def make_data(data_dir: Path, dataset: Dataset) -> Path:
    """``make_classification`` rows, saved once as .npy: train and test, float64 and float32."""
    folder = _folder(data_dir, dataset)
    done = folder / "done"
    if done.exists():
        return folder
    from sklearn.datasets import make_classification

    folder.mkdir(parents=True, exist_ok=True)
    X, y = make_classification(dataset.rows + TEST_ROWS, dataset.features, random_state=0)
    for dtype in DTYPES:
        np.save(folder / f"X_{dtype}.npy", X[: dataset.rows].astype(dtype))
        np.save(folder / f"Xtest_{dtype}.npy", X[dataset.rows :].astype(dtype))
    np.save(folder / "y.npy", y[: dataset.rows])
    np.save(folder / "ytest.npy", y[dataset.rows :])
    done.touch()
    return folder


# --------------------------------------------------------------------------- in a child


def _scores(model: Any, X: np.ndarray, block: int = 200_000) -> np.ndarray:
    """X @ coef + intercept in float64, block by block (no float64 copy of X)."""
    coef = np.asarray(model.coef_, dtype=np.float64).reshape(-1)
    intercept = float(np.asarray(model.intercept_).reshape(-1)[0])
    out = np.empty(len(X))
    for start in range(0, len(X), block):
        out[start : start + block] = X[start : start + block].astype(np.float64) @ coef
    return out + intercept


def objective(model_kind: str, model: Any, X: np.ndarray, y: np.ndarray) -> float:
    """The objective each model minimises, in float64 and the same code for both libraries."""
    z = _scores(model, X)
    coef = np.asarray(model.coef_, dtype=np.float64).reshape(-1)
    n = len(y)
    if model_kind == "ridge":
        residual = y - z
        return float((residual @ residual + ALPHA_RIDGE * coef @ coef) / n)
    sign = np.where(y == 1, 1.0, -1.0)
    loss = float(np.mean(np.logaddexp(0.0, -sign * z)))
    if model_kind == "logistic":
        return loss + float(coef @ coef) / (2 * C * n)
    return loss + ALPHA_SGD / 2 * float(coef @ coef)


def _estimator(model_kind: str, contender: str) -> Any:
    if contender == "sklearn":
        from sklearn import linear_model as lib

        extra: dict[str, Any] = {}
    else:
        from parlearn import learn as lib

        backend = (DEFAULT_BACKEND if contender == "parlearn" else OTHER_BACKEND)[model_kind]
        extra = {"workers": THREADS, "backend": backend}
    if model_kind == "logistic":
        return lib.LogisticRegression(C=C, tol=1e-4, **extra)
    if model_kind == "sgd":
        return lib.SGDClassifier(
            loss="log_loss", alpha=ALPHA_SGD, tol=1e-3, random_state=0, **extra
        )
    return lib.Ridge(alpha=ALPHA_RIDGE, **extra)


def child_inmemory(spec: dict[str, Any]) -> Result:
    folder = Path(spec["folder"])
    dtype, model_kind, contender = spec["dtype"], spec["model"], spec["contender"]
    X = np.load(folder / f"X_{dtype}.npy")
    y = np.load(folder / "y.npy")
    target = y.astype(X.dtype) if model_kind == "ridge" else y
    _estimator(model_kind, contender).fit(X[:WARMUP_ROWS], target[:WARMUP_ROWS])  # warm-up
    model = _estimator(model_kind, contender)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        started = time.perf_counter()
        model.fit(X, target)
        seconds = time.perf_counter() - started
    X_test = np.load(folder / f"Xtest_{dtype}.npy")
    y_test = np.load(folder / "ytest.npy")
    z_test = _scores(model, X_test)
    result: Result = {
        "seconds": seconds,
        "backend": getattr(model, "backend_", None),
        "objective": objective(model_kind, model, X, y.astype(np.float64)),
        "accuracy": float(np.mean((z_test > (0.5 if model_kind == "ridge" else 0.0)) == y_test)),
        "n_iter": int(np.max(getattr(model, "n_iter_", None) or 0)),
        "warnings": sorted({str(w.message)[:120] for w in caught}),
    }
    return result


def _npy_header(fh: Any, shape: tuple[int, ...], dtype: str) -> None:
    np.lib.format.write_array_header_1_0(
        fh, {"descr": np.dtype(dtype).str, "fortran_order": False, "shape": shape}
    )


def _drop_cache(path: Path) -> None:
    """Evict a file's clean pages from the page cache (no root needed)."""
    with open(path, "rb") as fh:
        os.posix_fadvise(fh.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)


class TreeMemory:
    """Peak RSS of this process (sampled every 10 ms) and of the whole process tree, RSS and
    PSS (sampled every 0.25 s: PSS counts a shared page once, split among its mappers)."""

    def __init__(self) -> None:
        import psutil

        self._psutil = psutil
        self._me = psutil.Process()
        self._stop = threading.Event()
        self.self_peak = self.tree_rss_peak = self.tree_pss_peak = 0
        self._threads = [
            threading.Thread(target=self._self_loop, daemon=True),
            threading.Thread(target=self._tree_loop, daemon=True),
        ]

    def _self_loop(self) -> None:
        while not self._stop.wait(0.01):
            self.self_peak = max(self.self_peak, self._me.memory_info().rss)

    def _tree_loop(self) -> None:
        while not self._stop.wait(0.25):
            rss = pss = 0
            for proc in [self._me, *self._me.children(recursive=True)]:
                with contextlib.suppress(self._psutil.Error):
                    info = proc.memory_full_info()
                    rss += info.rss
                    pss += getattr(info, "pss", info.rss)
            self.tree_rss_peak = max(self.tree_rss_peak, rss)
            self.tree_pss_peak = max(self.tree_pss_peak, pss)

    def __enter__(self) -> TreeMemory:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()


def child_ooc(spec: dict[str, Any]) -> Result:
    from parlearn.learn import NpySource, SGDClassifier

    folder = Path(spec["folder"])
    source = NpySource(folder / "X.npy", folder / "y.npy", chunk_bytes=spec["chunk_bytes"])
    model = SGDClassifier(loss="log_loss", max_iter=1, tol=None, random_state=0, workers=THREADS)
    warm = np.load(folder / "Xtest.npy")[:WARMUP_ROWS]
    model.fit(warm, np.load(folder / "ytest.npy")[:WARMUP_ROWS])  # imports, worker start
    for path in (folder / "X.npy", folder / "y.npy"):
        _drop_cache(path)
    with TreeMemory() as memory:
        started = time.perf_counter()
        model.fit(source, classes=[0, 1])
        seconds = time.perf_counter() - started
    X_test, y_test = np.load(folder / "Xtest.npy"), np.load(folder / "ytest.npy")
    return {
        "seconds": seconds,
        "bytes": (folder / "X.npy").stat().st_size + (folder / "y.npy").stat().st_size,
        "accuracy": float(model.score(X_test, y_test)),
        "self_peak_rss": memory.self_peak,
        "tree_peak_rss": memory.tree_rss_peak,
        "tree_peak_pss": memory.tree_pss_peak,
        "chunk_bytes": spec["chunk_bytes"],
        "backend": model.backend_,
    }


def child_main() -> None:
    spec = json.loads(sys.argv[1])
    result = child_ooc(spec) if spec["scenario"] == "ooc" else child_inmemory(spec)
    Path(spec["out"]).write_text(json.dumps(result))


# --------------------------------------------------------------------------- the parent


def run_child(spec: dict[str, Any], tmp: Path) -> Result:
    out = tmp / "result.json"
    out.unlink(missing_ok=True)
    env = dict(os.environ)
    env.update(
        dict.fromkeys(("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"), str(THREADS))
    )
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    command = [
        sys.executable,
        "-c",
        "from benchmarks.learn_linear import child_main; child_main()",
        json.dumps({**spec, "out": str(out)}),
    ]
    try:
        done = subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=CHILD_TIMEOUT
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {CHILD_TIMEOUT} s"}
    if done.returncode != 0 or not out.exists():
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        return {"error": f"exit code {done.returncode}: " + " | ".join(tail)}
    result: Result = json.loads(out.read_text())
    return result


def run_inmemory(
    datasets: list[Dataset], models: Sequence[str], repeats: int, data_dir: Path, log: Any
) -> dict[str, Any]:
    rounds: dict[str, list[Result]] = {}
    with tempfile.TemporaryDirectory(prefix="parlearn-bench-") as tmp:
        for dataset in datasets:
            log(f"data {dataset.key}: generating or reusing {_folder(data_dir, dataset)}")
            folder = make_data(data_dir, dataset)
            for dtype in DTYPES:
                for model in models:
                    for repeat in range(repeats):
                        for contender in CONTENDERS:
                            key = f"{dataset.key}/{dtype}/{model}/{contender}"
                            spec = {
                                "scenario": "inmemory",
                                "folder": str(folder),
                                "dtype": dtype,
                                "model": model,
                                "contender": contender,
                            }
                            result = run_child(spec, Path(tmp))
                            rounds.setdefault(key, []).append(result)
                            shown = result.get("error") or f"{result['seconds']:.3f} s"
                            log(f"  {key} round {repeat + 1}/{repeats}: {shown}")
    return {
        "datasets": [d.__dict__ for d in datasets],
        "models": list(models),
        "repeats": repeats,
        "rounds": rounds,
    }


def ooc_size(data_dir: Path) -> tuple[int, str]:
    """Bytes of features for the out-of-core file: 1.25 x RAM, as long as 20 GB of disk stay
    free afterwards (other people use this disk); else the most that leaves 20 GB."""
    import psutil

    ram = psutil.virtual_memory().total
    free = shutil.disk_usage(data_dir).free
    wanted = int(1.25 * ram)
    margin = 20 * 10**9
    if free - wanted >= margin:
        return wanted, f"1.25 x RAM ({ram / 1e9:.1f} GB), {free / 1e9:.0f} GB free before"
    size = max(free - margin, 0)
    return size, (
        f"disk too small for a file larger than RAM ({ram / 1e9:.1f} GB) with 20 GB to spare: "
        f"{free / 1e9:.0f} GB free, so {size / 1e9:.1f} GB"
    )


def write_ooc_file(folder: Path, feature_bytes: int, features: int = 100) -> tuple[int, float]:
    """float32 features and int8 labels of a noisy linear rule, written in 1M-row pieces."""
    rows = feature_bytes // (4 * features)
    rng = np.random.default_rng(0)
    w = rng.standard_normal(features).astype(np.float32)
    piece = 1_000_000
    started = time.perf_counter()
    with open(folder / "X.npy", "wb") as fx, open(folder / "y.npy", "wb") as fy:
        _npy_header(fx, (rows, features), "<f4")
        _npy_header(fy, (rows,), "|i1")
        for start in range(0, rows, piece):
            n = min(piece, rows - start)
            X = rng.standard_normal((n, features), dtype=np.float32)
            y = (X @ w + rng.standard_normal(n, dtype=np.float32) * 2 > 0).astype(np.int8)
            X.tofile(fx)
            y.tofile(fy)
        fx.flush()
        fy.flush()
        os.fsync(fx.fileno())
        os.fsync(fy.fileno())
    X = rng.standard_normal((TEST_ROWS, features), dtype=np.float32)
    np.save(folder / "Xtest.npy", X)
    np.save(
        folder / "ytest.npy",
        (X @ w + rng.standard_normal(TEST_ROWS, dtype=np.float32) * 2 > 0).astype(np.int8),
    )
    return rows, time.perf_counter() - started


def raw_read_speed(path: Path, limit: int = 8 * 10**9) -> dict[str, float]:
    """Sequential read of the file's first ``limit`` bytes from a cold page cache, 16 MiB at a
    time into one buffer: what the disk gives a plain reader."""
    _drop_cache(path)
    buffer = bytearray(16 * 2**20)
    view = memoryview(buffer)
    total = 0
    started = time.perf_counter()
    with open(path, "rb", buffering=0) as fh:
        os.posix_fadvise(fh.fileno(), 0, 0, os.POSIX_FADV_SEQUENTIAL)
        while total < limit:
            got = fh.readinto(view)
            if not got:
                break
            total += got
    seconds = time.perf_counter() - started
    _drop_cache(path)
    return {"bytes": total, "seconds": seconds, "mb_per_s": total / seconds / 1e6}


def run_ooc(data_dir: Path, quick: bool, log: Any) -> dict[str, Any]:
    folder = data_dir / "ooc"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    try:
        size, why = (2 * 10**9, "quick run: 2 GB") if quick else ooc_size(data_dir)
        log(f"out-of-core file: {size / 1e9:.1f} GB of features ({why})")
        rows, write_seconds = write_ooc_file(folder, size)
        file_bytes = (folder / "X.npy").stat().st_size
        log(
            f"  written: {rows:,} rows x 100 float32, {file_bytes / 1e9:.1f} GB in {write_seconds:.0f} s"
        )
        disk = raw_read_speed(folder / "X.npy")
        log(f"  raw sequential read: {disk['mb_per_s']:.0f} MB/s")
        with tempfile.TemporaryDirectory(prefix="parlearn-bench-") as tmp:
            spec = {"scenario": "ooc", "folder": str(folder), "chunk_bytes": 64 * 2**20}
            result = run_child(spec, Path(tmp))
        if "error" not in result:
            log(
                f"  one epoch: {result['seconds']:.0f} s, "
                f"{result['bytes'] / result['seconds'] / 1e6:.0f} MB/s, peak RSS "
                f"{result['self_peak_rss'] / 1e9:.2f} GB, accuracy {result['accuracy']:.4f}"
            )
        else:
            log(f"  failed: {result['error']}")
        return {
            "size_reason": why,
            "rows": rows,
            "file_bytes": file_bytes,
            "write_seconds": write_seconds,
            "disk": disk,
            "epoch": result,
        }
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# --------------------------------------------------------------------------- report


def _values(rounds: list[Result], name: str) -> list[float]:
    return [r[name] for r in rounds if "error" not in r and name in r]


def _pairs(a: list[Result], b: list[Result], name: str = "seconds") -> list[float]:
    return [
        x[name] / y[name]
        for x, y in zip(a, b, strict=True)
        if "error" not in x and "error" not in y and y[name] > 0
    ]


@dataclass
class Check:
    name: str
    passed: bool
    detail: str


def report_inmemory(data: dict[str, Any], checks: list[Check]) -> str:
    rounds = data["rounds"]
    parts = []
    for ds in data["datasets"]:
        dataset = Dataset(**ds)
        for model in data.get("models", MODELS):
            rows = []
            for dtype in DTYPES:
                base = rounds.get(f"{dataset.key}/{dtype}/{model}/sklearn", [])
                base_objective = (
                    np.median(_values(base, "objective"))
                    if _values(base, "objective")
                    else math.nan
                )
                base_accuracy = (
                    np.median(_values(base, "accuracy")) if _values(base, "accuracy") else math.nan
                )
                for contender in CONTENDERS:
                    r = rounds.get(f"{dataset.key}/{dtype}/{model}/{contender}", [])
                    seconds = stats(_values(r, "seconds"))
                    speedup = stats(_pairs(base, r)) if contender != "sklearn" else None
                    objectives = _values(r, "objective")
                    accuracy = _values(r, "accuracy")
                    rel = (
                        abs(np.median(objectives) - base_objective) / abs(base_objective)
                        if objectives
                        else math.nan
                    )
                    rows.append(
                        [
                            dtype,
                            label(contender, model),
                            value_range(seconds, digits=3),
                            "" if contender == "sklearn" else ratio(speedup),
                            f"{np.median(objectives):.8f}" if objectives else "failed",
                            "" if contender == "sklearn" else f"{rel:.1e}",
                            f"{np.median(accuracy):.4f}" if accuracy else "failed",
                            str(int(np.median(_values(r, "n_iter"))))
                            if _values(r, "n_iter")
                            else "",
                        ]
                    )
                    if contender == "parlearn" and speedup is not None and objectives:
                        _targets(
                            checks,
                            dataset,
                            dtype,
                            model,
                            speedup,
                            rel,
                            np.median(accuracy) - base_accuracy,
                        )
            parts.append(
                f"#### {MODEL_TITLES[model]}, {dataset.key}\n\n"
                + markdown_table(
                    [
                        "dtype",
                        "library",
                        "fit seconds, median (min-max)",
                        "speedup vs scikit-learn",
                        "objective",
                        "objective rel. diff",
                        "test accuracy",
                        "iterations / epochs",
                    ],
                    rows,
                )
            )
    return "\n\n".join(parts)


def _targets(
    checks: list[Check],
    dataset: Dataset,
    dtype: str,
    model: str,
    speedup: dict[str, float],
    rel: float,
    accuracy_diff: float,
) -> None:
    where = f"{model} {dataset.key} {dtype}"
    if model == "logistic":
        checks.append(
            Check(
                f"{where}: objective within {TARGET_OBJECTIVE_REL:g} and >= {TARGET_LOGISTIC_SPEEDUP}x",
                rel <= TARGET_OBJECTIVE_REL and speedup["median"] >= TARGET_LOGISTIC_SPEEDUP,
                f"rel. diff {rel:.1e}, speedup {speedup['median']:.2f}x",
            )
        )
    elif model == "sgd":
        checks.append(
            Check(
                f"{where}: >= {TARGET_SGD_SPEEDUP}x, accuracy at most {TARGET_SGD_ACCURACY_POINTS} point lower",
                speedup["median"] >= TARGET_SGD_SPEEDUP
                and accuracy_diff * 100 >= -TARGET_SGD_ACCURACY_POINTS,
                f"speedup {speedup['median']:.2f}x, accuracy {accuracy_diff * 100:+.2f} points",
            )
        )


def report_ooc(data: dict[str, Any], checks: list[Check]) -> str:
    epoch = data["epoch"]
    if "error" in epoch:
        checks.append(Check("out-of-core epoch", False, epoch["error"]))
        return f"Out-of-core run failed: {epoch['error']}"
    mb_s = epoch["bytes"] / epoch["seconds"] / 1e6
    rows = [
        [
            "file",
            f"{data['file_bytes'] / 1e9:.1f} GB ({data['rows']:,} rows x 100 float32), {data['size_reason']}",
        ],
        ["disk, raw sequential read (cold cache)", f"{data['disk']['mb_per_s']:.0f} MB/s"],
        [
            "one SGD epoch",
            f"{epoch['seconds']:.1f} s: {mb_s:.0f} MB/s ({mb_s / data['disk']['mb_per_s']:.0%} of the disk)",
        ],
        ["peak RSS, training process", f"{epoch['self_peak_rss'] / 1e9:.2f} GB"],
        [
            "peak RSS / PSS, process tree",
            f"{epoch['tree_peak_rss'] / 1e9:.2f} / {epoch['tree_peak_pss'] / 1e9:.2f} GB",
        ],
        ["test accuracy after one epoch", f"{epoch['accuracy']:.4f}"],
        ["chunk, backend", f"{epoch['chunk_bytes'] / 2**20:.0f} MiB, {epoch.get('backend')}"],
    ]
    checks.append(
        Check(
            f"out-of-core: peak RSS < {TARGET_OOC_PEAK_GB} GB",
            epoch["self_peak_rss"] / 1e9 < TARGET_OOC_PEAK_GB,
            f"{epoch['self_peak_rss'] / 1e9:.2f} GB (tree PSS {epoch['tree_peak_pss'] / 1e9:.2f} GB)",
        )
    )
    return markdown_table(["", "measured"], rows)


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, 2 rounds: a smoke run")
    parser.add_argument("--repeats", type=int, default=None, help="rounds (default 5, quick 2)")
    parser.add_argument("--scenario", choices=("all", "inmemory", "ooc"), default="all")
    parser.add_argument(
        "--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "parlearn-learn-bench"
    )
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--report-only", action="store_true", help="print tables from the JSON")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    repeats = args.repeats or (2 if args.quick else 5)
    out = RESULTS / (f"{NAME}-quick.json" if args.quick else f"{NAME}.json")
    previous: dict[str, Any] = json.loads(out.read_text()) if out.exists() else {}

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    results = dict(previous)
    if not args.report_only:
        args.data_dir.mkdir(parents=True, exist_ok=True)
        import psutil

        facts = machine_facts(
            ["parlearn", "numpy", "scipy", "scikit-learn", "pyarrow"],
            threads_per_contender=THREADS,
            disk_free_gb=round(shutil.disk_usage(args.data_dir).free / 1e9, 1),
            ram_gb=round(psutil.virtual_memory().total / 1e9, 1),
        )
        facts["thread_env"] = dict.fromkeys(
            ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"), str(THREADS)
        )
        if args.scenario in ("all", "inmemory"):
            datasets = QUICK if args.quick else FULL
            results["inmemory"] = run_inmemory(
                datasets, args.models, repeats, args.data_dir, log
            ) | {"machine": facts}
        if args.scenario in ("all", "ooc"):
            results["ooc"] = run_ooc(args.data_dir, args.quick, log) | {"machine": facts}
        RESULTS.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=1, default=float))
    checks: list[Check] = []
    if "inmemory" in results:
        print("### In memory\n")
        print(report_inmemory(results["inmemory"], checks))
    if "ooc" in results:
        print("\n### One SGD epoch over a file larger than memory\n")
        print(report_ooc(results["ooc"], checks))
    print("\n### Targets\n")
    print(
        markdown_table(
            ["target", "met", "measured"],
            [[c.name, "yes" if c.passed else "NO", c.detail] for c in checks],
        )
    )
    if not args.report_only:
        print(f"\nraw results: {out.relative_to(ROOT)}")
    return 1 if args.check and not all(c.passed for c in checks) else 0


if __name__ == "__main__":
    raise SystemExit(main())
