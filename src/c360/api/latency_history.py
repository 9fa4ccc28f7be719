"""Each worker's serving latency, written to the store once per interval, for the SLA charts over time.

Every ``C360_LATENCY_HISTORY_SECONDS`` (default 60; ``0`` turns it off) a thread takes the reads
the worker answered since the last write (:meth:`LatencyRecorder.since_last`) and writes one
row per consumer read: reads, p50, p99 and maximum. An idle worker writes nothing. Rows older
than ``C360_LATENCY_HISTORY_DAYS`` (default 30) are pruned, at most once an hour. A store that
cannot be written loses that interval's row, logs it once, and is tried again next interval;
serving never waits on it. On shutdown the last partial interval is written.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
import socket
import threading
import time
from collections.abc import Callable

from c360.core.clock import utcnow
from c360.governance.sla import LatencyRecorder
from c360.store import Store
from c360.store.latency_repo import LatencyRow, prune, record

log = logging.getLogger("c360.api")
DEFAULT_SECONDS = 60.0
DEFAULT_DAYS = 30.0
PRUNE_EVERY = 3600.0


def _setting(name: str, default: float, low: float, high: float, example: str) -> float:
    raw = os.environ.get(name, "")
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (value == 0 or low <= value <= high):
        raise ValueError(f"{name}={raw!r}: expected 0 (off) or a number from {low:g} to {high:g}, e.g. {example}")
    return value


def interval_seconds() -> float:
    """``C360_LATENCY_HISTORY_SECONDS``: seconds between writes (0: no history)."""
    return _setting("C360_LATENCY_HISTORY_SECONDS", DEFAULT_SECONDS, 0.05, 86400, "60")


def retention_days() -> float:
    """``C360_LATENCY_HISTORY_DAYS``: days of history kept (0: kept for ever)."""
    return _setting("C360_LATENCY_HISTORY_DAYS", DEFAULT_DAYS, 0.01, 3650, "30")


def _quantile(ordered: list[float], q: float) -> float:
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


def rows_of(
    taken: dict[str, tuple[int, list[float]]], at: dt.datetime, seconds: float, worker: str
) -> list[LatencyRow]:
    """The rows of one interval's reads (latencies in seconds → milliseconds)."""
    out = []
    for consumer, (reads, samples) in sorted(taken.items()):
        if not samples:
            continue
        ordered = sorted(s * 1000.0 for s in samples)
        out.append(
            LatencyRow(
                at, consumer, worker, seconds, reads, _quantile(ordered, 0.5), _quantile(ordered, 0.99), ordered[-1]
            )
        )
    return out


class LatencyHistory:
    """Writes a worker's latency per interval to the store (see the module's docstring)."""

    def __init__(
        self,
        store: Store,
        recorder: LatencyRecorder,
        *,
        seconds: float | None = None,
        days: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.recorder = recorder
        self.seconds = interval_seconds() if seconds is None else seconds
        self.days = retention_days() if days is None else days
        self.worker = f"{socket.gethostname()}:{os.getpid()}"[:96]
        self._clock = clock
        self._since = clock()
        self._pruned = -math.inf
        self._failing = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.seconds > 0 and self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="c360-latency-history", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the thread and write the last partial interval."""
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join(timeout=5)
        self._thread = None
        self.flush()

    def _loop(self) -> None:
        while not self._stop.wait(self.seconds):
            self.flush()

    def flush(self) -> int:
        """Write what was read since the last flush; returns the rows written."""
        now = self._clock()
        taken = self.recorder.since_last()
        rows = rows_of(taken, utcnow(), max(now - self._since, 0.0), self.worker)
        self._since = now
        try:
            record(self.store, rows)
            if self.days > 0 and now - self._pruned >= PRUNE_EVERY:
                prune(self.store, utcnow() - dt.timedelta(days=self.days))
                self._pruned = now
        except Exception as exc:  # the history must never stop serving
            if not self._failing:
                log.warning("latency history not written (tried again every %gs): %s", self.seconds, exc)
            self._failing = True
            return 0
        self._failing = False
        return len(rows)
