"""The simulation engine: many clients on one machine (or a Ray cluster), round after round.

::

    server (this process)                                 workers (parlearn.parallel)
    ─────────────────────                                 ───────────────────────────
    strategy.configure_fit ─► (cid, config) per client ─► client_fn(cid).fit(global, config)
      stragglers: fewer local_epochs or dropped           validated: shapes, finite values
      dropouts: failures, never sent                              │
    strategy.fit_aggregator.add ◄── results, largest first ◄─────┘  (streamed: O(model) memory)
    finish(failures) ─► new global parameters
    evaluate: centralized (strategy.evaluate) and on clients (configure_evaluate)

Clients are built inside the workers by ``client_fn(cid)``, so 10,000 clients cost no
per-client objects here; client data placed in shared memory (as ``federate`` does, see
``experiment.ArrayClientFactory``) reaches every worker without a copy. The task holding
``client_fn`` is shipped to the workers once per simulation, and a round sends only the global
parameters and the client ids, in a few groups (``_runner.py``). Results are aggregated in an
order fixed by what clients reported (never by timings) with float64 sums, so the same seed
gives bit-identical models whatever the number of workers.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any, Literal

import numpy as np

from parlearn.federated._history import History, RoundRecord
from parlearn.federated._runner import ClientFn, ClientLike, ClientRunner
from parlearn.federated._seeds import client_seed
from parlearn.federated._types import ClientFailure, Config, EvaluateResult, Parameters
from parlearn.federated.strategy import Strategy
from parlearn.parallel import Pool

__all__ = ["ClientFn", "ClientLike", "client_seed", "simulate"]

StragglerPolicy = Literal["partial", "drop"]


def simulate(
    client_fn: ClientFn,
    num_clients: int,
    strategy: Strategy,
    num_rounds: int,
    *,
    local_epochs: int | None = None,
    stragglers: float = 0.0,
    straggler_policy: StragglerPolicy = "partial",
    dropout: float = 0.0,
    seed: int = 0,
    backend: str = "processes",
    workers: int | None = None,
    run_in_server: bool | None = None,
    on_round: Callable[[RoundRecord], None] | None = None,
) -> History:
    """Run ``num_rounds`` rounds of federated training and return the history.

    - ``client_fn(cid)`` builds client ``cid`` (0 <= cid < num_clients) where it runs.
      A builder with a ``num_examples(cid)`` method (``ArrayClientFactory`` has one) lets
      the scheduler balance rounds by client size before clients have reported it.
    - ``local_epochs``: sent to clients as ``config["local_epochs"]``; None leaves the epochs
      to the clients (it is needed for partial-work stragglers).
    - ``stragglers``: share of each round's selected clients that are slow: with
      ``straggler_policy="partial"`` they run a random number of local epochs in
      [1, local_epochs) and their partial work is kept (FedProx); with ``"drop"`` they are
      dropped and count as failures (FedAvg in the FedProx paper).
    - ``dropout``: share of selected clients that never answer (failures).
    - ``backend``/``workers``: where clients run (``parlearn.parallel``): ``processes`` (default),
      ``threads``, ``serial`` or ``ray``.
    - ``run_in_server``: whether this process (the server) runs a worker's share of each
      light round itself -- rounds of a few milliseconds a worker, where a worker's share
      costs a round trip as long as a client's work -- while ``workers - 1`` workers run
      the rest, so ``workers`` cores are busy either way. A client that kills its process
      would then kill the server too, so None (the default) does it only with the
      ``processes`` backend for builders that say their clients are safe there
      (``safe_in_server = True``, as the built-in ``ArrayClientFactory`` does: NumPy code
      whose errors are exceptions); True does it for any builder, False never.
    """
    _check(num_clients, num_rounds, local_epochs, stragglers, dropout, straggler_policy)
    if run_in_server not in (None, True, False):
        raise TypeError(
            f"run_in_server must be True, False or None (decide from the client builder), "
            f"got {run_in_server!r}"
        )
    strategy.check_available(num_clients)
    parameters = strategy.initialize_parameters()
    if parameters is None:
        parameters = [np.asarray(p) for p in client_fn(0).get_parameters({})]
    history = History(
        settings={
            "num_clients": num_clients,
            "num_rounds": num_rounds,
            "strategy": type(strategy).__name__,
            "local_epochs": local_epochs,
            "stragglers": stragglers,
            "straggler_policy": straggler_policy,
            "dropout": dropout,
            "seed": seed,
            "backend": backend,
        }
    )
    options: dict[str, Any] = {"blas_threads": 1} if backend == "processes" else {}
    with Pool(backend, workers=None if backend == "serial" else workers, **options) as pool:
        history.settings["workers"] = pool.workers
        if run_in_server is None:
            run_in_server = backend == "processes" and _safe_in_server(client_fn)
        # Closed with the pool.
        runner = ClientRunner(
            pool,
            client_fn,
            num_clients,
            in_server=run_in_server,
            blas_threads=options.get("blas_threads"),
        )
        history.settings["run_in_server"] = runner.in_server
        for server_round in range(1, num_rounds + 1):
            started = time.perf_counter()
            parameters, record = _run_round(
                runner, num_clients, strategy, server_round, parameters,
                local_epochs=local_epochs, stragglers=stragglers,
                straggler_policy=straggler_policy, dropout=dropout, seed=seed,
            )  # fmt: skip
            record.seconds = time.perf_counter() - started
            history.rounds.append(record)
            if on_round is not None:
                on_round(record)
    history.parameters = parameters
    return history


def _safe_in_server(client_fn: ClientFn) -> bool:
    """Whether the builder says its clients can run in the server's process: they cannot
    kill it (no native code that may crash, no exit calls, bounded memory)."""
    return getattr(client_fn, "safe_in_server", False) is True


def _check(
    num_clients: int,
    num_rounds: int,
    local_epochs: int | None,
    stragglers: float,
    dropout: float,
    policy: str,
) -> None:
    if num_clients < 1:
        raise ValueError(f"num_clients must be >= 1, got {num_clients}")
    if num_rounds < 1:
        raise ValueError(f"num_rounds must be >= 1, got {num_rounds}")
    if local_epochs is not None and local_epochs < 1:
        raise ValueError(f"local_epochs must be >= 1, got {local_epochs}")
    if stragglers > 0 and policy == "partial" and local_epochs is None:
        raise ValueError(
            "partial-work stragglers run fewer than local_epochs epochs, so pass local_epochs "
            "(or straggler_policy='drop')"
        )
    for name, value in (("stragglers", stragglers), ("dropout", dropout)):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be a fraction in [0, 1], got {value!r}")
    if policy not in ("partial", "drop"):
        raise ValueError(f"straggler_policy must be 'partial' or 'drop', got {policy!r}")


def _run_round(
    runner: ClientRunner,
    num_clients: int,
    strategy: Strategy,
    server_round: int,
    parameters: Parameters,
    *,
    local_epochs: int | None,
    stragglers: float,
    straggler_policy: StragglerPolicy,
    dropout: float,
    seed: int,
) -> tuple[Parameters, RoundRecord]:
    sampling = np.random.default_rng([seed, server_round, 0])
    chosen = strategy.configure_fit(server_round, num_clients, sampling)
    to_run, failures = _simulate_conditions(
        chosen, server_round, local_epochs, stragglers, straggler_policy, dropout, seed
    )
    aggregator = strategy.fit_aggregator(server_round, parameters)
    for outcome in runner.fit(to_run, parameters, seeds=(seed, server_round)):
        if isinstance(outcome, ClientFailure):
            failures.append(outcome)
        else:
            aggregator.add(outcome)
    new, fit_metrics = aggregator.finish(failures)
    if new is not None:
        parameters = new
    record = RoundRecord(
        round=server_round,
        seconds=0.0,
        fit_clients=aggregator.count,
        fit_failures=len(failures),
        train_loss=_float(fit_metrics.get("loss")),
        failure_reasons=sorted({_short(f.reason) for f in failures})[:5],
    )
    central = strategy.evaluate(server_round, parameters)
    if central is not None:
        record.test_loss = central[0]
        record.test_accuracy = _float(central[1].get("accuracy"))
    _evaluate_on_clients(runner, num_clients, strategy, server_round, parameters, seed, record)
    return parameters, record


def _simulate_conditions(
    chosen: list[tuple[int, Config]],
    server_round: int,
    local_epochs: int | None,
    stragglers: float,
    policy: StragglerPolicy,
    dropout: float,
    seed: int,
) -> tuple[list[tuple[int, Config]], list[ClientFailure]]:
    """Which selected clients straggle or drop out this round (decided here, seeded). Each
    client's ``seed`` is added where it runs (``ClientRunner.fit``)."""
    rng = np.random.default_rng([seed, server_round, 1]) if dropout or stragglers else None
    count = len(chosen)
    dropped: set[int] = set()
    slow: set[int] = set()
    if rng is not None:
        dropped = set(rng.choice(count, size=round(dropout * count), replace=False).tolist())
        slow = set(rng.choice(count, size=round(stragglers * count), replace=False).tolist())
    to_run: list[tuple[int, Config]] = []
    failures: list[ClientFailure] = []
    for position, (cid, config) in enumerate(chosen):
        config = {"server_round": server_round, **config}
        if local_epochs is not None:
            config.setdefault("local_epochs", local_epochs)
        if position in dropped:
            failures.append(ClientFailure(cid, "dropped out (simulated)"))
            continue
        if position in slow:
            if policy == "drop":
                failures.append(ClientFailure(cid, "straggler dropped (simulated)"))
                continue
            assert local_epochs is not None and rng is not None  # checked in simulate
            config["local_epochs"] = int(rng.integers(1, local_epochs)) if local_epochs > 1 else 1
        to_run.append((cid, config))
    return to_run, failures


