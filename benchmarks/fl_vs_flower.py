"""Federated simulation: parlearn's ``simulate`` side by side with Flower's simulation engine.

The same workload on three engines, in one run:

- **Flower** (``flwr[simulation]``): ``flwr.simulation.run_simulation`` with a ``ServerApp`` and a
  ``ClientApp`` (Flower's Message API, the current one) on the Ray backend, 2 CPUs for Ray and
  ``num_cpus=1`` per client: two client actors at a time. The server runs
  ``flwr.serverapp.strategy.FedAvg``, which samples the same clients as parlearn (see below).
- **parlearn**: ``parlearn.federated.simulation.simulate`` on ``backend="processes"``,
  ``workers=2``; client data placed in shared memory once (``parlearn.parallel.share``).
- **floor**: a hand-written single-process loop over the same clients (slice the client's rows,
  ``local_sgd``, weighted average), its time divided by the cores (2): what the hardware can do.
- **pipes**: a hand-written minimal process engine, a yardstick rather than a product: 2 worker
  processes forked once with the data, each round one pickled message each way per worker over
  a pipe, clients split by example counts, no scheduler, checks or strategy object. Its time /
  the floor's is what process wake-ups and pickling alone cost on this machine.

The workload: FedProx's Synthetic(1,1) data (``make_synthetic``, seeded, the lognormal tail of
samples per device capped), one device per client (natural partition), each client's samples
split 80/20 into train/test; multinomial logistic regression (60 features, 10 classes) trained
by parlearn's NumPy mini-batch SGD (``local_sgd``) on every engine; FedAvg; (a) 30 clients,
10 per round and (b) 1,000 clients, 100 per round; two local workloads: ``E=1`` (one local
epoch: the engine's overhead dominates) and ``E=20`` (FedProx's setting: the clients' NumPy
work dominates); batch size 10, learning rate 0.01 (FedProx's), seed 0.

Equal accuracy by construction: on every engine the same client class
(``parlearn.federated.experiment.ArrayClientFactory`` -> ``ArrayClient``) trains client ``cid``
with the seed ``client_seed(seed, round, cid)``, and the clients of each round are the ones
parlearn's FedAvg samples (Flower's strategy is subclassed to pick those nodes; a first
``query`` message asks every Flower node its partition id). The final models agree to
floating-point rounding (the table shows the largest difference). Accuracy is measured once,
after the last round, on the pooled test samples of all clients (centralized evaluation, the
same code on every engine); there is no federated evaluation.

Seconds per round: the median over the rounds after the first (the first warms up workers,
imports and caches), per run; the tables show the median and min-max over ``--repeats`` runs,
and ratios run by run. Flower's round time is measured from one call of its ``evaluate_fn``
(called at the end of every round) to the next.

Method (``../shared/BENCHMARKS.md``): every run is a fresh subprocess with
``OMP/OPENBLAS/MKL_NUM_THREADS=1``, the engines alternate (floor, pipes, parlearn, Flower,
floor, ...).
The machine is shared: before each run the parent waits (up to ``--quiet-wait`` seconds) until
the CPUs are less than 15% busy, and records how busy they were and the load average.

Run::

    .venv/bin/python -m benchmarks.fl_vs_flower              # full run, about 15 minutes
    .venv/bin/python -m benchmarks.fl_vs_flower --quick      # smoke run, small sizes
    .venv/bin/python -m benchmarks.fl_vs_flower --check      # exit 1 when a target is missed

It prints Markdown tables and writes JSON (with the machine's facts) to
``benchmarks/results/fl_vs_flower.json`` (``fl_vs_flower-quick.json`` with --quick).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, cast

import numpy as np

from benchmarks._common import THREAD_VARS
from benchmarks._common import machine_facts as _machine_facts
from benchmarks._common import markdown_table as _table
from benchmarks._common import ratio as _ratio
from benchmarks._common import stats as _stats
from benchmarks._common import value_range as _range
from parlearn.federated.client import local_sgd
from parlearn.models import linear

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
NAME = "fl_vs_flower"

CHILD_TIMEOUT = 1800
QUIET_PERCENT = 15.0  # before each run, wait until the machine is at most this busy

TARGET_VS_FLOWER = 20.0  # parlearn at least this many times faster than Flower
TARGET_VS_FLOOR = 1.5  # parlearn within this factor of the floor
ACCURACY_POINTS = 1.0  # "equal accuracy": within this many percentage points

KIND = "logistic"
NUM_CLASSES = 10
CLIENT_TEST_FRACTION = 0.2
ENGINES = ("floor", "pipes", "parlearn", "flower")
LABELS = {
    "floor": "floor: single-process loop / cores",
    "pipes": "pipes: hand-written minimal process engine",
    "parlearn": 'parlearn simulate, backend="processes"',
    "flower": "Flower run_simulation, Ray backend",
}
HOW = {
    "floor": "local_sgd per client in one process; time / 2",
    "pipes": "2 forked processes, 1 pickled message each way per worker per round",
    "parlearn": "workers=2, shared-memory client data, the server runs one bin of a light round",
    "flower": "Ray num_cpus=2, client num_cpus=1 (2 actors)",
}


@dataclass(frozen=True)
class Workload:
    key: str
    title: str
    num_clients: int
    per_round: int
    rounds: int
    epochs: int
    batch_size: int = 10
    learning_rate: float = 0.01
    max_samples_per_device: int = 1000
    seed: int = 0


def workloads(quick: bool, epochs: Sequence[int]) -> list[Workload]:
    out = []
    for e in epochs:
        if quick:
            out += [
                Workload(f"a-E{e}", f"(a) 30 clients, 10 per round, E={e}", 30, 10, 4, e),
                Workload(f"b-E{e}", f"(b) 200 clients, 20 per round, E={e}", 200, 20, 3, e),
            ]
        else:
            out += [
                Workload(f"a-E{e}", f"(a) 30 clients, 10 per round, E={e}", 30, 10, 20, e),
                Workload(f"b-E{e}", f"(b) 1,000 clients, 100 per round, E={e}", 1000, 100, 10, e),
            ]
    return out


# --------------------------------------------------------------------------- shared pieces


@dataclass
class Data:
    """The workload's data: all samples, per-client train/test partitions, the pooled test set."""

    X: Any
    y: Any
    train: Any  # parlearn.federated.partition.Partition
    test: Any
    eval_X: Any
    eval_y: Any


