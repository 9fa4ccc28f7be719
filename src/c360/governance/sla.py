"""Subscriptions' SLAs, measured: freshness from data age, latency from reads, purpose drift.

The API feeds :class:`LatencyRecorder` (``observe(consumer, seconds)`` per answered read)
and :class:`PurposeDrift` (``record(consumer, fields)`` per read); :func:`evaluate` turns
those, the store's sync times and the snapshot's age into one status per subscription. It is
the one evaluation behind ``/``, ``GET /v1/subscriptions``, ``/metrics``, ``c360
subscriptions`` and ``c360 docs``.

A latency SLA is judged on the reads of a recent window (``C360_SLA_WINDOW_SECONDS``, default
300 s, at most :data:`WINDOW` reads), and only once that window holds ``C360_SLA_MIN_SAMPLES``
reads (default 100, the fewest for which a p99 is not simply the slowest read): one slow read
neither turns a subscription red on its own nor keeps it red once it has aged out. Until then
the observed p99 is shown, and ``latency_ok`` is None. Latency is measured by each server
process; the command line, which serves no reads, reports freshness and leaves latency
unjudged.

Version lifecycle for consumers pinned to an earlier major lives here too:
:func:`lifecycle_headers` gives the ``Deprecation``/``Sunset`` headers (RFC 9745 / RFC 8594)
to add to their responses, and :func:`sunset_error` the message once the sunset has passed.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any, Literal

from c360.core.clock import utcnow
from c360.spec.expressions import ExpressionError, column_refs, parse_expression
from c360.spec.models import ProductSpec, SubscriptionSpec, duration_seconds

if TYPE_CHECKING:
    from c360.store import Store

WINDOW = 10_000  # latency samples kept per consumer (the most recent)
WINDOW_SECONDS = 300.0  # latency SLAs are judged over the reads of the last five minutes ...
MIN_SAMPLES = 100  # ... once there are this many


def _env_number(name: str, default: float) -> float:
    try:
        value = float(os.environ.get(name) or default)
    except ValueError:
        return default
    return value if value > 0 else default


class LatencyRecorder:
    """Recent serving latencies per consumer; thread-safe, bounded memory.

    >>> r = LatencyRecorder()
    >>> for ms in range(1, 101): r.observe("support", ms / 1000)
    >>> round(r.p99("support") * 1000)
    99
    """

    def __init__(
        self,
        window: int = WINDOW,
        *,
        window_seconds: float | None = None,
        min_samples: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._window = window
        self.window_seconds = window_seconds or _env_number("C360_SLA_WINDOW_SECONDS", WINDOW_SECONDS)
        self.min_samples = int(min_samples or _env_number("C360_SLA_MIN_SAMPLES", MIN_SAMPLES))
        self._clock = clock
        self._samples: dict[str, deque[tuple[float, float]]] = {}
        self._counts: Counter[str] = Counter()
        self._reported: dict[str, int] = {}  # reads handed out by since_last
        self._lock = threading.Lock()

    def observe(self, consumer: str, seconds: float) -> None:
        now = self._clock()
        with self._lock:
            q = self._samples.get(consumer)
            if q is None:
                q = self._samples[consumer] = deque(maxlen=self._window)
            q.append((now, seconds))
            self._counts[consumer] += 1

    def recent(self, consumer: str) -> list[float]:
        """The latencies of the window (the last ``window_seconds``, at most ``window`` reads)."""
        cutoff = self._clock() - self.window_seconds
        with self._lock:
            return [s for t, s in self._samples.get(consumer, ()) if t >= cutoff]

    def quantile(self, consumer: str, q: float) -> float | None:
        """The ``q`` quantile (nearest rank) of the window's samples, in seconds; None without samples."""
        samples = sorted(self.recent(consumer))
        if not samples:
            return None
        rank = max(1, math.ceil(q * len(samples)))
        return samples[rank - 1]

    def p99(self, consumer: str) -> float | None:
        return self.quantile(consumer, 0.99)

    def judged(self, consumer: str) -> tuple[float | None, int]:
        """The window's p99 (None without samples) and how many reads it holds."""
        samples = sorted(self.recent(consumer))
        if not samples:
            return None, 0
        return samples[max(1, math.ceil(0.99 * len(samples))) - 1], len(samples)

    def since_last(self) -> dict[str, tuple[int, list[float]]]:
        """Per consumer read since the previous call: (reads, their latencies in seconds).

        The latencies are those still kept (the newest ``window``); the count is every read.
        Consumers without a read since the previous call are left out, so an idle server
        yields nothing to record.
        """
        out: dict[str, tuple[int, list[float]]] = {}
        with self._lock:
            for consumer, q in self._samples.items():
                reads = self._counts[consumer] - self._reported.get(consumer, 0)
                if reads <= 0:
                    continue
                self._reported[consumer] = self._counts[consumer]
                out[consumer] = (reads, [s for _, s in list(q)[-min(reads, len(q)) :]])
        return out

    def count(self, consumer: str) -> int:
        """Reads observed since start (not only those in the window)."""
        with self._lock:
            return self._counts[consumer]

    def consumers(self) -> list[str]:
        with self._lock:
            return sorted(self._samples)


