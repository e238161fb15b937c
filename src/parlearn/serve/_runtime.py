"""The models of one worker and their batchers: loaded after the fork, closed at shutdown."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from parlearn.serve._batching import Arrivals, MicroBatcher
from parlearn.serve._config import ServeConfig
from parlearn.serve._errors import RequestError
from parlearn.serve._loaders import load_predictor
from parlearn.serve._metrics import ServeMetrics
from parlearn.serve._repository import ModelEntry, ModelRepository, ModelSource

__all__ = ["ModelRuntime"]

log = logging.getLogger("parlearn.serve")


class ModelRuntime:
    """Lifecycle: :meth:`load` (in a running event loop, in the worker), :meth:`infer` per
    request, :meth:`close` at shutdown."""

    def __init__(
        self, sources: Sequence[ModelSource], config: ServeConfig, metrics: ServeMetrics
    ) -> None:
        self.sources = list(sources)
        self.config = config
        self.metrics = metrics
        self.arrivals = Arrivals()
        self.repository: ModelRepository | None = None
        self.batchers: dict[tuple[str, str], MicroBatcher] = {}

    def load(self) -> None:
        """Load and warm every model, then start its batcher."""
        entries = []
        for source in self.sources:
            predictor = load_predictor(
                source.path, trusted=self.config.trusted, threads=self.config.threads
            )
            try:
                predictor.warm_up()
            except Exception as exc:  # a model that cannot take zeros is still served
                log.warning("model %r: warm-up failed (%s); serving it anyway", source.name, exc)
            entry = ModelEntry(source.name, source.version, source.path, predictor)
            batcher = MicroBatcher(
                f"{source.name}:{source.version}",
                predictor.infer,
                self.config.batching,
                self.arrivals,
                batchable=predictor.batchable,
                listener=self.metrics,
            )
            batcher.start()
            self.batchers[(entry.name, entry.version)] = batcher
            entries.append(entry)
        self.repository = ModelRepository(entries)

    def models(self) -> ModelRepository:
        if self.repository is None:
            raise RequestError(
                503, "the models are still loading; retry in a second", headers={"Retry-After": "1"}
            )
        return self.repository

    def max_batch_size(self, entry: ModelEntry) -> int:
        return self.batchers[(entry.name, entry.version)].max_batch_size

    async def infer(
        self, entry: ModelEntry, rows: Any, outputs: tuple[str, ...], deadline: float
    ) -> dict[str, Any]:
        batcher = self.batchers[(entry.name, entry.version)]
        return await batcher.infer(rows, outputs, deadline, self.config.request_timeout)

    async def close(self) -> None:
        for batcher in self.batchers.values():
            await batcher.close()