def make_data(w: Workload) -> Data:
    from parlearn.federated.datasets import make_synthetic
    from parlearn.federated.partition import partition_natural, train_test_split_per_client

    data = make_synthetic(
        1.0,
        1.0,
        num_devices=w.num_clients,
        rng=w.seed,
        max_samples_per_device=w.max_samples_per_device,
    )
    assert data.client_ids is not None  # Synthetic data names each sample's device
    split = partition_natural(data.client_ids)
    train, test = train_test_split_per_client(
        split, CLIENT_TEST_FRACTION, np.random.default_rng(w.seed)
    )
    rows = np.sort(test.order)
    return Data(data.X, data.y, train, test, data.X[rows], data.y[rows])


def factory_for(w: Workload, X: Any, y: Any, train: Any, test: Any) -> Any:
    """The client builder every engine uses: client ``cid`` is an ``ArrayClient``."""
    from parlearn.federated.experiment import ArrayClientFactory

    return ArrayClientFactory(
        KIND, X, y, train, test, NUM_CLASSES, w.epochs, w.batch_size, w.learning_rate
    )


def sampler(w: Workload) -> Any:
    """parlearn's FedAvg: its ``configure_fit`` picks the clients of a round on every engine."""
    from parlearn.federated.strategy import FedAvg

    return FedAvg(
        fraction_fit=w.per_round / w.num_clients,
        min_fit_clients=w.per_round,
        fraction_evaluate=0.0,
        min_evaluate_clients=0,
        min_available_clients=2,
    )


def chosen_clients(w: Workload, server_round: int) -> list[int]:
    picked = sampler(w).configure_fit(
        server_round, w.num_clients, np.random.default_rng([w.seed, server_round, 0])
    )
    return [cid for cid, _ in picked]


def accuracy(params: Sequence[Any], X: Any, y: Any) -> float:
    return float(np.mean(linear.predict(KIND, params, X) == y))


def initial_parameters() -> list[Any]:
    return linear.init_parameters(KIND, 60, NUM_CLASSES)


