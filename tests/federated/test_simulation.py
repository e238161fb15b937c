"""The simulation engine: determinism, stragglers, failures, bad clients, Flower clients."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from parlearn.federated import simulation
from parlearn.federated._runner import ClientRunner, plan_bins, plan_groups
from parlearn.federated._types import ClientFailure, FitResult
from parlearn.federated.client import ArrayClient, local_sgd
from parlearn.federated.experiment import federate
from parlearn.federated.simulation import client_seed
from parlearn.federated.strategy import FedAvg, make_strategy
from parlearn.parallel import Pool

SMALL = {"rounds": 3, "num_clients": 6, "partition": "iid"}


def _same(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_default_run_reaches_90_percent_on_digits() -> None:
    result = federate(workers=2)  # the defaults of `parlearn federate`
    assert result.accuracy is not None and result.accuracy >= 0.90
    final = result.history.final
    assert final is not None and final.round == 20 and final.fit_clients == 10


@pytest.mark.parametrize("strategy", ["fedavg", "fedadam"])
def test_same_seed_same_model_whatever_the_workers(strategy: str) -> None:
    one = federate(strategy=strategy, workers=1, seed=3, **SMALL)  # type: ignore[arg-type]
    two = federate(strategy=strategy, workers=2, seed=3, **SMALL)  # type: ignore[arg-type]
    serial = federate(strategy=strategy, backend="serial", seed=3, **SMALL)  # type: ignore[arg-type]
    assert _same(one.history.parameters, two.history.parameters)
    assert _same(one.history.parameters, serial.history.parameters)
    assert one.history.column("test_loss") == two.history.column("test_loss")
    other = federate(strategy=strategy, workers=2, seed=4, **SMALL)  # type: ignore[arg-type]
    assert not _same(one.history.parameters, other.history.parameters)


def test_stragglers_dropped_count_as_failures() -> None:
    result = federate(stragglers=0.5, straggler_policy="drop", local_epochs=2, **SMALL)  # type: ignore[arg-type]
    for record in result.history.rounds:
        assert record.fit_failures == 3 and record.fit_clients == 3
        assert record.failure_reasons == ["straggler dropped (simulated)"]


def test_stragglers_partial_work_is_kept() -> None:
    base = federate(local_epochs=3, **SMALL)  # type: ignore[arg-type]
    partial = federate(local_epochs=3, stragglers=0.5, straggler_policy="partial", **SMALL)  # type: ignore[arg-type]
    assert all(r.fit_failures == 0 and r.fit_clients == 6 for r in partial.history.rounds)
    assert not _same(base.history.parameters, partial.history.parameters)


def test_dropout_is_counted() -> None:
    result = federate(dropout=0.5, **SMALL)  # type: ignore[arg-type]
    assert all(r.fit_failures == 3 for r in result.history.rounds)


# --------------------------------------------------------------------------- bad clients


def _digits_client(cid: int) -> ArrayClient:
    rng = np.random.default_rng(cid)
    X = rng.random((40, 5))
    y = (X[:, 0] > 0.5).astype(np.int64)
    return ArrayClient("logistic", X[:30], y[:30], X[30:], y[30:], num_classes=2)


class _Broken:
    """Client 1 misbehaves in the way named by ``mode``; the others are fine."""

    def __init__(self, mode: str) -> None:
        self.mode = mode

    def __call__(self, cid: int) -> Any:
        client = _digits_client(cid)
        if cid != 1:
            return client
        mode = self.mode

        class Bad:
            def get_parameters(self, config: Any) -> Any:
                return client.get_parameters(config)

            def fit(self, parameters: Any, config: Any) -> Any:
                new, n, metrics = client.fit(parameters, config)
                if mode == "shape":
                    return [new[0][:1], new[1]], n, metrics
                if mode == "nan":
                    new[0][0, 0] = np.nan
                    return new, n, metrics
                if mode == "raise":
                    raise RuntimeError("disk full")
                if mode == "crash":
                    os._exit(1)
                return new, "many", metrics  # mode == "count"

            def evaluate(self, parameters: Any, config: Any) -> Any:
                return client.evaluate(parameters, config)

        return Bad()


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("shape", "shapes"),
        ("nan", "NaN"),
        ("raise", "disk full"),
        ("count", "num_examples"),
        ("crash", "WorkerCrashedError"),
    ],
)
def test_a_bad_client_is_a_counted_failure_never_a_corrupt_model(mode: str, reason: str) -> None:
    history = simulation.simulate(_Broken(mode), 4, FedAvg(), 2, workers=2)
    for record in history.rounds:
        assert record.fit_failures == 1 and record.fit_clients == 3
        assert any(reason in r for r in record.failure_reasons), record.failure_reasons
    assert all(np.all(np.isfinite(p)) for p in history.parameters)
    assert [p.shape for p in history.parameters] == [(5, 2), (2,)]


def test_accept_failures_false_skips_the_round() -> None:
    start = _digits_client(0).get_parameters({})
    history = simulation.simulate(
        _Broken("raise"), 4, FedAvg(accept_failures=False, initial_parameters=start), 2, workers=2
    )
    assert _same(history.parameters, start)  # every round skipped: still the start


def test_bad_arguments_say_what_to_fix() -> None:
    with pytest.raises(ValueError, match="stragglers must be a fraction"):
        simulation.simulate(_digits_client, 4, FedAvg(), 1, stragglers=2.0, local_epochs=2)
    with pytest.raises(ValueError, match="pass local_epochs"):
        simulation.simulate(_digits_client, 4, FedAvg(), 1, stragglers=0.5)
    with pytest.raises(ValueError, match=r"only applies to strategy .fedprox."):
        federate(proximal_mu=1.0, rounds=1)
    with pytest.raises(ValueError, match="min_available_clients"):
        simulation.simulate(_digits_client, 1, FedAvg(min_available_clients=2), 1)
    with pytest.raises(ValueError, match="unknown partition"):
        federate(partition="zipf", rounds=1)
    with pytest.raises(ValueError, match="no natural partition"):
        federate(partition="natural", rounds=1)


# --------------------------------------------------------------------------- Flower


def test_a_flower_numpy_client_runs_unchanged() -> None:
    flwr = pytest.importorskip("flwr")
    NumPyClient = flwr.client.NumPyClient

    class FlowerClient(NumPyClient):  # type: ignore[misc,valid-type]
        """Written for Flower; not a line changed for parlearn."""

        def __init__(self, cid: int) -> None:
            rng = np.random.default_rng(cid)
            self.X = rng.random((60, 4))
            self.y = (self.X.sum(axis=1) > 2).astype(np.int64)

        def get_parameters(self, config: Any) -> Any:
            return [np.zeros((4, 2)), np.zeros(2)]

        def fit(self, parameters: Any, config: Any) -> Any:
            rng = np.random.default_rng(int(config["seed"]))
            new = local_sgd("logistic", parameters, self.X, self.y, epochs=2, batch_size=8,
                            learning_rate=0.5, rng=rng)  # fmt: skip
            return new, len(self.y), {}

        def evaluate(self, parameters: Any, config: Any) -> Any:
            scores = self.X @ parameters[0] + parameters[1]
            accuracy = float(np.mean(scores.argmax(axis=1) == self.y))
            return 1.0 - accuracy, len(self.y), {"accuracy": accuracy}

    make: Callable[[int], Any] = FlowerClient
    history = simulation.simulate(make, 5, FedAvg(), 10, workers=2)
    first, final = history.rounds[0], history.rounds[-1]
    assert final.fit_failures == 0 and final.fit_clients == 5
    assert first.client_accuracy_mean is not None and final.client_accuracy_mean is not None
    assert final.client_accuracy_mean > max(first.client_accuracy_mean, 0.7)


@pytest.mark.ray
@pytest.mark.slow
def test_ray_backend_gives_the_same_model() -> None:
    pytest.importorskip("ray")
    local = federate(workers=2, seed=1, **SMALL)  # type: ignore[arg-type]
    on_ray = federate(backend="ray", workers=2, seed=1, **SMALL)  # type: ignore[arg-type]
    assert _same(local.history.parameters, on_ray.history.parameters)


@pytest.mark.slow
def test_ten_thousand_clients_in_bounded_memory() -> None:
    import psutil

    from parlearn.federated.datasets import Dataset

    rng = np.random.default_rng(0)
    X = rng.random((100_000, 20))
    y = (X[:, :10].sum(axis=1) > 5).astype(np.int64)
    data = Dataset(X=X, y=y, name="scale", num_classes=2)
    before = psutil.Process().memory_info().rss
    result = federate(
        data, num_clients=10_000, partition="iid", rounds=2, fraction_fit=0.01,
        fraction_evaluate=0.01, workers=2, batch_size=8,
    )  # fmt: skip
    grown = psutil.Process().memory_info().rss - before
    assert all(r.fit_clients == 100 for r in result.history.rounds)
    assert grown < 200 * 2**20, f"parent grew {grown / 2**20:.0f} MiB for 10,000 clients"


def test_strategies_by_name_all_train() -> None:
    for name in ("fedavg", "fedprox", "fedavgm", "fedadam", "fedyogi", "fedadagrad"):
        options: dict[str, Any] = {"proximal_mu": 0.1} if name == "fedprox" else {}
        strategy = make_strategy(name, **options)
        history = simulation.simulate(_digits_client, 4, strategy, 2, workers=2)
        assert all(np.all(np.isfinite(p)) for p in history.parameters), name


def test_groups_balance_the_work_largest_first() -> None:
    costs = [40.0, 10, 9, 8, 7, 6, 5, 5, 5, 5]  # sorted, largest first
    groups = plan_groups(costs, workers=2)
    assert groups[0] == range(0, 1)  # the big client alone, first
    assert [i for g in groups for i in g] == list(range(10))  # contiguous, in order
    assert len(groups) < len(costs)  # cheap clients travel together
    total, done = sum(costs), 0.0
    for g in groups:  # a group is at most half a worker's share of the work left
        cost = sum(costs[i] for i in g)
        assert len(g) == 1 or cost <= max((total - done) / 4, 0.1 * total)
        done += cost
    assert plan_groups([1.0] * 10, workers=2, min_share=0.0, max_items=1) == [
        range(i, i + 1) for i in range(10)
    ]
    assert plan_groups([], workers=3) == []
    # A light round: no group under min_cost of work, so few dispatches.
    light = plan_groups([1.0] * 10, workers=2, min_cost=4.0)
    assert [len(g) for g in light] == [4, 4, 2]
    with pytest.raises(ValueError, match="workers"):
        plan_groups([1.0], workers=0)


def test_bins_balance_measured_seconds_longest_first() -> None:
    seconds = [5.0, 4.0, 3.0, 3.0, 2.0, 2.0, 1.0]
    bins = plan_bins(seconds, workers=2)
    assert sorted(p for b in bins for p in b) == list(range(7))  # every item once
    loads = sorted(sum(seconds[p] for p in b) for b in bins)
    assert loads == [10.0, 10.0]  # LPT: 5+3+2 | 4+3+2+1
    assert all(b == sorted(b) for b in bins)  # positions in the aggregation order
    assert plan_bins([1.0, 1.0], workers=4) == [[0], [1]]  # no empty bins
    assert plan_bins([], workers=2) == []
    with pytest.raises(ValueError, match="workers"):
        plan_bins([1.0], workers=0)


def _counting_imap(imap: Any, dispatched: list[int], items: Any, **kwargs: Any) -> Any:
    dispatched.append(len(items))
    return imap(items, **kwargs)


def test_light_rounds_go_one_bin_per_worker_and_stay_bit_identical() -> None:
    """Once every client's time is measured, a light round travels as one bin per worker
    (filled by measured seconds); results are still added in the fixed order, so the model
    does not depend on timings or on the number of workers."""
    params = _CountingFactory()(0).get_parameters({})
    clients = [(cid, {"local_epochs": 1, "seed": cid}) for cid in range(6)]
    models = []
    for workers in (1, 2, 3):
        with Pool("processes", workers=workers) as pool:
            runner = ClientRunner(pool, _CountingFactory(), num_clients=6)
            dispatched: list[int] = []
            runner._run.imap = functools.partial(_counting_imap, runner._run.imap, dispatched)  # type: ignore[method-assign]
            rounds = [list(runner.fit(clients, params)) for _ in range(3)]
        assert dispatched[-1] == workers  # a light, measured round: one item per worker
        assert all([r.cid for r in results] == [5, 4, 3, 2, 1, 0] for results in rounds[1:])
        models.append([np.concatenate([np.ravel(p) for p in r.parameters]) for r in rounds[-1]])
    for other in models[1:]:
        assert all(np.array_equal(a, b) for a, b in zip(models[0], other, strict=True))


class _WhereFactory:
    """Clients of 10 + 10 cid examples that report the process they ran in."""

    def __call__(self, cid: int) -> Any:
        rng = np.random.default_rng(cid)
        X = rng.random((10 + 10 * cid, 5))
        y = (X[:, 0] > 0.5).astype(np.int64)
        client = ArrayClient("logistic", X, y, X, y, num_classes=2)

        class Where:
            def get_parameters(self, config: Any) -> Any:
                return client.get_parameters(config)

            def fit(self, parameters: Any, config: Any) -> Any:
                new, count, metrics = client.fit(parameters, config)
                blas = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
                return new, count, {**metrics, "pid": os.getpid(), "blas": max(blas, default=0)}

            def evaluate(self, parameters: Any, config: Any) -> Any:
                return client.evaluate(parameters, config)

        return Where()


@pytest.mark.parametrize("workers", [2, 3])
def test_the_server_runs_the_longest_bin_itself_and_the_model_stays_bit_identical(
    workers: int,
) -> None:
    """With ``in_server`` a light round sends a bin to all workers but one and the server
    runs the longest bin itself; the results are the same, bit for bit."""
    params = _WhereFactory()(0).get_parameters({})
    clients = [(cid, {"local_epochs": 1, "seed": cid}) for cid in range(6)]
    runs = {}
    for in_server in (False, True):
        with Pool("processes", workers=workers) as pool:
            runner = ClientRunner(pool, _WhereFactory(), num_clients=6, in_server=in_server)
            assert runner.in_server is in_server
            dispatched: list[int] = []
            runner._run.imap = functools.partial(_counting_imap, runner._run.imap, dispatched)  # type: ignore[method-assign]
            rounds = [list(runner.fit(clients, params)) for _ in range(2)]
            measured = list(runner._seconds_per_epoch)  # what the last round is planned by
            rounds.append(list(runner.fit(clients, params)))
            runs[in_server] = rounds
            seconds = [measured[r.cid] for r in rounds[-1]]
        here = [r.cid for r in rounds[-1] if r.metrics["pid"] == os.getpid()]
        if not in_server:
            assert here == [] and dispatched[-1] == workers
            continue
        assert dispatched[-1] == workers - 1  # a light, measured round: the rest to workers
        bins = plan_bins(seconds, workers)
        longest = max(bins, key=lambda b: sum(seconds[p] for p in b))
        assert here == [rounds[-1][p].cid for p in longest]
    for plain, shared in zip(runs[False], runs[True], strict=True):
        assert [r.cid for r in plain] == [r.cid for r in shared]
        assert all(_same(a.parameters, b.parameters) for a, b in zip(plain, shared, strict=True))


def test_the_server_runs_its_bin_with_the_workers_blas_threads() -> None:
    params = _WhereFactory()(0).get_parameters({})
    clients = [(cid, {"local_epochs": 1, "seed": cid}) for cid in range(6)]
    before = [i["num_threads"] for i in threadpool_info()]
    with Pool("processes", workers=2, blas_threads=1) as pool:
        runner = ClientRunner(pool, _WhereFactory(), 6, in_server=True, blas_threads=1)
        last = [list(runner.fit(clients, params)) for _ in range(3)][-1]
    here = [r.metrics["blas"] for r in last if r.metrics["pid"] == os.getpid()]
    assert here and set(here) <= {0, 1}  # 0: no BLAS library loaded
    assert [i["num_threads"] for i in threadpool_info()] == before  # given back after


def test_one_worker_never_shares_with_the_server() -> None:
    with Pool("processes", workers=1) as pool:
        assert not ClientRunner(pool, _WhereFactory(), 6, in_server=True).in_server


def test_run_in_server_is_decided_by_the_builder_unless_asked() -> None:
    built_in = federate(workers=2, **SMALL)  # type: ignore[arg-type]
    assert built_in.history.settings["run_in_server"] is True  # ArrayClientFactory is safe
    assert federate(workers=1, **SMALL).history.settings["run_in_server"] is False  # type: ignore[arg-type]
    assert (
        federate(backend="threads", workers=2, **SMALL).history.settings["run_in_server"] is False
    )  # type: ignore[arg-type]
    kept_apart = federate(workers=2, run_in_server=False, **SMALL)  # type: ignore[arg-type]
    assert kept_apart.history.settings["run_in_server"] is False
    assert _same(built_in.history.parameters, kept_apart.history.parameters)
    strategy = FedAvg(fraction_evaluate=0.0, min_evaluate_clients=0)
    own = simulation.simulate(_WhereFactory(), 6, strategy, 2, workers=2)
    assert own.settings["run_in_server"] is False  # a builder of its own: not unless asked
    asked = simulation.simulate(_WhereFactory(), 6, strategy, 2, workers=2, run_in_server=True)
    assert asked.settings["run_in_server"] is True
    with pytest.raises(TypeError, match="run_in_server must be True, False or None"):
        simulation.simulate(_WhereFactory(), 6, strategy, 2, run_in_server="yes")  # type: ignore[arg-type]


class _CountingFactory:
    """Builds digits clients; counts (per process) how often it was unpickled, and its
    clients report that count and their training set size as metrics."""

    def __init__(self) -> None:
        self.tag = "state"  # pickle calls __setstate__ only for a non-empty state

    def __setstate__(self, state: dict[str, Any]) -> None:
        os.environ["PARLEARN_TEST_FACTORY"] = str(
            int(os.environ.get("PARLEARN_TEST_FACTORY", 0)) + 1
        )
        self.__dict__.update(state)

    def __call__(self, cid: int) -> Any:
        rng = np.random.default_rng(cid)
        n = 10 + 10 * cid  # client cid has 10 + 10 cid training examples
        X = rng.random((n, 5))
        client = ArrayClient("logistic", X, (X[:, 0] > 0.5).astype(np.int64), X, X[:, 0] > 0.5,
                             num_classes=2)  # fmt: skip
        rebuilt = int(os.environ.get("PARLEARN_TEST_FACTORY", 0))

        class Counting:
            def get_parameters(self, config: Any) -> Any:
                return client.get_parameters(config)

            def fit(self, parameters: Any, config: Any) -> Any:
                new, count, metrics = client.fit(parameters, config)
                return new, count, {**metrics, "rebuilt": rebuilt, "seed": config.get("seed", -1)}

            def evaluate(self, parameters: Any, config: Any) -> Any:
                return client.evaluate(parameters, config)

        return Counting()


def test_clients_run_largest_first_and_the_builder_ships_once() -> None:
    params = _CountingFactory()(0).get_parameters({})
    clients = [(cid, {"local_epochs": 1, "seed": cid}) for cid in range(6)]
    with Pool("processes", workers=2) as pool:
        runner = ClientRunner(pool, _CountingFactory(), num_clients=6)
        rounds = [list(runner.fit(clients, params)) for _ in range(4)]
    # Nothing known in round 1: client id order; then the largest clients first.
    assert [r.cid for r in rounds[0]] == [0, 1, 2, 3, 4, 5]
    assert all([r.cid for r in results] == [5, 4, 3, 2, 1, 0] for results in rounds[1:])
    # Each worker unpickled the client builder once, not once per round or per group.
    assert {r.metrics["rebuilt"] for results in rounds for r in results} == {1}


class _SizedFactory(_CountingFactory):
    """Knows each client's training examples before it runs (as ArrayClientFactory does)."""

    def __init__(self, sizes: Callable[[int], Any] = lambda cid: 10 + 10 * cid) -> None:
        super().__init__()
        self.sizes = sizes

    def num_examples(self, cid: int) -> Any:
        return self.sizes(cid)


