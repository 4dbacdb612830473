"""Prometheus metrics of the API: requests by route and status, latency, and what is being served.

Each app has its own :class:`prometheus_client.CollectorRegistry` (several apps in one process, as in
tests, do not collide). Under ``blendcast serve --workers N`` (N > 1) the workers share their counts
through prometheus_client's multiprocess mode: ``serve`` sets ``PROMETHEUS_MULTIPROC_DIR`` to an empty
``$BLENDCAST_HOME/prometheus-multiproc`` before the workers start, each worker writes its values there,
and any worker's ``/metrics`` answers the sum over all of them (gauges: the most recent value).
"""

from __future__ import annotations

import os
from typing import Any, Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.types import Scope

# Request latency buckets (seconds): the single-lookup target is a 25 ms p99.
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

CONTENT_TYPE = CONTENT_TYPE_LATEST


class ApiMetrics:
    """The API's counters, histogram and gauges."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        # Read when prometheus_client was imported, as its value classes were: set by `serve` beforehand.
        self.multiprocess_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None
        self._version: str | None = None
        self.requests = Counter(
            "blendcast_http_requests", "HTTP requests by route template, method and status.",
            ["route", "method", "status"], registry=self.registry,
        )
        self.latency = Histogram(
            "blendcast_http_request_duration_seconds", "Time to answer a request, by route template.",
            ["route"], buckets=_BUCKETS, registry=self.registry,
        )
        mode: Final = "mostrecent"  # across workers: what the last one to swap loaded
        self.run_id = Gauge("blendcast_served_run_id", "Id of the run being served (0: none).",
                            registry=self.registry, multiprocess_mode=mode)
        self.model = Gauge("blendcast_served_model_info", "1 for the model version being served.",
                           ["model_version"], registry=self.registry, multiprocess_mode=mode)
        self.run_bytes = Gauge("blendcast_served_run_bytes", "Bytes of the loaded run's arrays.",
                               registry=self.registry, multiprocess_mode=mode)
        self.series = Gauge("blendcast_served_series", "SKU-channels in the loaded run.",
                            registry=self.registry, multiprocess_mode=mode)

    def served(self, run_id: int, model_version: str | None, nbytes: int, n_series: int) -> None:
        """Record a newly swapped-in run."""
        self.run_id.set(run_id)
        version = model_version or "unknown"
        if self._version is not None and self._version != version:
            # Zero the old label rather than clear(): a multiprocess file keeps cleared values.
            self.model.labels(model_version=self._version).set(0)
        self.model.labels(model_version=version).set(1)
        self._version = version
        self.run_bytes.set(nbytes)
        self.series.set(n_series)

    def observe_request(self, scope: Scope, status: int, seconds: float) -> None:
        """Count one finished HTTP request and its latency under its route template."""
        route: Any = scope.get("route")
        # The template (/v1/forecasts/{sku}/{channel}), never the raw path: bounded label values.
        template = getattr(route, "path_format", None) or getattr(route, "path", None) or "unmatched"
        self.requests.labels(template, scope.get("method", ""), str(status)).inc()
        self.latency.labels(template).observe(seconds)

    def exposition(self) -> bytes:
        """The text exposition format (summed over every worker in multiprocess mode)."""
        if self.multiprocess_dir is None:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=self.multiprocess_dir)
        return generate_latest(registry)