def _summary(
    seconds: list[float], params: Sequence[Any], acc: float, **extra: Any
) -> dict[str, Any]:
    later = seconds[1:] or seconds
    return {
        "round_seconds": seconds,
        "seconds_per_round": statistics.median(later),
        "accuracy": acc,
        "parameters": [np.asarray(p, dtype=np.float64).tolist() for p in params],
        **extra,
    }


# --------------------------------------------------------------------------- the engines


def _train_client(w: Workload, d: Data, params: Any, cid: int, seed: int) -> tuple[Any, int]:
    """What the floor and pipes do per client: slice its rows, ``local_sgd``, and the
    training-loss metric every client reports. Returns the new parameters and the examples."""
    rows = d.train.client_indices(cid)
    X, y = d.X[rows], d.y[rows]
    new = local_sgd(
        KIND,
        params,
        X,
        y,
        epochs=w.epochs,
        batch_size=w.batch_size,
        learning_rate=w.learning_rate,
        rng=np.random.default_rng(seed),
    )
    linear.loss(KIND, new, X, y)
    return new, len(y)


def run_floor(w: Workload, workers: int) -> dict[str, Any]:
    """A single-process loop: for each chosen client, slice its rows, run ``local_sgd``, add
    its update to a weighted sum. The time per round divided by ``workers`` is the floor."""
    from parlearn.federated.simulation import client_seed

    d = make_data(w)
    params = initial_parameters()
    seconds = []
    for r in range(1, w.rounds + 1):
        started = time.perf_counter()
        total = 0
        summed = [np.zeros_like(p) for p in params]
        for cid in chosen_clients(w, r):
            new, count = _train_client(w, d, params, cid, client_seed(w.seed, r, cid))
            for s, p in zip(summed, new, strict=True):
                s += count * p
            total += count
        params = [s / total for s in summed]
        acc = accuracy(params, d.eval_X, d.eval_y) if r == w.rounds else None
        seconds.append(time.perf_counter() - started)
    serial = seconds
    return _summary(
        [s / workers for s in serial],
        params,
        acc if acc is not None else float("nan"),
        serial_seconds_per_round=statistics.median(serial[1:] or serial),
    )


def run_parlearn(w: Workload, workers: int) -> dict[str, Any]:
    from parlearn.federated.simulation import simulate
    from parlearn.parallel import share

    d = make_data(w)
    X, y = share(d.X), share(d.y)
    final: dict[str, float] = {}

    def evaluate(server_round: int, parameters: list[Any]) -> tuple[float, dict[str, Any]] | None:
        if server_round < w.rounds:
            return None
        final["accuracy"] = accuracy(parameters, d.eval_X, d.eval_y)
        return 0.0, {"accuracy": final["accuracy"]}

    strategy = sampler(w)
    strategy.evaluate_fn = evaluate
    strategy.initial_parameters = initial_parameters()
    try:
        history = simulate(
            factory_for(w, X, y, d.train, d.test),
            w.num_clients,
            strategy,
            w.rounds,
            local_epochs=w.epochs,
            seed=w.seed,
            backend="processes",
            workers=workers,
        )
    finally:
        X.close()
        y.close()
    failures = sum(r.fit_failures for r in history.rounds)
    return _summary(
        [r.seconds for r in history.rounds],
        history.parameters,
        final.get("accuracy", float("nan")),
        failures=failures,
    )


def _pipes_worker(conn: Any, w: Workload) -> None:
    """A ``pipes`` worker: forked with the data, it trains the clients each message names."""
    d = make_data(w)
    while message := conn.recv_bytes():
        params, jobs = pickle.loads(message)
        results = []
        for position, cid, seed in jobs:
            results.append((position, *_train_client(w, d, params, cid, seed)))
        conn.send_bytes(pickle.dumps(results, pickle.HIGHEST_PROTOCOL))


