"""The last build as Prometheus metrics: pushed by ``c360 build``, rendered by the server's ``/metrics``.

Both read the same thing: the store's ``runs`` table, where every build records its summary
(seconds per stage, records staged and quarantined per source, customers, identity events) when
it finishes. ``c360 build`` pushes them to a Pushgateway when ``C360_PUSHGATEWAY_URL`` is set
(job ``c360_build``, grouped by product); the server renders them at scrape time, so every
replica reports the same last build without a Pushgateway.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from c360.core import jsonutil, logs
from c360.spec.validate import Spec
from c360.store import Store, runs

_LOG = logging.getLogger("c360.build")
PUSH_JOB = "c360_build"


@dataclass(frozen=True)
class BuildRun:
    run_id: str
    status: str
    finished_ts: float
    summary: dict[str, Any]


def _run(row: Any) -> BuildRun:
    try:
        summary = jsonutil.loads(row.summary or "{}")
    except ValueError:
        summary = {}
    finished = row.finished_at or row.started_at
    if finished.tzinfo is None:
        import datetime as dt

        finished = finished.replace(tzinfo=dt.UTC)
    return BuildRun(row.run_id, row.status, finished.timestamp(), summary if isinstance(summary, dict) else {})


def last_builds(store: Store) -> tuple[BuildRun | None, BuildRun | None]:
    """The last finished build (succeeded or failed), and the last that succeeded."""
    last, ok = runs.last_finished(store, "build", ("succeeded", "failed"))
    return (_run(last) if last is not None else None, _run(ok) if ok is not None else None)


def families(last: BuildRun | None, ok: BuildRun | None) -> list[Any]:
    """The metric families of the last build (its stages and counts) and of the last success."""
    out: list[Any] = []
    success = GaugeMetricFamily(
        "c360_build_last_success_timestamp_seconds", "When the last successful build finished (Unix time)"
    )
    if ok is not None:
        success.add_metric([], ok.finished_ts)
    out.append(success)
    if last is None:
        return out
    s = last.summary
    g = GaugeMetricFamily("c360_build_last_run_timestamp_seconds", "When the last build finished (Unix time)")
    g.add_metric([], last.finished_ts)
    out.append(g)
    g = GaugeMetricFamily("c360_build_last_run_succeeded", "1 when the last build succeeded, else 0")
    g.add_metric([], 1.0 if last.status == "succeeded" else 0.0)
    out.append(g)
    seconds = {k: float(v) for k, v in (s.get("seconds") or {}).items()}
    g = GaugeMetricFamily("c360_build_duration_seconds", "Duration of the last build (its stages summed)")
    g.add_metric([], sum(seconds.values()))
    out.append(g)
    g = GaugeMetricFamily(
        "c360_build_stage_duration_seconds", "Duration of each stage of the last build", labels=["stage"]
    )
    for stage, secs in seconds.items():
        g.add_metric([stage], secs)
    out.append(g)
    g = GaugeMetricFamily(
        "c360_build_source_records", "Records read from each source by the last build", labels=["source"]
    )
    for source, n in (s.get("staged") or {}).items():
        g.add_metric([source], float(n))
    out.append(g)
    g = GaugeMetricFamily(
        "c360_build_quarantined_records", "Records the last build quarantined, per source", labels=["source"]
    )
    for source, n in (s.get("quarantined") or {}).items():
        g.add_metric([source], float(n))
    out.append(g)
    g = GaugeMetricFamily("c360_build_customers", "Customers in the last build's snapshot")
    g.add_metric([], float(s.get("customers") or 0))
    out.append(g)
    g = GaugeMetricFamily("c360_build_identity_events", "Identity events of the last build, per kind", labels=["kind"])
    for kind, n in (s.get("identity_events") or {}).items():
        g.add_metric([kind], float(n))
    out.append(g)
    return out


class BuildCollector(Collector):
    """The last build, read from the store at each collection."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def collect(self) -> Iterator[Any]:
        try:
            last, ok = last_builds(self._store)
        except Exception:  # a scrape never fails for the store; the server reports that elsewhere
            _LOG.warning("could not read the last build from the store", exc_info=False)
            return
        yield from families(last, ok)


def push_build_metrics(spec: Spec, store: Store, run_id: str) -> bool:
    """Push the build's metrics to ``C360_PUSHGATEWAY_URL``, if set; a failed push is logged, not raised."""
    url = os.environ.get("C360_PUSHGATEWAY_URL")
    if not url:
        return False
    from prometheus_client import push_to_gateway

    registry = CollectorRegistry()
    registry.register(BuildCollector(store))
    try:
        push_to_gateway(url, job=PUSH_JOB, registry=registry, grouping_key={"product": spec.model.product}, timeout=10)
    except Exception as exc:
        logs.event(_LOG, "build metrics not pushed", logging.WARNING, run_id=run_id, error=type(exc).__name__)
        return False
    logs.event(_LOG, "build metrics pushed", run_id=run_id)
    return True
