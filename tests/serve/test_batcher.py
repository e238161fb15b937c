"""The micro-batcher on its own, in one event loop, with a model that records its calls: how
requests are grouped and split back, its bounds, and its failures. No server: fast."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection
from typing import Any

import numpy as np
import pytest

from parlearn.serve._batching import Arrivals, MicroBatcher
from parlearn.serve._config import BatchPolicy
from parlearn.serve._errors import RequestError


class Model:
    """``predict`` doubles the first column; a row whose first value is -1 breaks the call."""

    def __init__(self, seconds: float = 0.0) -> None:
        self.calls: list[int] = []
        self.seconds = seconds

    def __call__(self, X: np.ndarray, outputs: Collection[str]) -> dict[str, Any]:
        self.calls.append(len(X))
        if (X[:, 0] == -1).any():
            raise ValueError("a row asked the model to fail")
        time.sleep(self.seconds)
        return {"predict": X[:, 0] * 2, "sum": X.sum(axis=1)}


async def _run(
    model: Model, policy: BatchPolicy, requests: list[list[list[float]]], timeout: float = 30
) -> list[dict[str, Any] | RequestError]:
    batcher = MicroBatcher("m", model, policy, Arrivals())
    batcher.start()
    deadline = asyncio.get_running_loop().time() + timeout

    async def one(rows: list[list[float]]) -> dict[str, Any] | RequestError:
        try:
            return await batcher.infer(
                np.asarray(rows, dtype=float), ("predict",), deadline, timeout
            )
        except RequestError as exc:
            return exc

    try:
        return list(await asyncio.gather(*(one(r) for r in requests)))
    finally:
        await batcher.close()


def test_concurrent_requests_become_one_call_and_each_gets_its_own_rows() -> None:
    model = Model()
    requests = [[[i, 0.0], [i + 100, 0.0]] for i in range(20)]
    answers = asyncio.run(_run(model, BatchPolicy(), requests))
    assert model.calls == [40]
    for i, answer in enumerate(answers):
        assert isinstance(answer, dict) and list(answer) == ["predict"]
        assert answer["predict"].tolist() == [2 * i, 2 * (i + 100)]


def test_batches_stay_within_max_rows_and_a_large_request_runs_alone() -> None:
    model = Model()
    requests = [[[float(i), 0.0]] * 3 for i in range(6)] + [[[7.0, 0.0]] * 10]
    answers = asyncio.run(_run(model, BatchPolicy(max_batch_size=8), requests))
    assert model.calls == [6, 6, 6, 10]  # two 3-row requests fit in 8 rows, never three
    assert all(isinstance(a, dict) for a in answers)


def test_batching_off_runs_each_request_alone() -> None:
    model = Model()
    asyncio.run(_run(model, BatchPolicy(enabled=False), [[[1.0, 0.0], [2.0, 0.0]]] * 5))
    assert model.calls == [2] * 5


def test_a_failing_batch_is_rerun_request_by_request() -> None:
    model = Model()
    requests = [[[float(i), 0.0]] for i in range(4)] + [[[-1.0, 0.0]]]
    answers = asyncio.run(_run(model, BatchPolicy(), requests))
    assert model.calls == [5, 1, 1, 1, 1, 1]
    assert [a["predict"].tolist() for a in answers[:4]] == [[0.0], [2.0], [4.0], [6.0]]  # type: ignore[index]
    error = answers[4]
    assert isinstance(error, RequestError) and error.status == 500
    assert "ValueError: a row asked the model to fail" in error.message


def test_a_full_queue_refuses_with_503_and_retry_after() -> None:
    answers = asyncio.run(_run(Model(), BatchPolicy(max_queue=2), [[[1.0, 0.0]]] * 3))
    assert isinstance(answers[0], dict) and isinstance(answers[1], dict)
    refused = answers[2]
    assert isinstance(refused, RequestError) and refused.status == 503
    assert refused.headers == {"Retry-After": "1"}


def test_past_its_deadline_a_request_gets_504() -> None:
    answers = asyncio.run(_run(Model(seconds=0.5), BatchPolicy(), [[[1.0, 0.0]]], timeout=0.05))
    answer = answers[0]
    assert isinstance(answer, RequestError) and answer.status == 504


def test_closing_refuses_new_requests() -> None:
    async def main() -> RequestError:
        batcher = MicroBatcher("m", Model(), BatchPolicy(), Arrivals())
        batcher.start()
        await batcher.close()
        with pytest.raises(RequestError) as caught:
            await batcher.infer(np.zeros((1, 2)), ("predict",), 1e9, 30)
        return caught.value

    assert asyncio.run(main()).status == 503
