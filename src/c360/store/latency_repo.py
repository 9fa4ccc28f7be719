"""Serving latency over time: what each API worker recorded per interval, and the series the charts draw.

A worker writes one row per consumer for each interval in which it answered that consumer's
reads (:func:`record`); :func:`series` merges the workers' rows into one point per bucket of
time, with the reads summed and the **slowest worker's p99** (a p99 cannot be averaged, and
an SLA is broken by the worker that is slow, not by the mean of them). :func:`prune` drops
rows past the retention.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import delete, insert, select

from c360.store.schema import latency_history
from c360.store.timestamps import aware

if TYPE_CHECKING:
    from c360.store.store import Store


@dataclass(frozen=True)
class LatencyRow:
    """One worker's reads of one consumer over one interval ending at ``at``."""

    at: dt.datetime
    consumer: str
    worker: str
    seconds: float
    reads: int
    p50_ms: float
    p99_ms: float
    max_ms: float


@dataclass(frozen=True)
class LatencyPoint:
    """One bucket of a consumer's series: all workers' reads, the slowest worker's p99 and maximum."""

    at: dt.datetime  # the bucket's end
    reads: int
    p99_ms: float
    max_ms: float


def record(store: Store, rows: Sequence[LatencyRow]) -> None:
    if not rows:
        return
    with store.engine.begin() as conn:
        conn.execute(
            insert(latency_history),
            [
                {
                    "at": r.at,
                    "consumer": r.consumer,
                    "worker": r.worker,
                    "seconds": r.seconds,
                    "reads": r.reads,
                    "p50_ms": r.p50_ms,
                    "p99_ms": r.p99_ms,
                    "max_ms": r.max_ms,
                }
                for r in rows
            ],
        )


def series(
    store: Store, consumer: str, since: dt.datetime, *, bucket_seconds: float = 60.0, limit: int = 5000
) -> list[LatencyPoint]:
    """``consumer``'s latency since ``since``, oldest first, one point per ``bucket_seconds``.

    Rows are bucketed by their end time; at most the newest ``limit`` rows are read.
    """
    if bucket_seconds <= 0:
        raise ValueError(f"bucket_seconds must be positive, got {bucket_seconds}")
    q = (
        select(latency_history.c.at, latency_history.c.reads, latency_history.c.p99_ms, latency_history.c.max_ms)
        .where(latency_history.c.consumer == consumer, latency_history.c.at >= since)
        .order_by(latency_history.c.at.desc())
        .limit(limit)
    )
    buckets: dict[int, list[tuple[int, float, float]]] = {}
    with store.engine.connect() as conn:
        for at, reads, p99, top in conn.execute(q):
            n = int(-(-aware(at).timestamp() // bucket_seconds))  # the bucket this interval ends in
            buckets.setdefault(n, []).append((int(reads), float(p99), float(top)))
    return [
        LatencyPoint(
            dt.datetime.fromtimestamp(n * bucket_seconds, dt.UTC),
            sum(r for r, _, _ in rows),
            max(p for _, p, _ in rows),
            max(m for _, _, m in rows),
        )
        for n, rows in sorted(buckets.items())
    ]


def prune(store: Store, before: dt.datetime) -> int:
    """Delete rows that ended before ``before``; returns how many."""
    with store.engine.begin() as conn:
        return int(conn.execute(delete(latency_history).where(latency_history.c.at < before)).rowcount or 0)