def test_a_builder_that_knows_the_sizes_orders_clients_largest_first_from_round_one() -> None:
    params = _CountingFactory()(0).get_parameters({})
    clients = [(cid, {"local_epochs": 1, "seed": cid}) for cid in range(6)]
    with Pool("processes", workers=2) as pool:
        runner = ClientRunner(pool, _SizedFactory(), num_clients=6)
        first = list(runner.fit(clients, params))
    assert [r.cid for r in first] == [5, 4, 3, 2, 1, 0]
    assert [r.num_examples for r in first] == [60, 50, 40, 30, 20, 10]


@pytest.mark.parametrize("bad", [-1, 2.5, None, True])
def test_a_wrong_size_hint_is_a_clear_error(bad: Any) -> None:
    params = _CountingFactory()(0).get_parameters({})
    with Pool("serial") as pool:
        runner = ClientRunner(pool, _SizedFactory(lambda cid: bad), num_clients=2)
        with pytest.raises(ValueError, match=r"num_examples\(0\) returned .*an int >= 0"):
            list(runner.fit([(0, {}), (1, {})], params))


def test_the_first_fit_in_a_process_is_not_taken_as_the_clients_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """It pays for the process's warm-up (imports, first NumPy calls), several times a
    client's own time: timed, it would unbalance the next rounds."""
    from parlearn.federated import _runner

    monkeypatch.setattr(_runner, "_warmed_up", False)
    params = _CountingFactory()(0).get_parameters({})
    item = ("fit", [(0, {"seed": 1}), (1, {"seed": 1})], params, None)
    first, second = _answers(_runner._run_group(_CountingFactory(), item))  # type: ignore[arg-type]
    assert first[1] == float("inf") and 0 < second[1] < float("inf")
    again = _runner._run_group(_CountingFactory(), ("fit", [(0, {})], params, None))  # type: ignore[arg-type]
    assert _answers(again)[0][1] < float("inf")


