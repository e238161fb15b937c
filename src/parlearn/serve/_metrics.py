"""Prometheus metrics, summed over every worker.

Under gunicorn each worker is a process, so the metrics use prometheus-client's multiprocess
mode: the master sets ``PROMETHEUS_MULTIPROC_DIR`` to a fresh folder before forking, each
worker writes its values to memory-mapped files there, and ``/metrics`` (answered by any
worker) reads them all. The master removes a dead worker's gauges (``child_exit`` hook);
its counters stay, so totals never go backwards. Without that variable (an app run in
one process, e.g. in tests) the metrics live in the app's own registry.

========================================  =========  ======================================
metric                                    type       labels
========================================  =========  ======================================
parlearn_requests_total                   counter    route, method, code
parlearn_request_errors_total             counter    route, code (4xx and 5xx only)
parlearn_request_duration_seconds         histogram  route
parlearn_requests_in_flight               gauge      (sum over live workers)
parlearn_batch_queue_depth                gauge      model (sum over live workers)
parlearn_batch_size                       histogram  model: rows per model call
parlearn_batch_requests                   histogram  model: requests per model call
parlearn_inference_duration_seconds       histogram  model: time of one model call
========================================  =========  ======================================
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["MULTIPROC_ENV", "ServeMetrics"]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# Latency buckets from 0.5 ms (a small model on loopback) to 30 s (the default time limit).
_LATENCY = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
# Batch sizes: powers of two up to well past the default max_batch_size of 64.
_SIZES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class ServeMetrics:
    """The server's metrics; implements the batcher's listener."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.multiprocess = bool(os.environ.get(MULTIPROC_ENV))
        if self.multiprocess:
            # The value class is chosen when prometheus_client is first imported; make sure it
            # is the multiprocess one even if something imported it before the variable was set.
            from prometheus_client import values

            values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]
        # Multiprocess values are read from files, not from a registry.
        self._registry = None if self.multiprocess else CollectorRegistry()
        reg: Any = self._registry
        self.requests = Counter(
            "parlearn_requests", "HTTP requests answered", ["route", "method", "code"], registry=reg
        )
        self.errors = Counter(
            "parlearn_request_errors", "HTTP error responses (status >= 400)", ["route", "code"],
            registry=reg,
        )  # fmt: skip
        self.latency = Histogram(
            "parlearn_request_duration_seconds", "time from request to response", ["route"],
            buckets=_LATENCY, registry=reg,
        )  # fmt: skip
        self.in_flight = Gauge(
            "parlearn_requests_in_flight", "requests being handled", registry=reg,
            multiprocess_mode="livesum",
        )  # fmt: skip
        self.queue_depth = Gauge(
            "parlearn_batch_queue_depth", "requests waiting for a batch", ["model"], registry=reg,
            multiprocess_mode="livesum",
        )  # fmt: skip
        self.batch_size = Histogram(
            "parlearn_batch_size", "rows per model call", ["model"], buckets=_SIZES, registry=reg
        )
        self.batch_requests = Histogram(
            "parlearn_batch_requests", "requests per model call", ["model"], buckets=_SIZES,
            registry=reg,
        )  # fmt: skip
        self.inference = Histogram(
            "parlearn_inference_duration_seconds", "time of one model call", ["model"],
            buckets=_LATENCY, registry=reg,
        )  # fmt: skip
        # Labelled children, cached: a label lookup costs more than the update itself.
        self._children: dict[tuple[Any, ...], Any] = {}

    def _child(self, metric: Any, *labels: str) -> Any:
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def observe_request(self, route: str, method: str, code: int, seconds: float) -> None:
        status = str(code)
        self._child(self.requests, route, method, status).inc()
        self._child(self.latency, route).observe(seconds)
        if code >= 400:
            self._child(self.errors, route, status).inc()

    def on_queue(self, model: str, delta: int) -> None:
        self._child(self.queue_depth, model).inc(delta)

    def on_batch(self, model: str, rows: int, requests: int, seconds: float) -> None:
        self._child(self.batch_size, model).observe(rows)
        self._child(self.batch_requests, model).observe(requests)
        self._child(self.inference, model).observe(seconds)

    def render(self) -> tuple[bytes, str]:
        """The exposition text of every worker's metrics, and its content type."""
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

        if self._registry is not None:
            return generate_latest(self._registry), CONTENT_TYPE_LATEST
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