def run_pipes(w: Workload, workers: int) -> dict[str, Any]:
    """The least a process-based engine pays here: ``workers`` processes forked once, one
    pickled message each way per worker per round over a pipe, clients split by example
    counts (LPT), no scheduler, no checks, no strategy object. Not a product: a yardstick."""
    import multiprocessing as mp

    from parlearn.federated.simulation import client_seed

    d = make_data(w)
    sizes = np.diff(d.train.offsets)
    ctx = mp.get_context("fork")
    pipes = [ctx.Pipe() for _ in range(workers)]
    procs = [ctx.Process(target=_pipes_worker, args=(child, w)) for _, child in pipes]
    for proc in procs:
        proc.start()
    params = initial_parameters()
    seconds = []
    try:
        for r in range(1, w.rounds + 1):
            started = time.perf_counter()
            order = sorted(chosen_clients(w, r), key=lambda c: (-sizes[c], c))
            bins: list[list[tuple[int, int, int]]] = [[] for _ in range(workers)]
            loads = [0] * workers
            for position, cid in enumerate(order):
                k = loads.index(min(loads))
                bins[k].append((position, cid, client_seed(w.seed, r, cid)))
                loads[k] += int(sizes[cid])
            for (conn, _), jobs in zip(pipes, bins, strict=True):
                conn.send_bytes(pickle.dumps((params, jobs), pickle.HIGHEST_PROTOCOL))
            results: list[Any] = [None] * len(order)
            for conn, _ in pipes:
                for position, new, count in pickle.loads(conn.recv_bytes()):
                    results[position] = (new, count)
            summed = [np.zeros_like(p) for p in params]
            total = 0
            for new, count in results:
                for acc, p in zip(summed, new, strict=True):
                    acc += count * p
                total += count
            params = [acc / total for acc in summed]
            seconds.append(time.perf_counter() - started)
    finally:
        for conn, _ in pipes:
            conn.send_bytes(b"")
        for proc in procs:
            proc.join(5)
            if proc.is_alive():
                proc.kill()
    return _summary(seconds, params, accuracy(params, d.eval_X, d.eval_y))


# Flower: the ServerApp runs in a thread of this process, the ClientApp in Ray actors.
_FLOWER: dict[str, Any] = {}  # the server's inputs and outputs (this process only)
_CLIENT_CACHE: dict[str, Any] = {}  # per actor process: the loaded client data


def _flower_factory(folder: str, w: Workload) -> Any:
    """In a Ray actor: the client builder over the workload's arrays, loaded once per process
    (memory-mapped ``.npy`` files: what a Flower user's ``client_fn`` would load)."""
    if _CLIENT_CACHE.get("folder") != folder:
        from parlearn.federated.partition import Partition

        path = Path(folder)
        X = np.load(path / "X.npy", mmap_mode="r")
        y = np.load(path / "y.npy", mmap_mode="r")
        train = Partition(np.load(path / "train_order.npy"), np.load(path / "train_offsets.npy"))
        test = Partition(np.load(path / "test_order.npy"), np.load(path / "test_offsets.npy"))
        _CLIENT_CACHE.clear()
        _CLIENT_CACHE.update(folder=folder, factory=factory_for(w, X, y, train, test))
    return _CLIENT_CACHE["factory"]