def _evaluate_on_clients(
    runner: ClientRunner,
    num_clients: int,
    strategy: Strategy,
    server_round: int,
    parameters: Parameters,
    seed: int,
    record: RoundRecord,
) -> None:
    if strategy.fraction_evaluate == 0.0:
        return
    chosen = strategy.configure_evaluate(
        server_round, num_clients, np.random.default_rng([seed, server_round, 2])
    )
    if not chosen:
        return
    results: list[EvaluateResult] = []
    failures: list[ClientFailure] = []
    for outcome in runner.evaluate(chosen, parameters):
        if isinstance(outcome, ClientFailure):
            failures.append(outcome)
        else:
            results.append(outcome)
    loss, _ = strategy.aggregate_evaluate(server_round, results, failures)
    record.client_loss = loss
    accuracies = np.array(
        [
            float(r.metrics["accuracy"])
            for r in results
            if "accuracy" in r.metrics and r.num_examples
        ]
    )
    if len(accuracies):
        worst = np.sort(accuracies)[: max(1, math.ceil(0.1 * len(accuracies)))]
        record.client_accuracy_mean = float(accuracies.mean())
        record.client_accuracy_worst10 = float(worst.mean())
        record.client_accuracy_std = float(accuracies.std())


def _short(reason: str, limit: int = 200) -> str:
    return reason if len(reason) <= limit else reason[: limit - 3] + "..."


def _float(value: Any) -> float | None:
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)
