"""A small Prometheus registry: counters, gauges and histograms with labels, text exposition 0.0.4.

Each service owns its registry (no global state); the HTTP thread renders it while the main loop updates
it, so every update takes the registry's lock.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field

LabelValues = tuple[str, ...]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(names: tuple[str, ...], values: LabelValues, extra: str = "") -> str:
    pairs = [f'{n}="{_escape(v)}"' for n, v in zip(names, values, strict=True)]
    if extra:
        pairs.append(extra)
    return "{" + ",".join(pairs) + "}" if pairs else ""


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


@dataclass
class _Metric:
    name: str
    help: str
    kind: str
    labelnames: tuple[str, ...]
    lock: threading.Lock
    values: dict[LabelValues, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.labelnames:
            self.values[()] = 0  # exported from the start, not only after the first event

    def _key(self, labels: dict[str, str]) -> LabelValues:
        return tuple(str(labels[n]) for n in self.labelnames)

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.kind}"]
        lines += [
            f"{self.name}{_labels(self.labelnames, k)} {_number(v)}" for k, v in sorted(self.values.items())
        ]
        return lines


class Counter(_Metric):
    def inc(self, amount: float = 1, **labels: str) -> None:
        key = self._key(labels)
        with self.lock:
            self.values[key] = self.values.get(key, 0) + amount

    def get(self, **labels: str) -> float:
        with self.lock:
            return self.values.get(self._key(labels), 0)


class Gauge(Counter):
    def set(self, value: float, **labels: str) -> None:
        with self.lock:
            self.values[self._key(labels)] = value


@dataclass
class Histogram(_Metric):
    buckets: tuple[float, ...] = (0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
    series: dict[LabelValues, list[float]] = field(default_factory=dict)

    def observe(self, value: float, **labels: str) -> None:
        key = self._key(labels)
        with self.lock:
            counts = self.series.setdefault(key, [0.0] * (len(self.buckets) + 2))
            for i, bound in enumerate(self.buckets):
                if value <= bound:
                    counts[i] += 1
            counts[-2] += value
            counts[-1] += 1

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} histogram"]
        for key, counts in sorted(self.series.items()):
            for bound, count in zip(
                (*self.buckets, math.inf), (*counts[: len(self.buckets)], counts[-1]), strict=True
            ):
                le = f'le="{_number(bound)}"'
                lines.append(f"{self.name}_bucket{_labels(self.labelnames, key, le)} {_number(count)}")
            lines.append(f"{self.name}_sum{_labels(self.labelnames, key)} {_number(counts[-2])}")
            lines.append(f"{self.name}_count{_labels(self.labelnames, key)} {_number(counts[-1])}")
        return lines


class Registry:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._metrics: list[_Metric] = []

    def _add(self, metric: _Metric) -> _Metric:
        self._metrics.append(metric)
        return metric

    def counter(self, name: str, help: str, labels: tuple[str, ...] = ()) -> Counter:
        return self._add(Counter(name, help, "counter", labels, self._lock))  # type: ignore[return-value]

    def gauge(self, name: str, help: str, labels: tuple[str, ...] = ()) -> Gauge:
        return self._add(Gauge(name, help, "gauge", labels, self._lock))  # type: ignore[return-value]

    def histogram(self, name: str, help: str, labels: tuple[str, ...] = ()) -> Histogram:
        return self._add(Histogram(name, help, "histogram", labels, self._lock))  # type: ignore[return-value]

    def render(self) -> str:
        with self._lock:
            lines = [line for metric in self._metrics for line in metric.render()]
        return "\n".join(lines) + "\n"