def _flower_apps() -> tuple[Any, Any]:
    from flwr.app import ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict
    from flwr.app.message_type import MessageType
    from flwr.clientapp import ClientApp
    from flwr.serverapp import Grid, ServerApp
    from flwr.serverapp.strategy import FedAvg

    from parlearn.federated.simulation import client_seed

    client_app = ClientApp()

    @client_app.query()
    def query(msg: Message, context: Context) -> Message:
        pid = int(context.node_config["partition-id"])
        return Message(RecordDict({"info": MetricRecord({"partition-id": pid})}), reply_to=msg)

    @client_app.train()
    def train(msg: Message, context: Context) -> Message:
        pid = int(context.node_config["partition-id"])
        cfg = msg.content["config"]
        w = Workload(**json.loads(str(cfg["workload"])))
        client = _flower_factory(str(cfg["data"]), w)(pid)
        server_round = int(cast(int, cfg["server-round"]))
        config = {
            "server_round": server_round,
            "local_epochs": w.epochs,
            "seed": client_seed(w.seed, server_round, pid),
        }
        params = cast(ArrayRecord, msg.content["arrays"]).to_numpy_ndarrays()
        new, num_examples, metrics = client.fit(params, config)
        reply = RecordDict(
            {
                "arrays": ArrayRecord(new),
                "metrics": MetricRecord(
                    {"num-examples": int(num_examples), "loss": float(metrics["loss"])}
                ),
            }
        )
        return Message(reply, reply_to=msg)

    class SameClientsFedAvg(FedAvg):
        """Flower's FedAvg, sampling the nodes that hold the clients parlearn samples."""

        def __init__(self, w: Workload, node_of: dict[int, int]) -> None:
            super().__init__(fraction_train=w.per_round / w.num_clients, fraction_evaluate=0.0)
            self.workload = w
            self.node_of = node_of

        def configure_train(
            self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
        ) -> list[Message]:
            config["server-round"] = server_round
            record = RecordDict({self.arrayrecord_key: arrays, self.configrecord_key: config})
            nodes = [self.node_of[cid] for cid in chosen_clients(self.workload, server_round)]
            return list(self._construct_messages(record, nodes, MessageType.TRAIN))

    server_app = ServerApp()

    @server_app.main()
    def main(grid: Grid, context: Context) -> None:
        w: Workload = _FLOWER["workload"]
        d: Data = _FLOWER["data"]
        while len(nodes := list(grid.get_node_ids())) < w.num_clients:
            time.sleep(0.1)
        # Which node holds which client (partition id): one query message to each.
        started = time.perf_counter()
        asked = [
            Message(RecordDict(), dst_node_id=n, message_type=MessageType.QUERY) for n in nodes
        ]
        node_of = {
            int(cast(int, r.content["info"]["partition-id"])): r.metadata.src_node_id
            for r in grid.send_and_receive(asked)
        }
        _FLOWER["query_seconds"] = time.perf_counter() - started
        if len(node_of) != w.num_clients:
            raise RuntimeError(f"{len(node_of)} of {w.num_clients} nodes answered the query")
        stamps: list[float] = []

        def evaluate(server_round: int, arrays: ArrayRecord) -> MetricRecord | None:
            if server_round == w.rounds:
                params = arrays.to_numpy_ndarrays()
                _FLOWER["parameters"] = params
                _FLOWER["accuracy"] = accuracy(params, d.eval_X, d.eval_y)
            stamps.append(time.perf_counter())
            return None

        result = SameClientsFedAvg(w, node_of).start(
            grid,
            ArrayRecord(initial_parameters()),
            num_rounds=w.rounds,
            train_config=ConfigRecord(
                {"workload": json.dumps(asdict(w)), "data": _FLOWER["folder"]}
            ),
            evaluate_fn=evaluate,
        )
        _FLOWER["round_seconds"] = [b - a for a, b in itertools.pairwise(stamps)]
        _FLOWER["rounds_trained"] = len(result.train_metrics_clientapp)

    return server_app, client_app


def run_flower(w: Workload, workers: int) -> dict[str, Any]:
    import flwr  # noqa: F401  (fail early when flwr is not installed)
    from flwr.simulation import run_simulation

    d = make_data(w)
    with tempfile.TemporaryDirectory(prefix="parlearn-flower-") as folder:
        for name, array in {
            "X": d.X,
            "y": d.y,
            "train_order": d.train.order,
            "train_offsets": d.train.offsets,
            "test_order": d.test.order,
            "test_offsets": d.test.offsets,
        }.items():
            np.save(Path(folder) / f"{name}.npy", np.ascontiguousarray(array))
        _FLOWER.clear()
        _FLOWER.update(workload=w, data=d, folder=folder)
        server_app, client_app = _flower_apps()
        started = time.perf_counter()
        run_simulation(
            server_app=server_app,
            client_app=client_app,
            num_supernodes=w.num_clients,
            backend_name="ray",
            backend_config={
                "client_resources": {"num_cpus": 1, "num_gpus": 0.0},
                "init_args": {"num_cpus": workers, "num_gpus": 0, "include_dashboard": False},
            },
        )
        total = time.perf_counter() - started
    if "parameters" not in _FLOWER or len(_FLOWER.get("round_seconds", [])) != w.rounds:
        raise RuntimeError("the Flower run did not finish its rounds (see the log above)")
    return _summary(
        _FLOWER["round_seconds"],
        _FLOWER["parameters"],
        _FLOWER["accuracy"],
        query_seconds=_FLOWER["query_seconds"],
        total_seconds=total,
    )