def _answers(answer: Any) -> list[tuple[Any, float, int]]:
    from parlearn.federated import _runner

    return _runner._unpack(answer) if isinstance(answer, tuple) else answer


def test_a_group_of_successful_fits_travels_packed_and_unpacks_to_the_same_results() -> None:
    """Each layer of the group's parameters stacked in one array; a failure or layers of
    different dtypes leave the group as it is."""
    from parlearn.federated import _runner

    params = _CountingFactory()(0).get_parameters({})
    item = ("fit", [(0, {"seed": 1}), (1, {"seed": 2})], params, None)
    answer = _runner._run_group(_CountingFactory(), item)  # type: ignore[arg-type]
    assert isinstance(answer, tuple)
    cids, layers, examples, _, _, epochs = answer
    assert epochs == [1, 1]
    assert cids == [0, 1] and [layer.shape[0] for layer in layers] == [2] * len(params)
    results = [outcome for outcome, _, _ in _runner._unpack(answer)]
    assert [r.cid for r in results] == [0, 1] and [r.num_examples for r in results] == examples
    for i, r in enumerate(results):
        for got, layer in zip(r.parameters, layers, strict=True):
            np.testing.assert_array_equal(got, layer[i])
    failure = ClientFailure(1, "boom")
    plain = [(results[0], 0.1, 1), (failure, 0.1, 1)]
    assert _runner._pack(plain) is plain
    mixed = FitResult(1, [p.astype(np.float32) for p in results[1].parameters], 3)
    unlike = [(results[0], 0.1, 1), (mixed, 0.1, 1)]
    assert _runner._pack(unlike) is unlike
    shorter = FitResult(1, [p[:1] for p in results[1].parameters], 3)
    uneven = [(results[0], 0.1, 1), (shorter, 0.1, 1)]
    assert _runner._pack(uneven) is uneven


