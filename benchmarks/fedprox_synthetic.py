"""Reproduce FedProx on Synthetic(1,1) with 90% stragglers (Li et al., MLSys 2020, Figure 1).

Li, Sahu, Zaheer, Sanjabi, Talwalkar and Smith, "Federated Optimization in Heterogeneous
Networks", MLSys 2020, arXiv:1812.06127. Their claim: with systems heterogeneity (90% of the
selected devices are stragglers), FedProx -- partial work of stragglers kept, proximal term
mu = 1 -- reaches a lower training loss and a higher test accuracy than FedAvg, which drops the
stragglers.

Their settings (section 5 and ``run_fedavg.sh`` / ``run_fedprox.sh`` of their code), used here:
30 devices, 10 selected per round uniformly, multinomial logistic regression (60 features,
10 classes), 200 rounds, local epochs E = 20, batch size 10, learning rate 0.01, mu = 1. Each
device's samples split 90/10 into train/test (their ``generate_synthetic.py``). A straggler runs
a random number of epochs in [1, E) (FedProx) or is dropped (FedAvg); the same devices straggle
under both methods (a seeded draw per round). Training loss is the global model's loss on all
devices' training samples; test accuracy is on all devices' test samples (their ``fedbase.py``),
evaluated after every round.

Three runs per seed, as in their Figure 1: FedAvg (stragglers dropped, mu = 0), FedProx with
mu = 0 (stragglers' partial work kept) and FedProx with mu = 1. The data differ from theirs
(parlearn's seeded generator, see ``make_synthetic``), so several seeds are run: each seed draws
new data, new client samples and new stragglers.

Run::

    .venv/bin/python -m benchmarks.fedprox_synthetic            # 5 seeds, ~3-7 minutes
    .venv/bin/python -m benchmarks.fedprox_synthetic --quick    # 1 seed, 20 rounds
    .venv/bin/python -m benchmarks.fedprox_synthetic --check    # exit 1 unless FedProx wins

It prints Markdown tables, writes ``benchmarks/results/fedprox_synthetic.json`` and the plot
``docs/img/fedprox_synthetic.png``.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._common import THREAD_VARS
from benchmarks._common import markdown_table as _table

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
IMAGES = ROOT / "docs" / "img"
NAME = "fedprox_synthetic"

# The paper's settings (section 5; run_fedprox.sh).
NUM_DEVICES = 30
PER_ROUND = 10
ROUNDS = 200
EPOCHS = 20
BATCH_SIZE = 10
LEARNING_RATE = 0.01
STRAGGLERS = 0.9
MU = 1.0
TEST_FRACTION = 0.1  # generate_synthetic.py: 90% of each device's samples for training
LAST = 10  # "final" values are also given as the mean over the last LAST rounds


@dataclass(frozen=True)
class Method:
    key: str
    label: str
    strategy: str
    mu: float
    policy: str  # straggler_policy


METHODS = (
    Method("fedavg", "FedAvg (stragglers dropped)", "fedavg", 0.0, "drop"),
    Method("fedprox-mu0", "FedProx, mu=0 (partial work kept)", "fedprox", 0.0, "partial"),
    Method("fedprox", f"FedProx, mu={MU:g} (partial work kept)", "fedprox", MU, "partial"),
)


def run(method: Method, seed: int, rounds: int, workers: int) -> dict[str, Any]:
    """One training run: the global model's training loss and test accuracy after each round."""
    from parlearn.federated.datasets import make_synthetic
    from parlearn.federated.experiment import ArrayClientFactory
    from parlearn.federated.partition import partition_natural, train_test_split_per_client
    from parlearn.federated.simulation import simulate
    from parlearn.federated.strategy import make_strategy
    from parlearn.models import linear
    from parlearn.parallel import share

    data = make_synthetic(1.0, 1.0, num_devices=NUM_DEVICES, rng=seed)
    assert data.client_ids is not None  # each sample's device
    train, test = train_test_split_per_client(
        partition_natural(data.client_ids), TEST_FRACTION, np.random.default_rng(seed)
    )
    train_rows, test_rows = np.sort(train.order), np.sort(test.order)
    X_train, y_train = data.X[train_rows], data.y[train_rows]
    X_test, y_test = data.X[test_rows], data.y[test_rows]
    curves: dict[str, list[float]] = {"train_loss": [], "test_accuracy": [], "test_loss": []}

    def evaluate(server_round: int, params: list[Any]) -> tuple[float, dict[str, Any]]:
        curves["train_loss"].append(linear.loss("logistic", params, X_train, y_train))
        accuracy = float(np.mean(linear.predict("logistic", params, X_test) == y_test))
        curves["test_accuracy"].append(accuracy)
        test_loss = linear.loss("logistic", params, X_test, y_test)
        curves["test_loss"].append(test_loss)
        return test_loss, {"accuracy": accuracy}

    initial = linear.init_parameters("logistic", data.num_features, 10)
    evaluate(0, initial)  # round 0: the starting model, as their curves start
    options: dict[str, Any] = {
        "fraction_fit": PER_ROUND / NUM_DEVICES,
        "min_fit_clients": PER_ROUND,
        "fraction_evaluate": 0.0,
        "min_evaluate_clients": 0,
        "min_available_clients": PER_ROUND,
        "evaluate_fn": evaluate,
        "initial_parameters": initial,
    }
    if method.strategy == "fedprox":
        options["proximal_mu"] = method.mu
    X, y = share(data.X), share(data.y)
    started = time.perf_counter()
    try:
        history = simulate(
            ArrayClientFactory(
                "logistic", X, y, train, test, 10, EPOCHS, BATCH_SIZE, LEARNING_RATE
            ),
            NUM_DEVICES,
            make_strategy(method.strategy, **options),
            rounds,
            local_epochs=EPOCHS,
            stragglers=STRAGGLERS,
            straggler_policy=method.policy,  # type: ignore[arg-type]
            seed=seed,
            backend="processes",
            workers=workers,
        )
    finally:
        X.close()
        y.close()
    return {
        **curves,
        "fit_clients": [r.fit_clients for r in history.rounds],
        "fit_failures": [r.fit_failures for r in history.rounds],
        "seconds": time.perf_counter() - started,
        "history_final_accuracy": history.final.test_accuracy if history.final else None,
        "samples": {"train": len(y_train), "test": len(y_test)},
    }