RUNNERS = {"floor": run_floor, "pipes": run_pipes, "parlearn": run_parlearn, "flower": run_flower}


def child_main() -> None:
    """Entry point of one measurement's subprocess: ``argv[1]`` is its JSON spec."""
    spec = json.loads(sys.argv[1])
    w = Workload(**spec["workload"])
    result = RUNNERS[spec["engine"]](w, spec["workers"])
    Path(spec["out"]).write_text(json.dumps(result))


# --------------------------------------------------------------------------- the parent

Result = dict[str, Any]


def wait_for_quiet(max_wait: float) -> float:
    """The machine is shared: wait (at most ``max_wait`` seconds) until the other processes use
    less than ``QUIET_PERCENT`` of the CPUs; returns the last busy share seen (percent)."""
    import psutil

    deadline = time.monotonic() + max_wait
    while True:
        busy = float(psutil.cpu_percent(interval=0.5))
        if busy < QUIET_PERCENT or time.monotonic() >= deadline:
            return busy


def run_child(engine: str, w: Workload, workers: int, tmp: Path) -> Result:
    out = tmp / f"{w.key}_{engine}.json"
    out.unlink(missing_ok=True)
    spec = {"engine": engine, "workload": asdict(w), "workers": workers, "out": str(out)}
    env = dict(os.environ)
    env.update(dict.fromkeys(THREAD_VARS, "1"))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")
    command = [
        sys.executable,
        "-c",
        "from benchmarks.fl_vs_flower import child_main; child_main()",
        json.dumps(spec),
    ]
    started = time.perf_counter()
    try:
        done = subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=CHILD_TIMEOUT
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {CHILD_TIMEOUT} s"}
    if done.returncode != 0 or not out.exists():
        tail = (done.stderr or done.stdout).strip().splitlines()[-6:]
        return {"error": f"exit code {done.returncode}: " + " | ".join(tail)}
    result: Result = json.loads(out.read_text())
    result["process_seconds"] = time.perf_counter() - started
    return result


def _ok(runs: list[Result]) -> list[Result]:
    return [r for r in runs if "error" not in r]


def _pairs(a: list[Result], b: list[Result], name: str = "seconds_per_round") -> list[float]:
    """Run-by-run ratios a / b (the runs of one repeat)."""
    return [
        x[name] / y[name]
        for x, y in zip(a, b, strict=True)
        if "error" not in x and "error" not in y and y[name] > 0
    ]


def _max_difference(a: Result, b: Result) -> float:
    return max(
        float(np.max(np.abs(np.asarray(p) - np.asarray(q))))
        for p, q in zip(a["parameters"], b["parameters"], strict=True)
    )


@dataclass
class Check:
    name: str
    passed: bool
    detail: str


