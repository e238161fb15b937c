"""Serving under load: ``parlearn serve`` against the setup users write by hand, Flask on
gunicorn sync workers, measured with wrk on loopback.

Two models, each served by both servers from the same file with the same runtime:

- ``logistic``: the federated default's model: ``parlearn federate`` on its defaults (digits,
  FedAvg, multinomial logistic regression, 64 features -> 10 classes), its ``model.npz``;
  Flask predicts with ``parlearn.models.load_model(...).predict``.
- ``mlp``: a 1.01M-parameter MLP (64 -> 1024 -> 912 -> 10, ReLU) trained by scikit-learn on
  the same digits, exported to ONNX with skl2onnx; both servers run it with onnxruntime
  (one thread).

Each request is one digit, ``{"instances": [[64 values]]}`` on ``POST /predict``; both
servers answer ``{"predictions": [label]}`` and must give the same labels (checked on the
held-out digits before any load). Method (``../shared/BENCHMARKS.md``): the server (master
and workers) pinned to core 0 with ``taskset``, wrk pinned to core 1, the same worker count
for both, one BLAS/onnxruntime thread per worker; each (repeat, model, server) starts a fresh
server, warms it up (wrk, 2 s), then runs wrk at 1, 16 and 64 connections; servers alternate
Flask, parlearn, Flask, parlearn... Tables show the median and min-max over the repeats, and
the throughput ratio repeat by repeat. Then a saturation run per model and server: 64
connections for 60 s, where every error counts (socket errors, timeouts, non-2xx answers).

wrk comes from Debian (``apt-get install -y wrk``), not from PyPI; the script stops with that
hint when it is missing. Run::

    .venv/bin/python -m benchmarks.serve_load             # full run, about 15 minutes
    .venv/bin/python -m benchmarks.serve_load --quick     # smoke run, about a minute
    .venv/bin/python -m benchmarks.serve_load --check     # exit 1 when a target is missed

It prints Markdown tables and writes JSON (with the machine's facts) to
``benchmarks/results/serve_load.json`` (``serve_load-quick.json`` with --quick).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._common import THREAD_VARS, machine_facts, markdown_table, ratio, stats, value_range

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
NAME = "serve_load"
BIN = Path(sys.executable).parent

SERVER_CORE = "0"
LOAD_CORE = "1"
CONNECTIONS = (1, 16, 64)
SATURATION_CONNECTIONS = 64
# Hidden layers of the MLP: 64*1024 + 1024 + 1024*912 + 912 + 912*10 + 10 = 1,010,490 weights.
MLP_HIDDEN = (1024, 912)
MLP_EPOCHS = 15  # enough for ~97% on held-out digits; quality is not what is measured here

TARGET_RATIO_16 = 2.0
TARGET_RATIO_64 = 3.0

SERVERS = ("flask", "parlearn")
LABELS = {"flask": "Flask + gunicorn (sync workers)", "parlearn": "parlearn serve"}


@dataclass(frozen=True)
class Plan:
    repeats: int
    seconds: int
    warmup: int
    saturation: int


FULL = Plan(repeats=5, seconds=5, warmup=2, saturation=60)
QUICK = Plan(repeats=1, seconds=2, warmup=1, saturation=5)


# --------------------------------------------------------------------------- the baseline


def flask_app() -> Any:
    """The hand-written baseline, as a gunicorn app factory (``serve_load:flask_app()``): the
    model loaded once per worker at import, ``request.get_json()``, predict, ``jsonify``."""
    from flask import Flask, jsonify, request

    path = Path(os.environ["SERVE_LOAD_MODEL"])
    app = Flask(__name__)
    if path.suffix == ".npz":
        from parlearn.models import load_model

        artifact = load_model(path)

        def predict_rows(X: Any) -> Any:
            return artifact.predict(np.asarray(X, dtype=np.float64))

    else:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name

        def predict_rows(X: Any) -> Any:
            return session.run(["label"], {name: np.asarray(X, dtype=np.float32)})[0]

    @app.post("/predict")
    def predict() -> Any:
        payload = request.get_json(force=True)
        return jsonify(predictions=predict_rows(payload["instances"]).tolist())

    return app


# --------------------------------------------------------------------------- models


def build_models(folder: Path) -> dict[str, Any]:
    """``logistic.npz`` (parlearn federate's defaults) and ``mlp.onnx``; the held-out digits."""
    from skl2onnx import to_onnx
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier

    from parlearn.federated import federate, write_outputs
    from parlearn.federated.datasets import load_dataset

    result = federate("digits", seed=0)  # the defaults of `parlearn federate` / `make demo`
    write_outputs(result.history, folder / "federate", result.artifact)
    shutil.copy(folder / "federate" / "model.npz", folder / "logistic.npz")

    data = load_dataset("digits")
    X_train, X_test, y_train, y_test = train_test_split(
        data.X, data.y, test_size=0.2, random_state=0, stratify=data.y
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # it has not converged after MLP_EPOCHS: no matter
        mlp = MLPClassifier(MLP_HIDDEN, max_iter=MLP_EPOCHS, random_state=0).fit(X_train, y_train)
    onnx = to_onnx(mlp, X_train[:1].astype(np.float32), options={"zipmap": False})
    (folder / "mlp.onnx").write_bytes(onnx.SerializeToString())
    parameters = sum(w.size for w in mlp.coefs_) + sum(b.size for b in mlp.intercepts_)
    return {
        "paths": {"logistic": folder / "logistic.npz", "mlp": folder / "mlp.onnx"},
        "X_test": X_test,
        "y_test": y_test,
        "about": {
            "logistic": {
                "parameters": int(sum(p.size for p in result.artifact.parameters)),
                "trained_by": "parlearn federate (defaults)",
            },
            "mlp": {"parameters": int(parameters), "hidden": list(MLP_HIDDEN)},
        },
    }


# --------------------------------------------------------------------------- servers


class Server:
    """A server process tree pinned to the server core; stopped with SIGTERM, then killed."""

    def __init__(self, kind: str, model: Path, workers: int, log: Path) -> None:
        env = {**os.environ, **dict.fromkeys(THREAD_VARS, "1"), "SERVE_LOAD_MODEL": str(model)}
        env["PYTHONPATH"] = str(ROOT)
        if kind == "flask":
            command = [
                str(BIN / "gunicorn"), "--workers", str(workers), "--worker-class", "sync",
                "--bind", "127.0.0.1:0", "--log-level", "info", "--no-control-socket",
                "benchmarks.serve_load:flask_app()",
            ]  # fmt: skip
        else:
            command = [
                str(BIN / "parlearn"), "serve", str(model), "--workers", str(workers),
                "--port", "0", "--log-level", "info", "--threads-per-worker", "1",
            ]  # fmt: skip
        self.log_path = log
        self._log = open(log, "w")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(
            ["taskset", "-c", SERVER_CORE, *command],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.port = self._wait_for_port()

    def _wait_for_port(self) -> int:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            found = re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", self.log_path.read_text())
            if found:
                return int(found.group(1))
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not start:\n{self.log_path.read_text()[-3000:]}")

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def post(self, path: str, body: Any) -> Any:
        request = urllib.request.Request(
            self.url(path), json.dumps(body).encode(), {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.loads(answer.read())

    def wait_ready(self, row: list[float]) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with suppress(OSError, urllib.error.URLError):
                self.post("/predict", {"instances": [row]})
                return
            time.sleep(0.1)
        raise RuntimeError(f"server not ready:\n{self.log_path.read_text()[-3000:]}")

    def get(self, path: str) -> str:
        with urllib.request.urlopen(self.url(path), timeout=30) as answer:
            return str(answer.read().decode())

    def stop(self) -> None:
        with suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            self.process.wait(60)
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        self._log.close()


# --------------------------------------------------------------------------- wrk

_WRK_REPORT = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, ' ..
    '"status": %d, "timeout": %d, "p50_us": %d, "p99_us": %d, "mean_us": %.1f, "max_us": %d}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.mean, latency.max))
end
"""


def wrk_script(folder: Path, row: list[float]) -> Path:
    body = json.dumps({"instances": [row]})
    path = folder / "predict.lua"
    path.write_text(
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        f"wrk.body = [==[{body}]==]\n" + _WRK_REPORT
    )
    return path


def run_wrk(server: Server, script: Path, connections: int, seconds: int) -> dict[str, Any]:
    command = [
        "taskset", "-c", LOAD_CORE, "wrk", "--threads", "1", "--connections", str(connections),
        "--duration", f"{seconds}s", "--timeout", "10s", "--script", str(script),
        server.url("/predict"),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    found = re.search(r"^RESULT (\{.*\})$", done.stdout, re.MULTILINE)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    result: dict[str, Any] = json.loads(found.group(1))
    result["errors"] = sum(result[k] for k in ("connect", "read", "write", "status", "timeout"))
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


def batch_stats(server: Server) -> dict[str, float]:
    """Requests and model calls so far, from parlearn's /metrics."""
    text = server.get("/metrics")
    values = {}
    for key in ("sum", "count"):
        found = re.search(rf"parlearn_batch_requests_{key}\{{[^}}]*\}} ([0-9.e+]+)", text)
        values[key] = float(found.group(1)) if found else 0.0
    return values


# --------------------------------------------------------------------------- the run


def check_quality(server: Server, X_test: Any, y_test: Any) -> dict[str, Any]:
    """The server's labels for the held-out digits (in batches of 50) and their accuracy."""
    labels: list[int] = []
    for start in range(0, len(X_test), 50):
        labels += server.post("/predict", {"instances": X_test[start : start + 50].tolist()})[
            "predictions"
        ]
    return {"labels": labels, "accuracy": float(np.mean(np.asarray(labels) == y_test))}


def measure(
    kind: str, model: str, models: dict[str, Any], plan: Plan, workers: int, tmp: Path, script: Path
) -> dict[str, Any]:
    row = models["X_test"][0].tolist()
    server = Server(kind, models["paths"][model], workers, tmp / f"{kind}-{model}.log")
    try:
        server.wait_ready(row)
        run_wrk(server, script, 16, plan.warmup)
        out: dict[str, Any] = {}
        for connections in CONNECTIONS:
            before = batch_stats(server) if kind == "parlearn" else None
            result = run_wrk(server, script, connections, plan.seconds)
            if before is not None:
                after = batch_stats(server)
                calls = after["count"] - before["count"]
                result["requests_per_model_call"] = (
                    (after["sum"] - before["sum"]) / calls if calls else None
                )
            out[str(connections)] = result
        return out
    finally:
        server.stop()


def saturate(
    kind: str, model: str, models: dict[str, Any], plan: Plan, workers: int, tmp: Path, script: Path
) -> dict[str, Any]:
    server = Server(kind, models["paths"][model], workers, tmp / f"{kind}-{model}-sat.log")
    try:
        server.wait_ready(models["X_test"][0].tolist())
        run_wrk(server, script, 16, plan.warmup)
        return run_wrk(server, script, SATURATION_CONNECTIONS, plan.saturation)
    finally:
        server.stop()


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=f"python -m benchmarks.{NAME}", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="1 repeat, 2 s runs, 5 s saturation")
    parser.add_argument("--repeats", type=int, help="override the number of repeats")
    parser.add_argument("--workers", type=int, default=2, help="workers of each server")
    parser.add_argument(
        "--models", nargs="+", choices=("logistic", "mlp"), default=["logistic", "mlp"]
    )
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--out", type=Path, help="where to write the JSON")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    plan = QUICK if args.quick else FULL
    if args.repeats:
        plan = Plan(args.repeats, plan.seconds, plan.warmup, plan.saturation)
    if shutil.which("wrk") is None or shutil.which("taskset") is None:
        print("wrk and taskset are needed: apt-get install -y wrk util-linux", file=sys.stderr)
        return 2
    if len(os.sched_getaffinity(0)) < 2:
        print("needs two cores: one for the servers, one for wrk", file=sys.stderr)
        return 2
    out_path = args.out or RESULTS / (f"{NAME}-quick.json" if args.quick else f"{NAME}.json")
    wrk_version = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout
    facts = machine_facts(
        ("parlearn", "numpy", "flask", "gunicorn", "uvicorn", "fastapi", "onnxruntime", "orjson"),
        wrk=wrk_version.split(" Copyright")[0].strip() if wrk_version else None,
        server_core=SERVER_CORE,
        load_core=LOAD_CORE,
    )
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {
        m: {s: [] for s in SERVERS} for m in args.models
    }
    with tempfile.TemporaryDirectory(prefix="parlearn-serve-load-") as name:
        tmp = Path(name)
        print("building the models (parlearn federate, the MLP)...", file=sys.stderr)
        models = build_models(tmp)
        script = wrk_script(tmp, models["X_test"][0].tolist())
        quality: dict[str, dict[str, Any]] = {m: {} for m in args.models}
        for model in args.models:
            for kind in SERVERS:
                server = Server(kind, models["paths"][model], args.workers, tmp / "quality.log")
                try:
                    server.wait_ready(models["X_test"][0].tolist())
                    quality[model][kind] = check_quality(server, models["X_test"], models["y_test"])
                finally:
                    server.stop()
        for repeat in range(plan.repeats):
            for model in args.models:
                for kind in SERVERS:
                    result = measure(kind, model, models, plan, args.workers, tmp, script)
                    runs[model][kind].append(result)
                    shown = ", ".join(
                        f"{c}: {r['rps']:.0f}/s p99 {r['p99_us'] / 1000:.1f} ms err {r['errors']}"
                        for c, r in result.items()
                    )
                    print(f"[{repeat + 1}/{plan.repeats}] {model} {kind}: {shown}", file=sys.stderr)
        saturation: dict[str, dict[str, Any]] = {m: {} for m in args.models}
        for model in args.models:
            for kind in SERVERS:
                result = saturate(kind, model, models, plan, args.workers, tmp, script)
                saturation[model][kind] = result
                print(
                    f"[saturation {plan.saturation} s] {model} {kind}: {result['rps']:.0f}/s, "
                    f"{result['errors']} errors",
                    file=sys.stderr,
                )

    report = _report(args, plan, facts, models["about"], runs, saturation, quality)
    print(report["markdown"])
    facts["loadavg_at_end"] = os.getloadavg()
    document = {
        "benchmark": NAME,
        "command": [
            sys.executable,
            "-m",
            f"benchmarks.{NAME}",
            *(argv if argv is not None else sys.argv[1:]),
        ],
        "quick": args.quick,
        "plan": plan.__dict__,
        "workers": args.workers,
        "connections": list(CONNECTIONS),
        "machine": facts,
        "models": models["about"],
        "quality": {
            m: {k: {"accuracy": v["accuracy"]} for k, v in q.items()} | {"same_labels": _same(q)}
            for m, q in quality.items()
        },
        "runs": runs,
        "summary": report["summary"],
        "saturation": saturation,
        "checks": report["checks"],
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(document, indent=2, default=float) + "\n")
    print(
        f"\nwrote {out_path.relative_to(ROOT) if out_path.is_relative_to(ROOT) else out_path}",
        file=sys.stderr,
    )
    if args.check and not all(c["passed"] for c in report["checks"]):
        return 1
    return 0


def _same(quality: dict[str, Any]) -> bool:
    return bool(quality["flask"]["labels"] == quality["parlearn"]["labels"])


def _report(
    args: argparse.Namespace,
    plan: Plan,
    facts: dict[str, Any],
    about: dict[str, Any],
    runs: dict[str, dict[str, list[dict[str, Any]]]],
    saturation: dict[str, dict[str, Any]],
    quality: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    checks: list[dict[str, Any]] = []
    rows = []
    for model, by_server in runs.items():
        summary[model] = {}
        for connections in map(str, CONNECTIONS):
            flask = [r[connections] for r in by_server["flask"]]
            ours = [r[connections] for r in by_server["parlearn"]]
            entry = {
                kind: {
                    "rps": stats([r["rps"] for r in results]),
                    "p50_ms": stats([r["p50_us"] / 1000 for r in results]),
                    "p99_ms": stats([r["p99_us"] / 1000 for r in results]),
                    "errors": sum(r["errors"] for r in results),
                }
                for kind, results in (("flask", flask), ("parlearn", ours))
            }
            entry["ratio"] = stats([b["rps"] / a["rps"] for a, b in zip(flask, ours, strict=True)])
            batches = [
                r["requests_per_model_call"] for r in ours if r.get("requests_per_model_call")
            ]
            entry["requests_per_model_call"] = stats(batches)
            summary[model][connections] = entry
            rows.append(
                [
                    model,
                    connections,
                    value_range(entry["flask"]["rps"], digits=0),
                    value_range(entry["parlearn"]["rps"], digits=0),
                    ratio(entry["ratio"]),
                    _latency(entry["flask"]),
                    _latency(entry["parlearn"]),
                    f"{entry['flask']['errors']} / {entry['parlearn']['errors']}",
                    value_range(entry["requests_per_model_call"], digits=1),
                ]
            )
        for connections, target in (("16", TARGET_RATIO_16), ("64", TARGET_RATIO_64)):
            entry = summary[model][connections]
            got = entry["ratio"]["median"]
            p99_f, p99_p = entry["flask"]["p99_ms"]["median"], entry["parlearn"]["p99_ms"]["median"]
            passed = got >= target and p99_p < p99_f
            checks.append(
                {
                    "name": f"{model}, {connections} connections: >= {target:g}x Flask's throughput with lower p99",
                    "passed": passed,
                    "detail": f"{got:.2f}x; p99 {p99_p:.2f} ms vs Flask's {p99_f:.2f} ms",
                }
            )
        sat = saturation[model]["parlearn"]
        checks.append(
            {
                "name": f"{model}: zero errors in {plan.saturation} s at {SATURATION_CONNECTIONS} connections",
                "passed": sat["errors"] == 0,
                "detail": f"{sat['requests']:,} requests, {sat['errors']} errors "
                f"(Flask: {saturation[model]['flask']['requests']:,} requests, "
                f"{saturation[model]['flask']['errors']} errors)",
            }
        )
    table = markdown_table(
        [
            "model", "connections", "Flask + gunicorn req/s", "parlearn serve req/s",
            "throughput ratio", "Flask p50 / p99 ms", "parlearn p50 / p99 ms",
            "errors (Flask / parlearn)", "requests per model call (parlearn)",
        ],
        rows,
    )  # fmt: skip
    sat_table = markdown_table(
        ["model", "server", "requests", "req/s", "p50 / p99 ms", "errors"],
        [
            [
                model,
                LABELS[kind],
                f"{r['requests']:,}",
                f"{r['rps']:.0f}",
                f"{r['p50_us'] / 1000:.2f} / {r['p99_us'] / 1000:.2f}",
                f"{r['errors']} ({', '.join(f'{k} {r[k]}' for k in ('connect', 'read', 'write', 'status', 'timeout'))})",
            ]
            for model, by_kind in saturation.items()
            for kind, r in by_kind.items()
        ],
    )
    quality_lines = "\n".join(
        f"- {model}: {about[model]['parameters']:,} parameters; held-out accuracy "
        f"{q['parlearn']['accuracy']:.4f} from parlearn serve, {q['flask']['accuracy']:.4f} from "
        f"Flask; identical labels: {'yes' if _same(q) else 'NO'}"
        for model, q in quality.items()
    )
    command = " ".join(["python -m benchmarks.serve_load", *sys.argv[1:]])
    markdown = "\n\n".join(
        [
            f"### serve_load ({'quick smoke run' if args.quick else 'full run'})",
            f"`{command}`  \n"
            f"{facts['cores']} cores ({facts['cpu_model'] or 'unknown CPU'}), {facts['memory_gb']} GB, "
            f"Python {facts['python']}, {facts['date']}; "
            + ", ".join(f"{k} {v}" for k, v in facts["versions"].items())
            + f", {facts['wrk']}. Servers on core {SERVER_CORE}, wrk (1 thread) on core "
            f"{LOAD_CORE}; {args.workers} workers each; {plan.repeats} repeats of {plan.seconds} s "
            "per connection count, a fresh server per repeat, Flask and parlearn alternating. "
            "One digit per request on POST /predict. Medians (min-max); ratios repeat by repeat.",
            quality_lines,
            table,
            f"Saturation: {SATURATION_CONNECTIONS} connections for {plan.saturation} s, a fresh server each.",
            sat_table,
            "Targets:\n\n"
            + "\n".join(
                f"- {'PASS' if c['passed'] else 'FAIL'} {c['name']}: {c['detail']}" for c in checks
            ),
        ]
    )
    return {"markdown": markdown, "summary": summary, "checks": checks}


def _latency(entry: dict[str, Any]) -> str:
    return f"{entry['p50_ms']['median']:.2f} / {entry['p99_ms']['median']:.2f}"


if __name__ == "__main__":
    sys.exit(main())