def cross_check(seed: int, rounds: int, workers: int, expected: float) -> dict[str, Any]:
    """The same FedProx run through ``parlearn.federated.experiment.federate``: the final test
    accuracy must be the same number."""
    from parlearn.federated.datasets import make_synthetic
    from parlearn.federated.experiment import federate

    result = federate(
        make_synthetic(1.0, 1.0, num_devices=NUM_DEVICES, rng=seed),
        partition="natural",
        strategy="fedprox",
        proximal_mu=MU,
        rounds=rounds,
        fraction_fit=PER_ROUND / NUM_DEVICES,
        fraction_evaluate=0.0,
        strategy_options={"min_fit_clients": PER_ROUND},
        local_epochs=EPOCHS,
        batch_size=BATCH_SIZE,
        learning_rate=LEARNING_RATE,
        stragglers=STRAGGLERS,
        straggler_policy="partial",
        client_test_fraction=TEST_FRACTION,
        seed=seed,
        workers=workers,
    )
    got = result.accuracy
    return {"federate_accuracy": got, "simulate_accuracy": expected, "equal": got == expected}


def plot(results: dict[str, dict[int, dict[str, Any]]], seeds: list[int], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    colors = {"fedavg": "tab:red", "fedprox-mu0": "tab:orange", "fedprox": "tab:blue"}
    for method in METHODS:
        for ax, key, scale in ((axes[0], "train_loss", 1.0), (axes[1], "test_accuracy", 100.0)):
            curves = np.array([results[method.key][s][key] for s in seeds]) * scale
            x = np.arange(curves.shape[1])
            label = method.label
            if len(seeds) > 1:
                ax.fill_between(
                    x, curves.min(0), curves.max(0), color=colors[method.key], alpha=0.15
                )
                ax.plot(x, np.median(curves, 0), color=colors[method.key], label=label)
            else:
                ax.plot(x, curves[0], color=colors[method.key], label=label)
    axes[0].set(xlabel="round", ylabel="training loss", title="Training loss")
    axes[0].set_yscale("log")
    axes[1].set(xlabel="round", ylabel="test accuracy (%)", title="Test accuracy")
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[1].legend(loc="lower right", fontsize=8)
    spread = f"median and min-max over {len(seeds)} seeds" if len(seeds) > 1 else f"seed {seeds[0]}"
    fig.suptitle(
        f"Synthetic(1,1), {NUM_DEVICES} devices, {PER_ROUND} per round, "
        f"{STRAGGLERS:.0%} stragglers, E={EPOCHS}, B={BATCH_SIZE}, lr={LEARNING_RATE} ({spread})",
        fontsize=10,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.fedprox_synthetic",
        description="FedProx vs FedAvg on Synthetic(1,1) with 90%% stragglers (Li et al. 2020).",
    )
    parser.add_argument("--seeds", type=int, default=None, help="seeds 0..N-1 (default 5)")
    parser.add_argument("--rounds", type=int, default=None, help=f"rounds (default {ROUNDS})")
    parser.add_argument("--workers", type=int, default=2, help="process workers (default 2)")
    parser.add_argument("--quick", action="store_true", help="1 seed, 20 rounds")
    parser.add_argument("--check", action="store_true", help="exit 1 unless FedProx wins")
    parser.add_argument(
        "--plot", type=Path, default=None, help="PNG path (default: docs/img; --quick: results)"
    )
    parser.add_argument("--out", type=Path, default=None, help="JSON results path")
    args = parser.parse_args(argv)
    args.seeds = args.seeds or (1 if args.quick else 5)
    args.rounds = args.rounds or (20 if args.quick else ROUNDS)
    if args.plot is None:  # a smoke run never replaces the plot the docs show
        args.plot = RESULTS / f"{NAME}-quick.png" if args.quick else IMAGES / f"{NAME}.png"
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    for var in THREAD_VARS:
        os.environ.setdefault(var, "1")
    seeds = list(range(args.seeds))
    results: dict[str, dict[int, dict[str, Any]]] = {m.key: {} for m in METHODS}
    for seed in seeds:
        for method in METHODS:
            r = run(method, seed, args.rounds, args.workers)
            results[method.key][seed] = r
            print(
                f"[seed {seed}] {method.key}: train loss {r['train_loss'][-1]:.4f}, test accuracy "
                f"{r['test_accuracy'][-1]:.4f}, {r['seconds']:.1f} s",
                file=sys.stderr,
            )
    check = cross_check(0, args.rounds, args.workers, results["fedprox"][0]["test_accuracy"][-1])
    print(f"federate() cross-check: {check}", file=sys.stderr)

    def final(key: str, m: str, s: int) -> float:
        return float(results[m][s][key][-1])

    def tail(key: str, m: str, s: int) -> float:
        return float(np.mean(results[m][s][key][-LAST:]))

    rows = []
    for seed in seeds:
        for method in METHODS:
            r = results[method.key][seed]
            rows.append(
                [
                    str(seed),
                    method.label,
                    f"{final('train_loss', method.key, seed):.4f}",
                    f"{tail('train_loss', method.key, seed):.4f}",
                    f"{100 * final('test_accuracy', method.key, seed):.2f}",
                    f"{100 * tail('test_accuracy', method.key, seed):.2f}",
                    f"{statistics.mean(r['fit_clients']):.1f}",
                ]
            )
    wins_loss = [
        final("train_loss", "fedprox", s) < final("train_loss", "fedavg", s) for s in seeds
    ]
    wins_acc = [
        final("test_accuracy", "fedprox", s) > final("test_accuracy", "fedavg", s) for s in seeds
    ]
    both = [a and b for a, b in zip(wins_loss, wins_acc, strict=True)]
    summary_rows = []
    for method in METHODS:
        loss = [final("train_loss", method.key, s) for s in seeds]
        acc = [100 * final("test_accuracy", method.key, s) for s in seeds]
        summary_rows.append(
            [
                method.label,
                f"{statistics.median(loss):.4f} ({min(loss):.4f}-{max(loss):.4f})",
                f"{statistics.median(acc):.2f} ({min(acc):.2f}-{max(acc):.2f})",
            ]
        )
    plot(results, seeds, args.plot)
    verdict = (
        f"FedProx (mu={MU:g}) ends with a lower training loss than FedAvg in "
        f"{sum(wins_loss)}/{len(seeds)} seeds, a higher test accuracy in "
        f"{sum(wins_acc)}/{len(seeds)}, both in {sum(both)}/{len(seeds)}."
    )
    print(
        "\n\n".join(
            [
                f"## fedprox_synthetic ({args.rounds} rounds, seeds {seeds})",
                "### Final round, per seed",
                _table(
                    [
                        "seed",
                        "method",
                        f"train loss, round {args.rounds}",
                        f"train loss, mean of last {LAST}",
                        f"test acc. (%), round {args.rounds}",
                        f"test acc. (%), mean of last {LAST}",
                        "clients aggregated per round",
                    ],
                    rows,
                ),
                f"### Over seeds: median (min-max) at round {args.rounds}",
                _table(["method", "training loss", "test accuracy (%)"], summary_rows),
                verdict,
                f"federate() cross-check (seed 0, FedProx mu={MU:g}): {check}",
                f"plot: {args.plot}",
            ]
        )
    )
    out = args.out or RESULTS / (f"{NAME}-quick.json" if args.quick else f"{NAME}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    versions: dict[str, str | None] = {}
    for package in ("parlearn", "numpy", "matplotlib"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    document = {
        "benchmark": NAME,
        "command": [sys.executable, "-m", f"benchmarks.{NAME}", *(argv or sys.argv[1:])],
        "settings": {
            "devices": NUM_DEVICES,
            "per_round": PER_ROUND,
            "rounds": args.rounds,
            "local_epochs": EPOCHS,
            "batch_size": BATCH_SIZE,
            "learning_rate": LEARNING_RATE,
            "stragglers": STRAGGLERS,
            "mu": MU,
            "client_test_fraction": TEST_FRACTION,
            "seeds": seeds,
            "workers": args.workers,
        },
        "machine": {
            "cores": len(os.sched_getaffinity(0)),
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "versions": versions,
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        },
        "methods": {m.key: m.label for m in METHODS},
        "results": {m: {str(s): r for s, r in by.items()} for m, by in results.items()},
        "fedprox_wins": {"train_loss": wins_loss, "test_accuracy": wins_acc, "both": both},
        "federate_cross_check": check,
        "verdict": verdict,
    }
    out.write_text(json.dumps(document, indent=1) + "\n")
    print(f"\nwrote {out} and {args.plot}", file=sys.stderr)
    if args.check and not (all(both) and check["equal"]):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
