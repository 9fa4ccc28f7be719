"""Prometheus metrics: latency per consumer and mode, errors, the served snapshot's age, the last build.

With several worker processes set ``PROMETHEUS_MULTIPROC_DIR`` (``c360 serve`` does): each
worker writes its samples there and ``/metrics`` aggregates them all.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

BUCKETS = (0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class _SnapshotCollector(Collector):
    def __init__(self, snapshot: Callable[[], tuple[int, float]]) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterator[Any]:
        version, built = self._snapshot()
        age = GaugeMetricFamily("c360_snapshot_age_seconds", "Seconds since the served snapshot was built")
        age.add_metric([], time.time() - built if version else float("nan"))
        yield age
        v = GaugeMetricFamily("c360_snapshot_version", "The served snapshot version")
        v.add_metric([], float(version))
        yield v


class _SlaCollector(Collector):
    """Subscriptions' compliance, computed at scrape time from measurements and data age."""

    def __init__(self, statuses: Callable[[], list[Any]]) -> None:
        self._statuses = statuses

    def collect(self) -> Iterator[Any]:
        ok = GaugeMetricFamily(
            "c360_subscription_compliant",
            "1 when the subscription meets its SLAs, else 0",
            labels=["consumer", "purpose"],
        )
        age = GaugeMetricFamily(
            "c360_subscription_data_age_seconds",
            "Age of the oldest data behind the subscription's fields",
            labels=["consumer", "purpose"],
        )
        drift = CounterMetricFamily(
            "c360_purpose_drift_reads",  # exposed as c360_purpose_drift_reads_total
            "Reads of fields outside the consumer's subscriptions",
            labels=["consumer"],
        )
        seen = set()
        for s in self._statuses():
            ok.add_metric([s.consumer, s.purpose], 1.0 if s.compliant else 0.0)
            if s.age_seconds is not None:
                age.add_metric([s.consumer, s.purpose], s.age_seconds)
            if s.consumer not in seen:
                seen.add(s.consumer)
                drift.add_metric([s.consumer], float(s.drift))
        yield ok
        yield age
        yield drift


class Metrics:
    def __init__(
        self,
        snapshot: Callable[[], tuple[int, float]],
        sla: Callable[[], list[Any]] | None = None,
        build: Collector | None = None,
    ) -> None:
        self.multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        # One registry per app (tests build many apps in one process); in multiprocess mode the
        # samples go to files and are collected at scrape time instead.
        self.registry = CollectorRegistry()
        target = None if self.multiprocess else self.registry
        self.latency = Histogram(
            "c360_request_duration_seconds",
            "Request latency",
            ["consumer", "mode", "route"],
            buckets=BUCKETS,
            registry=target,
        )
        self.errors = Counter(
            "c360_request_errors_total",
            "Requests answered with an error",
            ["consumer", "route", "status"],
            registry=target,
        )
        self._children: dict[tuple[str, str, str], Any] = {}
        self._snapshot = _SnapshotCollector(snapshot)
        self._sla = _SlaCollector(sla) if sla is not None else None
        self._build = build  # the last build, read from the store at scrape time
        if not self.multiprocess:
            self.registry.register(self._snapshot)
            if self._sla is not None:
                self.registry.register(self._sla)
            if self._build is not None:
                self.registry.register(self._build)

    def observe(self, consumer: str, mode: str, route: str, status: int, seconds: float) -> None:
        key = (consumer, mode, route)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self.latency.labels(consumer, mode, route)
        child.observe(seconds)
        if status >= 400:
            self.errors.labels(consumer, route, str(status)).inc()

    def render(self) -> bytes:
        if not self.multiprocess:
            return bytes(generate_latest(self.registry))
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        registry.register(self._snapshot)
        if self._sla is not None:
            registry.register(self._sla)
        if self._build is not None:
            registry.register(self._build)
        return bytes(generate_latest(registry))
