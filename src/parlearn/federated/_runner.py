"""Running a round's clients on a pool: largest first, in a few groups, one resident task.

::

    a round's clients ─► order: expected cost, largest first (examples x local epochs, as
                         clients reported them in earlier rounds; unknown clients count as
                         the mean; ties by client id): the order results are aggregated in
                      ─► a light round (under LIGHT_ROUND_SECONDS a worker, by measured
                         times): one bin per worker, balanced by LPT on each client's
                         measured seconds (estimated from its examples until it has run);
                         with in_server, the longest runs in the server meanwhile;
                         results put back in the order above
                      ─► otherwise groups: contiguous runs of that order, each about a share
                         of the work left (guided scheduling), never more than
                         MAX_GROUP_BYTES of results, streamed in order
                      ─► resident task over the bins or groups (one per dispatch)
    outcomes in that order ◄─ a bin or group lost to a dying worker runs again, one client
                              per item

Why: a light round (ten clients of a third of a millisecond) costs as much in dispatch as in
work, and even a round of a hundred such clients loses a visible share to dispatching groups,
so clients travel in as few messages as balance allows -- one per worker when their times are
known -- and the task with the client builder is shipped to the workers once per
simulation, not once per round. With ``in_server`` one of those bins does not travel at all:
the server runs it while the workers run theirs, which saves a round trip (pickling, a
wake-up, reading the results) on the round's critical path; measured on 30 clients / 10 per
round, E=1, 2 cores: 2.49-2.72 ms a round instead of 2.76-2.94 (medians, 7 interleaved
pairs). Largest first is LPT scheduling (Graham 1969): the big clients start early and the
small ones fill the gaps, so workers finish together. Timings decide only which worker runs a
client, never the order results are added in, so the aggregated model is bit-identical
whatever the workers.
"""

from __future__ import annotations

import contextlib
import functools
import heapq
import math
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal, Protocol

import numpy as np
from threadpoolctl import ThreadpoolController

from parlearn.federated._seeds import client_seed
from parlearn.federated._types import (
    ClientFailure,
    Config,
    EvaluateResult,
    FitResult,
    Metrics,
    Parameters,
)
from parlearn.parallel import Failure, Pool, SharedArray, share

__all__ = ["ClientLike", "ClientRunner", "plan_bins", "plan_groups"]

Phase = Literal["fit", "evaluate"]
Seeds = tuple[int, int]  # (run seed, round): each client's config["seed"] is derived from it
# What a group sends back: (outcome, seconds, local epochs) per client, or successful fits
# packed: (cids, stacked layers, num_examples, metrics, seconds, local epochs).
Packed = tuple[list[int], list[Any], list[int], list[Metrics], list[float], list[int]]
Answer = list[tuple[Any, float, int]] | Packed

# A group holds at least this share of a round's expected work, and at least this much measured
# work: each group costs the server a dispatch (about 0.1-0.2 ms), so a light round travels in
# a few groups while a heavy one is cut finer for balance.
MIN_GROUP_SHARE = 0.1
MIN_GROUP_SECONDS = 0.001
# ...and at most this many bytes of client results, so memory stays bounded for big models.
MAX_GROUP_BYTES = 32 * 2**20
# Global parameters this large travel to the workers in shared memory, once per round.
SHARE_BYTES = 2**20
# A round expected to take less than this per worker (by measured times) goes out as one bin
# per worker, when the round's results fit in MAX_GROUP_BYTES x workers. Groups cost the server
# a dispatch each and wake it for each one's results, CPU taken from the workers on a busy
# machine (a round of 100 clients of E=1: 5.4-5.6 ms of server CPU in groups, 4.5 ms in bins),
# while LPT bins on measured times balance within a few percent; a longer round goes in
# groups, whose dynamic balance then pays. Measured (benchmarks/fl_vs_flower.py workloads,
# 2 cores): (b) E=1 and (a) E=20, rounds of 25-35 ms a worker, were 4-5% faster in bins;
# (b) E=20, 200 ms a worker, 6% faster in groups.
LIGHT_ROUND_SECONDS = 0.1


class ClientLike(Protocol):
    """Anything with the three client methods (a ``Client`` or a Flower ``NumPyClient``)."""

    def get_parameters(self, config: Config) -> Parameters: ...
    def fit(self, parameters: Parameters, config: Config) -> Any: ...
    def evaluate(self, parameters: Parameters, config: Config) -> Any: ...


ClientFn = Callable[[int], ClientLike]