class PurposeDrift:
    """Counts reads of fields outside every subscription of the reading consumer.

    A consumer granted a field it never declared a purpose for may still read it; each such
    read is counted per (consumer, field) so the owner can ask why.
    """

    def __init__(self, product: ProductSpec) -> None:
        self._declared: dict[str, frozenset[str]] = {}
        for s in product.subscriptions:
            self._declared[s.consumer] = self._declared.get(s.consumer, frozenset()) | set(s.fields)
        self._counts: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()

    def record(self, consumer: str, fields: Iterable[str]) -> int:
        """Count a read of ``fields`` by ``consumer``; returns how many are unsubscribed."""
        declared = self._declared.get(consumer, frozenset())
        outside = [f for f in fields if f != "customer_id" and f not in declared]
        if outside:
            with self._lock:
                for f in outside:
                    self._counts[(consumer, f)] += 1
        return len(outside)

    def counts(self) -> dict[tuple[str, str], int]:
        with self._lock:
            return dict(self._counts)

    def total(self, consumer: str) -> int:
        with self._lock:
            return sum(n for (c, _), n in self._counts.items() if c == consumer)


@dataclass(frozen=True)
class SubscriptionStatus:
    consumer: str
    purpose: str
    fields: tuple[str, ...]
    major: int | None
    freshness: str | None
    age_seconds: float | None  # age of the oldest data the subscribed fields are built from
    freshness_ok: bool | None  # None when there is no SLA or nothing published
    latency_p99_ms: float | None  # the SLA
    observed_p99_ms: float | None
    latency_ok: bool | None  # None when there is no SLA or no measurement yet
    samples: int
    drift: int
    violations: tuple[str, ...] = field(default=())
    window_samples: int = 0  # reads in the window the latency SLA is judged on
    min_samples: int = 0  # reads the window must hold before the latency SLA is judged

    @property
    def compliant(self) -> bool:
        return not self.violations

    def as_dict(self) -> dict[str, Any]:
        return {
            "consumer": self.consumer,
            "purpose": self.purpose,
            "fields": list(self.fields),
            "major": self.major,
            "freshness": self.freshness,
            "age_seconds": self.age_seconds,
            "freshness_ok": self.freshness_ok,
            "latency_p99_ms": self.latency_p99_ms,
            "observed_p99_ms": self.observed_p99_ms,
            "latency_ok": self.latency_ok,
            "samples": self.samples,
            "window_samples": self.window_samples,
            "min_samples": self.min_samples,
            "purpose_drift": self.drift,
            "compliant": self.compliant,
            "violations": list(self.violations),
        }


def sources_of(product: ProductSpec, fields: Iterable[str]) -> set[str]:
    out: set[str] = set()
    for f in fields:
        spec = product.fields.get(f)
        if spec is None:
            continue
        try:
            out |= {r.source for r in column_refs(parse_expression(spec.expr))}
        except ExpressionError:
            continue
    return out


def data_age(
    product: ProductSpec,
    sub: SubscriptionSpec,
    built_at: dt.datetime | None,
    sync_times: Mapping[str, dt.datetime],
    now: dt.datetime,
) -> float | None:
    """Seconds since the oldest data behind ``sub``'s fields was fetched, as served now.

    A source synced after the served snapshot was built does not make it fresher: the
    snapshot holds what was fetched before it was built.
    """
    if built_at is None:
        return None
    oldest = built_at
    for source in sources_of(product, sub.fields):
        synced = sync_times.get(source)
        if synced is not None:
            oldest = min(oldest, synced)
    return max(0.0, (now - oldest).total_seconds())