def report(
    w: Workload, runs: dict[str, list[Result]], checks: list[Check]
) -> tuple[str, dict[str, Any]]:
    """The Markdown table of one workload, its target checks and its JSON summary."""
    parlearn = runs["parlearn"]
    rows = []
    summary: dict[str, Any] = {}
    first = {e: next(iter(_ok(runs[e])), None) for e in ENGINES}
    for engine in ENGINES:
        good = _ok(runs[engine])
        per_round = _stats([r["seconds_per_round"] for r in good])
        accs = sorted({round(r["accuracy"], 6) for r in good})
        vs_parlearn = _stats(_pairs(runs[engine], parlearn)) if engine != "parlearn" else None
        vs_floor = _stats(_pairs(runs[engine], runs["floor"])) if engine != "floor" else None
        diff = (
            _max_difference(a, b)
            if engine != "parlearn" and (a := first[engine]) and (b := first["parlearn"])
            else None
        )
        if not good:
            errors = "; ".join(r["error"][:200] for r in runs[engine])
            rows.append([LABELS[engine], HOW[engine], "failed: " + errors, "", "", "", ""])
        else:
            rows.append(
                [
                    LABELS[engine],
                    HOW[engine],
                    _range(per_round, digits=1, scale=1000.0),
                    _ratio(vs_parlearn, 2) if vs_parlearn else "",
                    _ratio(vs_floor, 2) if vs_floor else "",
                    ", ".join(f"{100 * a:.2f}" for a in accs),
                    "" if diff is None else f"{diff:.1e}",
                ]
            )
        summary[engine] = {
            "seconds_per_round": per_round,
            "vs_parlearn": vs_parlearn,
            "vs_floor": vs_floor,
            "accuracy": accs,
            "max_parameter_difference_vs_parlearn": diff,
            "errors": [r["error"] for r in runs[engine] if "error" in r],
        }
        if engine == "floor":
            summary[engine]["serial_seconds_per_round"] = _stats(
                [r["serial_seconds_per_round"] for r in good]
            )
        if engine == "flower":
            summary[engine]["query_seconds"] = _stats([r["query_seconds"] for r in good])
            summary[engine]["total_seconds"] = _stats([r["total_seconds"] for r in good])
    acc = {e: summary[e]["accuracy"] for e in ENGINES}
    flower = summary["flower"]["vs_parlearn"]
    floor = _stats(_pairs(parlearn, runs["floor"]))
    # The most any engine could gain over Flower here: an engine running at the floor.
    attainable = _stats(_pairs(runs["flower"], runs["floor"]))
    summary["parlearn_vs_floor"] = floor
    summary["flower_vs_floor"] = attainable
    # What the machine's process wake-ups and pickling alone cost: the minimal engine's ratio.
    yardstick = _stats(_pairs(runs["pipes"], runs["floor"]))
    summary["pipes_vs_floor"] = yardstick
    reach = (
        ""
        if attainable is None
        else f"; an engine at the floor would be {attainable['median']:.1f}x faster than Flower"
        + (" (the target is out of reach here)" if attainable["median"] < TARGET_VS_FLOWER else "")
    )
    same = (
        bool(acc["flower"] and acc["parlearn"])
        and abs(acc["flower"][0] - acc["parlearn"][0]) * 100 <= ACCURACY_POINTS
    )
    checks.append(
        Check(
            f"{w.key}: parlearn >= {TARGET_VS_FLOWER:g}x faster than Flower at equal accuracy",
            flower is not None and flower["median"] >= TARGET_VS_FLOWER and same,
            "failed"
            if flower is None
            else f"{flower['median']:.1f}x (accuracy parlearn {acc['parlearn']}, "
            f"Flower {acc['flower']}){reach}",
        )
    )
    checks.append(
        Check(
            f"{w.key}: parlearn within {TARGET_VS_FLOOR:g}x of the floor",
            floor is not None and floor["median"] <= TARGET_VS_FLOOR,
            "failed"
            if floor is None
            else f"{floor['median']:.2f}x the floor"
            + ("" if yardstick is None else f" (pipes: {yardstick['median']:.2f}x)"),
        )
    )
    table = (
        _table(
            [
                "Engine",
                "Setting",
                "ms per round, median (min-max)",
                "time / parlearn's",
                "time / floor's",
                "final accuracy (%)",
                "largest parameter difference vs parlearn",
            ],
            rows,
        )
        + f"\n\n{w.num_clients:,} clients, {w.per_round} per round, {w.rounds} rounds, "
        f"E={w.epochs}, batch size {w.batch_size}, learning rate {w.learning_rate}. Time per round: "
        f"the median over rounds 2-{w.rounds} of a run, then the median (min-max) over the "
        "runs; ratios are taken run by run. Flower's time / the floor's is the most any engine "
        "could gain over Flower here; pipes' time / the floor's is what process wake-ups and "
        "pickling alone cost on this machine."
    )
    return table, summary


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.fl_vs_flower",
        description="Federated simulation: parlearn simulate vs Flower (run_simulation, Ray) vs "
        "a single-process floor, on Synthetic(1,1) with multinomial logistic regression.",
    )
    parser.add_argument("--repeats", type=int, default=None, help="runs per engine (default 5)")
    parser.add_argument("--quick", action="store_true", help="a smoke run with small sizes")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument(
        "--epochs",
        type=lambda s: [int(x) for x in s.split(",")],
        default=None,
        help="local epochs to run, comma-separated (default 1,20; --quick: 1)",
    )
    parser.add_argument(
        "--workload", action="append", help="run only this workload key (e.g. a-E1; repeatable)"
    )
    parser.add_argument("--workers", type=int, default=2, help="cores for every engine (2)")
    parser.add_argument(
        "--rounds", type=int, default=None, help="rounds of every workload (default: its own)"
    )
    parser.add_argument("--out", type=Path, default=None, help="JSON results path")
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=60.0,
        help=f"before each run wait up to this many seconds for the CPUs to be < "
        f"{QUIET_PERCENT:g}%% busy (the machine is shared; default 60)",
    )
    args = parser.parse_args(argv)
    if args.repeats is None:
        args.repeats = 1 if args.quick else 5
    if args.epochs is None:
        args.epochs = [1] if args.quick else [1, 20]
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if args.rounds is not None and args.rounds < 2:
        parser.error("--rounds must be at least 2 (the first round is not timed)")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    out_path = args.out or RESULTS / (f"{NAME}-quick.json" if args.quick else f"{NAME}.json")
    facts = _machine_facts(
        ("parlearn", "numpy", "flwr", "ray", "grpcio", "protobuf", "cloudpickle")
    )
    chosen = [
        w if args.rounds is None else replace(w, rounds=args.rounds)
        for w in workloads(args.quick, args.epochs)
        if not args.workload or w.key in args.workload
    ]
    runs: dict[str, dict[str, list[Result]]] = {w.key: {e: [] for e in ENGINES} for w in chosen}
    with tempfile.TemporaryDirectory(prefix="parlearn-bench-") as tmp:
        for w in chosen:
            for repeat in range(args.repeats):
                for engine in ENGINES:
                    busy = wait_for_quiet(args.quiet_wait)
                    load = os.getloadavg()[0]
                    result = run_child(engine, w, args.workers, Path(tmp))
                    result["cpu_busy_before_percent"] = busy
                    result["loadavg_1min_before"] = load
                    runs[w.key][engine].append(result)
                    shown = result.get("error") or (
                        f"{result['seconds_per_round']:.4f} s/round, "
                        f"accuracy {result['accuracy']:.4f}, "
                        f"process {result['process_seconds']:.1f} s"
                    )
                    print(
                        f"[{w.key} {repeat + 1}/{args.repeats}] {engine}: {shown}", file=sys.stderr
                    )

    checks: list[Check] = []
    sections = [
        f"## fl_vs_flower ({'quick smoke run' if args.quick else 'full run'})",
        f"`{' '.join(['python -m benchmarks.fl_vs_flower', *(argv if argv is not None else sys.argv[1:])])}`  ",
        f"{facts['cores']} cores ({facts['cpu_model'] or 'unknown CPU'}), {facts['memory_gb']} GB, "
        f"Python {facts['python']}, {facts['platform']}, {facts['date']}; "
        + ", ".join(f"{k} {v}" for k, v in facts["versions"].items())
        + f". {args.repeats} runs per engine, each in a fresh subprocess, alternating; "
        + ", ".join(f"{v}=1" for v in THREAD_VARS)
        + f"; {args.workers} workers / CPUs for every engine.",
    ]
    summaries = {}
    for w in chosen:
        table, summaries[w.key] = report(w, runs[w.key], checks)
        sections += [f"### {w.title}", table]
    sections += [
        "### Targets",
        "\n".join(f"- {'PASS' if c.passed else 'FAIL'} {c.name}: {c.detail}" for c in checks),
    ]
    print("\n\n".join(sections))

    facts["loadavg_at_end"] = os.getloadavg()
    document = {
        "benchmark": NAME,
        "command": [sys.executable, "-m", f"benchmarks.{NAME}", *(argv or sys.argv[1:])],
        "quick": args.quick,
        "repeats": args.repeats,
        "workers": args.workers,
        "machine": facts,
        "workloads": {w.key: asdict(w) | {"title": w.title} for w in chosen},
        "engines": {e: {"label": LABELS[e], "how": HOW[e]} for e in ENGINES},
        "summary": summaries,
        "runs": {
            key: {
                e: [{k: v for k, v in r.items() if k != "parameters"} for r in rs]
                for e, rs in by.items()
            }
            for key, by in runs.items()
        },
        "checks": [asdict(c) for c in checks],
    }
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(document, indent=2) + "\n")
    print(f"\nwrote {out_path}", file=sys.stderr)
    if args.check and not all(c.passed for c in checks):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