def plan_groups(
    costs: Sequence[float],
    workers: int,
    *,
    min_share: float = MIN_GROUP_SHARE,
    min_cost: float = 0.0,
    max_items: int | None = None,
) -> list[range]:
    """Cut items (in order, costs > 0) into contiguous groups for ``workers`` workers.

    Each group takes about half a worker's share of the work still left (guided scheduling,
    shrinking toward the end so workers finish together), at least ``min_share`` of the whole
    and ``min_cost``, and at most ``max_items`` items; a single item larger than that is a
    group of its own.
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    total = float(sum(costs))
    left = total
    groups: list[range] = []
    start = 0
    while start < len(costs):
        target = max(left / (2 * workers), min_share * total, min_cost)
        end, cost = start + 1, float(costs[start])
        while (
            end < len(costs)
            and (max_items is None or end - start < max_items)
            and cost + costs[end] <= target
        ):
            cost += float(costs[end])
            end += 1
        groups.append(range(start, end))
        left -= cost
        start = end
    return groups


def plan_bins(seconds: Sequence[float], workers: int) -> list[list[int]]:
    """Spread items over ``workers`` bins of about equal total ``seconds``: each item, longest
    first, goes to the bin with the least so far (LPT, Graham 1969: within 4/3 of the best).
    Returns the non-empty bins, each a list of item positions in increasing order."""
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    heap = [(0.0, b) for b in range(workers)]
    bins: list[list[int]] = [[] for _ in range(workers)]
    for position in sorted(range(len(seconds)), key=lambda i: (-seconds[i], i)):
        load, b = heapq.heappop(heap)
        bins[b].append(position)
        heapq.heappush(heap, (load + float(seconds[position]), b))
    return [sorted(b) for b in bins if b]


class ClientRunner:
    """Runs the clients of each round on ``pool``; ``close()`` releases the workers' copy."""

    def __init__(
        self,
        pool: Pool,
        client_fn: ClientFn,
        num_clients: int,
        *,
        in_server: bool = False,
        blas_threads: int | None = None,
    ) -> None:
        self._pool = pool
        self._client_fn = client_fn
        self._run = pool.resident(functools.partial(_run_group, client_fn))
        # The server runs one bin of each light round itself, as one of the pool's workers,
        # with the workers' BLAS threads (``blas_threads``; None: as it is), so it does not
        # take a core from them.
        self.in_server = in_server and pool.workers > 1
        self._blas_threads = blas_threads
        self._blas: ThreadpoolController | None = None
        # A client builder may know each client's examples before it reports them
        # (``ArrayClientFactory.num_examples``): rounds are then balanced from the start.
        hint = getattr(client_fn, "num_examples", None)
        self._size_hint: Callable[[int], int] | None = hint if callable(hint) else None
        # Python lists, not arrays: a round reads a few entries, one at a time.
        self._examples = [-1] * num_clients  # as reported in fit; -1: not yet
        self._known_total = 0  # sum of the reported examples, for the mean in _costs
        self._known_count = 0  # clients that reported
        # Measured, in the workers: sizes groups and fills bins, never decides the order.
        self._seconds_per_cost: float | None = None
        self._seconds_per_epoch = [math.inf] * num_clients  # each client's fastest fit

    def fit(
        self,
        clients: Sequence[tuple[int, Config]],
        parameters: Parameters,
        *,
        seeds: Seeds | None = None,
    ) -> Iterator[FitResult | ClientFailure]:
        """Each client's fit result or failure, largest clients first (see the module).
        ``seeds``: each client without a ``seed`` in its config gets
        ``client_seed(*seeds, cid)``, derived in the worker that runs it."""
        for outcome in self._outcomes("fit", clients, parameters, seeds):
            if isinstance(outcome, FitResult):
                self._note_examples(outcome.cid, outcome.num_examples)
            yield outcome

    def evaluate(
        self, clients: Sequence[tuple[int, Config]], parameters: Parameters
    ) -> Iterator[EvaluateResult | ClientFailure]:
        return self._outcomes("evaluate", clients, parameters, None)

    def close(self) -> None:
        self._run.close()

    def _note_examples(self, cid: int, examples: int) -> None:
        old = self._examples[cid]
        self._examples[cid] = examples
        self._known_total += examples - max(old, 0)
        self._known_count += old < 0

    def _outcomes(
        self,
        phase: Phase,
        clients: Sequence[tuple[int, Config]],
        parameters: Parameters,
        seeds: Seeds | None,
    ) -> Iterator[Any]:
        costs = self._costs(clients)
        order = sorted(range(len(clients)), key=lambda i: (-costs[i], clients[i][0]))
        ordered = [clients[i] for i in order]
        model_bytes = sum(np.asarray(p).nbytes for p in parameters)
        shared = _share(parameters) if model_bytes >= SHARE_BYTES else None
        sent: Parameters = parameters if shared is None else list(shared)
        started = time.perf_counter()
        try:
            ordered_costs = [costs[i] for i in order]
            seconds = self._light_round(phase, ordered, ordered_costs, model_bytes)
            if seconds is not None:
                yield from self._run_bins(phase, ordered, sent, seeds, seconds)
            else:
                yield from self._run_groups(phase, ordered, sent, seeds, ordered_costs, model_bytes)
        finally:
            for array in shared or ():
                array.close()
        if phase == "fit" and costs:
            took = (time.perf_counter() - started) * self._pool.workers / sum(costs)
            per_cost = self._seconds_per_cost
            self._seconds_per_cost = took if per_cost is None else 0.5 * (per_cost + took)

    def _light_round(
        self,
        phase: Phase,
        ordered: list[tuple[int, Config]],
        costs: list[float],
        model_bytes: int,
    ) -> list[float] | None:
        """Each client's expected seconds when the round is light enough for one bin per
        worker (see the module), else None. A client not timed yet is expected to take the
        median seconds per example of those that were, times its cost (``_costs``)."""
        if phase != "fit" or len(ordered) * model_bytes > MAX_GROUP_BYTES * self._pool.workers:
            return None
        measured = self._seconds_per_epoch
        seconds = [measured[cid] * _epochs(config) for cid, config in ordered]
        untimed = [i for i, s in enumerate(seconds) if s == math.inf]
        if untimed:
            examples = self._examples
            rates = [measured[c] / examples[c] for c in range(len(examples)) if examples[c] > 0]
            timed = [rate for rate in rates if rate != math.inf]
            if not timed:
                return None
            per_example = statistics.median(timed)
            for i in untimed:
                seconds[i] = per_example * costs[i]
        return seconds if sum(seconds) < LIGHT_ROUND_SECONDS * self._pool.workers else None

    def _run_bins(
        self,
        phase: Phase,
        ordered: list[tuple[int, Config]],
        parameters: Parameters,
        seeds: Seeds | None,
        seconds: list[float],
    ) -> Iterator[Any]:
        bins = plan_bins(seconds, self._pool.workers)
        # The longest first: the pool waits for the bins one at a time, first the one whose
        # worker finished last the round before, else in this order (Backend.scatter), so the
        # server wakes once a round when the bin it waits for first is the last to finish.
        bins.sort(key=lambda b: -sum(seconds[p] for p in b))
        # In the server, the longest: a worker's bin pays a wake-up and the trip back, and
        # the server, done first, would sleep for it and pay a wake-up of its own.
        mine = bins.pop(0) if self.in_server and len(bins) > 1 else []
        here: list[Answer] = []

        def run_mine() -> None:
            item = (phase, [ordered[p] for p in mine], parameters, seeds)
            with self._blas_limit():
                here.append(_run_group(self._client_fn, item, pack=False))

        items = [(phase, [ordered[p] for p in b], parameters, seeds) for b in bins]
        outcomes: list[Any] = [None] * len(ordered)
        answers = self._run.imap(
            items, chunksize=1, errors="collect", meanwhile=run_mine if mine else None
        )
        for positions, item, answer in zip(bins, items, answers, strict=True):
            got = (
                list(self._one_by_one(phase, item[1], parameters, seeds))
                if isinstance(answer, Failure)  # the worker died: find which client did it
                else self._timed(answer)
            )
            for position, outcome in zip(positions, got, strict=True):
                outcomes[position] = outcome
        for position, outcome in zip(mine, self._timed(here[0]) if mine else [], strict=True):
            outcomes[position] = outcome
        yield from outcomes

    def _run_groups(
        self,
        phase: Phase,
        ordered: list[tuple[int, Config]],
        parameters: Parameters,
        seeds: Seeds | None,
        costs: list[float],
        model_bytes: int,
    ) -> Iterator[Any]:
        per_cost = self._seconds_per_cost
        groups = plan_groups(
            costs,
            self._pool.workers,
            min_cost=MIN_GROUP_SECONDS / per_cost if per_cost else 0.0,
            max_items=max(1, MAX_GROUP_BYTES // max(model_bytes, 1)),
        )
        items = [(phase, [ordered[i] for i in group], parameters, seeds) for group in groups]
        answers = self._run.imap(items, chunksize=1, errors="collect")
        for item, answer in zip(items, answers, strict=True):
            if isinstance(answer, Failure):  # the worker died: find which client did it
                yield from self._one_by_one(phase, item[1], parameters, seeds)
            else:
                yield from self._timed(answer)

    def _blas_limit(self) -> contextlib.AbstractContextManager[object]:
        if self._blas_threads is None:
            return contextlib.nullcontext()
        if self._blas is None:  # once: finding the loaded libraries takes milliseconds
            self._blas = ThreadpoolController()
        limit: contextlib.AbstractContextManager[object] = self._blas.limit(
            limits=self._blas_threads
        )
        return limit

    def _timed(self, answer: Answer) -> list[Any]:
        """The outcomes of a bin or group, noting each successful fit's seconds per epoch."""
        if isinstance(answer, tuple):
            answer = _unpack(answer)
        outcomes = []
        fastest = self._seconds_per_epoch
        for outcome, seconds, epochs in answer:
            if isinstance(outcome, FitResult):
                # The fastest fit seen: a client's data does not change, and a slower fit
                # only says that its worker was kept from the CPU.
                fastest[outcome.cid] = min(fastest[outcome.cid], seconds / epochs)
            outcomes.append(outcome)
        return outcomes

    def _one_by_one(
        self,
        phase: Phase,
        clients: list[tuple[int, Config]],
        parameters: Parameters,
        seeds: Seeds | None,
    ) -> Iterator[Any]:
        items = [(phase, [client], parameters, seeds) for client in clients]
        outcomes = self._run.imap(items, chunksize=1, errors="collect")
        for (cid, _), outcome in zip(clients, outcomes, strict=True):
            if isinstance(outcome, Failure):
                reason = f"{type(outcome.exception).__name__}: {outcome.exception}"
                yield ClientFailure(cid, reason)
            else:
                yield from self._timed(outcome)

    def _costs(self, clients: Sequence[tuple[int, Config]]) -> list[float]:
        """Expected work per client: examples x local epochs (unknown clients: the mean)."""
        if self._size_hint is not None:
            for cid, _ in clients:
                if self._examples[cid] < 0:
                    self._note_examples(cid, _hinted_examples(self._size_hint, cid))
        count = self._known_count
        typical = self._known_total / count if count else 1.0
        costs = []
        for cid, config in clients:
            examples = self._examples[cid]
            costs.append(max(float(examples) if examples >= 0 else typical, 1.0) * _epochs(config))
        return costs


def _hinted_examples(hint: Callable[[int], int], cid: int) -> int:
    examples = hint(cid)
    if isinstance(examples, bool) or not isinstance(examples, (int, np.integer)) or examples < 0:
        raise ValueError(
            f"the client builder's num_examples({cid}) returned {examples!r}; it must return "
            "the client's number of training examples, an int >= 0 (or remove the method)"
        )
    return int(examples)


def _epochs(config: Config) -> int:
    epochs = config.get("local_epochs", 1)
    return epochs if isinstance(epochs, int) and epochs > 0 else 1


def _share(parameters: Parameters) -> list[SharedArray]:
    shared: list[SharedArray] = []
    try:
        for p in parameters:
            shared.append(share(np.asarray(p)))
    except BaseException:
        for array in shared:
            array.close()
        raise
    return shared


# --------------------------------------------------------------------------- in the workers


# Whether this process has run a fit: the first one pays for one-time work (imports, NumPy's
# first calls, cold code), several times a client's own time, and is not taken as its time.
_warmed_up = False


def _run_group(
    client_fn: ClientFn,
    item: tuple[Phase, list[tuple[int, Config]], Parameters, Seeds | None],
    *,
    pack: bool = True,
) -> Answer:
    """Each client's outcome, with the seconds it took (inf: not timed) and its local epochs;
    a group of fits that all succeeded travels packed (``_pack``) unless ``pack`` is False
    (a group run in the server, which goes nowhere)."""
    global _warmed_up
    phase, clients, parameters, seeds = item
    one = _fit_one if phase == "fit" else _evaluate_one
    answers = []
    for cid, config in clients:
        started = time.perf_counter()
        if seeds is not None and "seed" not in config:
            config = {**config, "seed": client_seed(seeds[0], seeds[1], cid)}
        outcome = one(client_fn, parameters, cid, config)
        seconds = time.perf_counter() - started if _warmed_up else math.inf
        _warmed_up = _warmed_up or phase == "fit"
        answers.append((outcome, seconds, _epochs(config)))
    return _pack(answers) if phase == "fit" and pack else answers


def _pack(answers: list[tuple[Any, float, int]]) -> Answer:
    """Successful fits with each layer of all the clients' parameters stacked in one array:
    two arrays to send back and read instead of two per client. Anything else (a failure,
    layers that differ in dtype, shape or type) travels as it is."""
    results = [outcome for outcome, _, _ in answers]
    if not results or any(type(r) is not FitResult for r in results):
        return answers
    layers = []
    for j, first in enumerate(results[0].parameters):
        arrays = [r.parameters[j] for r in results]
        if any(
            type(a) is not np.ndarray or a.dtype != first.dtype or a.shape != first.shape
            for a in arrays
        ):
            return answers
        layers.append(np.array(arrays))  # as np.stack, at a third of its cost for small arrays
    return (
        [r.cid for r in results],
        layers,
        [r.num_examples for r in results],
        [r.metrics for r in results],
        [seconds for _, seconds, _ in answers],
        [epochs for _, _, epochs in answers],
    )


def _unpack(packed: Packed) -> list[tuple[Any, float, int]]:
    cids, layers, examples, metrics, seconds, epochs = packed
    return [
        (
            FitResult(cid, [layer[i] for layer in layers], examples[i], metrics[i]),
            seconds[i],
            epochs[i],
        )
        for i, cid in enumerate(cids)
    ]


def _fit_one(
    client_fn: ClientFn, parameters: Parameters, cid: int, config: Config
) -> FitResult | ClientFailure:
    try:
        client = client_fn(cid)
        answer = client.fit([np.array(p, copy=True) for p in parameters], dict(config))
        new, num_examples, metrics = _check_fit_answer(answer, parameters)
    except Exception as exc:
        return ClientFailure(cid, f"client {cid} failed in fit: {type(exc).__name__}: {exc}")
    return FitResult(cid, new, num_examples, metrics)


def _evaluate_one(
    client_fn: ClientFn, parameters: Parameters, cid: int, config: Config
) -> EvaluateResult | ClientFailure:
    try:
        answer = client_fn(cid).evaluate([np.array(p, copy=True) for p in parameters], dict(config))
        if not (isinstance(answer, tuple) and len(answer) == 3):
            raise TypeError(
                f"evaluate must return (loss, num_examples, metrics), got {answer!r:.80}"
            )
        loss, num_examples, metrics = answer
        loss = float(loss)
        if not math.isfinite(loss):
            raise ValueError(f"evaluate returned a non-finite loss {loss}")
        return EvaluateResult(cid, loss, _count(num_examples), dict(metrics or {}))
    except Exception as exc:
        return ClientFailure(cid, f"client {cid} failed in evaluate: {type(exc).__name__}: {exc}")


def _check_fit_answer(answer: Any, reference: Parameters) -> tuple[Parameters, int, Metrics]:
    """A client's fit answer, checked: never let a malformed update into the global model."""
    if not (isinstance(answer, tuple) and len(answer) == 3):
        raise TypeError(
            f"fit must return (parameters, num_examples, metrics), got {type(answer).__name__}"
        )
    new, num_examples, metrics = answer
    if not isinstance(new, (list, tuple)):
        raise TypeError(f"fit must return parameters as a list of arrays, got {type(new).__name__}")
    arrays = [np.asarray(p) for p in new]
    expected = [np.asarray(p).shape for p in reference]
    got = [a.shape for a in arrays]
    if got != expected:
        raise ValueError(f"returned parameters of shapes {got}, expected {expected}")
    for i, a in enumerate(arrays):
        if a.dtype.kind not in "iufc":
            raise TypeError(f"parameter {i} has dtype {a.dtype}, expected a numeric array")
        # A sum is NaN or inf when any entry is (or, rarely, when it overflows: then look).
        if a.dtype.kind in "fc" and not np.isfinite(a.sum()) and not np.isfinite(a).all():
            raise ValueError(f"parameter {i} contains NaN or inf")
    return arrays, _count(num_examples), dict(metrics or {})


def _count(num_examples: Any) -> int:
    if isinstance(num_examples, bool) or not isinstance(num_examples, (int, np.integer)):
        raise TypeError(f"num_examples must be an int, got {num_examples!r}")
    if num_examples < 0:
        raise ValueError(f"num_examples must be >= 0, got {num_examples}")
    return int(num_examples)