def compliance(
    product: ProductSpec,
    *,
    built_at: dt.datetime | None,
    sync_times: Mapping[str, dt.datetime],
    latency: LatencyRecorder | None = None,
    drift: PurposeDrift | None = None,
    now: dt.datetime | None = None,
) -> list[SubscriptionStatus]:
    """One status per subscription: freshness from the served snapshot, latency from observation."""
    now = now or utcnow()
    out = []
    for sub in product.subscriptions:
        violations = []
        age = data_age(product, sub, built_at, sync_times, now)
        fresh_ok: bool | None = None
        if sub.freshness is not None:
            if age is None:
                fresh_ok = False
                violations.append("nothing published yet")
            else:
                fresh_ok = age <= duration_seconds(sub.freshness)
                if not fresh_ok:
                    violations.append(f"data is {_human(age)} old; the SLA is {sub.freshness}")
        p99, in_window = latency.judged(sub.consumer) if latency is not None else (None, 0)
        p99_ms = p99 * 1000 if p99 is not None else None
        lat_ok: bool | None = None
        needed = latency.min_samples if latency is not None else 0
        if sub.latency_p99_ms is not None and p99_ms is not None and in_window >= needed:
            lat_ok = p99_ms <= sub.latency_p99_ms
            if not lat_ok:
                violations.append(f"p99 latency {p99_ms:.1f} ms exceeds the SLA of {sub.latency_p99_ms:g} ms")
        out.append(
            SubscriptionStatus(
                sub.consumer,
                sub.purpose,
                tuple(sub.fields),
                sub.major,
                sub.freshness,
                age,
                fresh_ok,
                sub.latency_p99_ms,
                p99_ms,
                lat_ok,
                latency.count(sub.consumer) if latency is not None else 0,
                drift.total(sub.consumer) if drift is not None else 0,
                tuple(violations),
                in_window,
                needed,
            )
        )
    return out


def evaluate(
    product: ProductSpec,
    store: Store,
    *,
    built_at: dt.datetime | Literal["published"] | None = "published",
    latency: LatencyRecorder | None = None,
    drift: PurposeDrift | None = None,
    now: dt.datetime | None = None,
) -> list[SubscriptionStatus]:
    """Every subscription's compliance, as ``/``, ``/metrics``, the API and the CLI all judge it.

    Freshness from the store's sync times and the snapshot's build time (``built_at``: the
    served snapshot's, as a server knows it; by default the store's published snapshot);
    latency from ``latency`` (a server's own reads), judged over its window once it holds
    enough samples; purpose drift from ``drift``.
    """
    if built_at == "published":
        snap = store.current_snapshot()
        built_at = snap.built_at if snap is not None else None
    return compliance(product, built_at=built_at, sync_times=store.sync_times(), latency=latency, drift=drift, now=now)


def _human(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"


# -- pinned majors: deprecation and sunset ---------------------------------------------------


def current_major(product: ProductSpec) -> int:
    return int(product.version.split(".")[0])


def pinned_major(product: ProductSpec, consumer: str) -> int | None:
    """The earlier major ``consumer`` is pinned to, if any (the lowest pin of its subscriptions)."""
    current = current_major(product)
    pins = [
        s.major for s in product.subscriptions if s.consumer == consumer and s.major is not None and s.major < current
    ]
    return min(pins) if pins else None


def sunset_at(date: dt.date) -> dt.datetime:
    # A sunset date means the version is served through that day (UTC).
    return dt.datetime.combine(date, dt.time(23, 59, 59), tzinfo=dt.UTC)


def lifecycle_headers(
    product: ProductSpec, consumer: str, *, deprecated_at: dt.datetime | None = None
) -> dict[str, str]:
    """Headers for a response served to ``consumer`` from an earlier major, else ``{}``.

    ``Deprecation`` is ``@<epoch>`` of ``deprecated_at`` when known (RFC 9745), else ``true``;
    ``Sunset`` is the HTTP-date after which the major is no longer served (RFC 8594).
    """
    major = pinned_major(product, consumer)
    if major is None:
        return {}
    headers = {
        "Deprecation": f"@{int(deprecated_at.timestamp())}" if deprecated_at else "true",
        "X-C360-Major": str(major),
        "Link": f'</v{current_major(product)}>; rel="successor-version"',
    }
    date = product.lifecycle.sunset.get(major)
    if date is not None:
        headers["Sunset"] = format_datetime(sunset_at(date), usegmt=True)
    return headers


def sunset_error(product: ProductSpec, consumer: str, *, now: dt.datetime | None = None) -> str | None:
    """The error for a consumer pinned to a major past its sunset; None while it is still served."""
    major = pinned_major(product, consumer)
    if major is None:
        return None
    date = product.lifecycle.sunset.get(major)
    if date is None or (now or utcnow()) <= sunset_at(date):
        return None
    return (
        f"major version {major} of {product.product} was sunset on {date.isoformat()}; "
        f"move consumer '{consumer}' to version {product.version} (major {current_major(product)}) "
        "and update its subscription's pin"
    )
