"""Metrics through the Prometheus client library, each service with its own registry (no global
state): the HTTP thread renders it while the main loop updates it (the library is thread-safe).

The small wrappers keep the call sites short (`inc(amount, **labels)`) and read values back through the
registry's public `get_sample_value` where a service needs them (the agent's newest timestamp).
"""

from __future__ import annotations

import prometheus_client as prom

HISTOGRAM_BUCKETS = (0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class _Metric:
    def __init__(
        self, metric: prom.metrics.MetricWrapperBase, registry: prom.CollectorRegistry, sample: str
    ) -> None:
        self._metric, self._registry, self._sample = metric, registry, sample

    def _child(self, labels: dict[str, str]) -> prom.metrics.MetricWrapperBase:
        return self._metric.labels(**labels) if labels else self._metric

    def get(self, **labels: str) -> float:
        return self._registry.get_sample_value(self._sample, {k: str(v) for k, v in labels.items()}) or 0.0


class Counter(_Metric):
    def inc(self, amount: float = 1, **labels: str) -> None:
        self._child(labels).inc(amount)  # type: ignore[attr-defined]


class Gauge(_Metric):
    def set(self, value: float, **labels: str) -> None:
        self._child(labels).set(value)  # type: ignore[attr-defined]


class Histogram(_Metric):
    def observe(self, value: float, **labels: str) -> None:
        self._child(labels).observe(value)  # type: ignore[attr-defined]


class Registry:
    def __init__(self) -> None:
        self.registry = prom.CollectorRegistry()

    def counter(self, name: str, help: str, labels: tuple[str, ...] = ()) -> Counter:
        """`name` ends in _total, as it is exported."""
        metric = prom.Counter(name.removesuffix("_total"), help, labels, registry=self.registry)
        return Counter(metric, self.registry, name)

    def gauge(self, name: str, help: str, labels: tuple[str, ...] = ()) -> Gauge:
        return Gauge(prom.Gauge(name, help, labels, registry=self.registry), self.registry, name)

    def histogram(self, name: str, help: str, labels: tuple[str, ...] = ()) -> Histogram:
        metric = prom.Histogram(name, help, labels, registry=self.registry, buckets=HISTOGRAM_BUCKETS)
        return Histogram(metric, self.registry, name + "_count")

    def render(self) -> str:
        return prom.generate_latest(self.registry).decode()
