"""Prometheus metrics: request counts, latency histogram, job counts."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily

__all__ = ["Metrics"]


class _JobCollector:
    def __init__(self) -> None:
        self.source: dict[tuple[str, str], int] | None = None

    def collect(self):  # type: ignore[no-untyped-def]
        fam = CounterMetricFamily("gharart_jobs", "Background jobs by kind and status", labels=["kind", "status"])
        for (kind, status), n in sorted((self.source or {}).items()):
            fam.add_metric([kind, status], n)
        yield fam


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("gharart_http_requests", "HTTP requests", ["route", "method", "status"],
                                registry=self.registry)
        self.latency = Histogram("gharart_http_request_duration_seconds", "HTTP request latency",
                                 ["route", "method"], registry=self.registry,
                                 buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self.jobs = _JobCollector()
        self.registry.register(self.jobs)

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        children = self._children.get(key)
        if children is None:
            children = (self.requests.labels(route, method, str(status)), self.latency.labels(route, method))
            if len(self._children) < 10_000:
                self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