def test_each_client_gets_its_seed_where_it_runs_unless_its_config_has_one() -> None:
    params = _CountingFactory()(0).get_parameters({})
    clients = [(cid, {"local_epochs": 1}) for cid in range(4)] + [(4, {"seed": 7})]
    with Pool("processes", workers=2) as pool:
        runner = ClientRunner(pool, _CountingFactory(), num_clients=5)
        results = list(runner.fit(clients, params, seeds=(3, 5)))
        unseeded = list(runner.fit(clients[:1], params))
    seeds = {r.cid: r.metrics["seed"] for r in results}
    assert seeds == {**{cid: client_seed(3, 5, cid) for cid in range(4)}, 4: 7}
    assert len(set(seeds.values())) == 5
    assert unseeded[0].metrics["seed"] == -1  # no seeds asked for: the config is left alone


class _BigModelClient:
    """A client of a 1.6 MB model: its update halves the global parameters."""

    def get_parameters(self, config: Any) -> Any:
        return [np.ones(200_000)]

    def fit(self, parameters: Any, config: Any) -> Any:
        return [parameters[0] / 2], 10, {}

    def evaluate(self, parameters: Any, config: Any) -> Any:
        return 0.0, 10, {}


def _big_model_client(cid: int) -> _BigModelClient:
    return _BigModelClient()


def test_large_global_parameters_travel_in_shared_memory() -> None:
    # Parameters over SHARE_BYTES go through shared memory each round and are released
    # after it (the autouse fixture fails the test if a segment is left behind).
    history = simulation.simulate(_big_model_client, 4, FedAvg(), 3, workers=2)
    np.testing.assert_array_equal(history.parameters[0], np.full(200_000, 1 / 8))


def test_array_client_factory_knows_each_clients_examples() -> None:
    from parlearn.federated.experiment import ArrayClientFactory
    from parlearn.federated.partition import Partition

    X = np.random.default_rng(0).random((9, 3))
    y = np.arange(9) % 2
    train = Partition.from_assignment([0, 0, 1, 1, 1, 2, -1, 2, 2], 3)
    test = Partition.from_assignment([-1, -1, -1, -1, -1, -1, 0, -1, -1], 3)
    factory = ArrayClientFactory("logistic", X, y, train, test, 2, 1, 4, 0.1)
    params = factory(0).get_parameters({})
    for cid in range(3):
        assert factory.num_examples(cid) == factory(cid).fit(params, {})[1]
    # Test rows are read when a client evaluates (client 0 holds sample 6), not before.
    assert factory(0).evaluate(params, {})[1] == 1
    assert factory(1).evaluate(params, {})[1:] == (0, {})
