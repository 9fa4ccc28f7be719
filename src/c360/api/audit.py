"""Read auditing: every read of a customer's fields is recorded (who, whom, which fields, how).

Each read is handed to a writer process before it is answered
(:class:`c360.governance.audit_writer.ProcessReadAuditor`), which commits them in batches and
outlives a worker that is killed. Turning it off (``C360_READ_AUDIT=off``) exists to measure
what auditing costs; a server started that way says so in its log, loudly.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any, Protocol

from c360.governance.audit import ReadAuditor
from c360.governance.audit_writer import ProcessReadAuditor
from c360.store import Store

log = logging.getLogger("c360.api")


class ReadAudit(Protocol):
    def record(self, consumer: str, customer_id: str, fields: Sequence[str], mode: str) -> None: ...

    def record_many(self, consumer: str, customer_ids: Sequence[str], fields: Sequence[str], mode: str) -> None: ...


class NoReadAudit:
    """Reads pass through unrecorded (benchmarks of the audit's own cost only)."""

    def record(self, consumer: str, customer_id: str, fields: Sequence[str], mode: str) -> None:
        return None

    def record_many(self, consumer: str, customer_ids: Sequence[str], fields: Sequence[str], mode: str) -> None:
        return None


def read_auditor(store: Store) -> Any:
    if os.environ.get("C360_READ_AUDIT", "on").lower() in ("off", "0", "false", "no"):
        log.warning("read auditing is OFF (C360_READ_AUDIT=off): reads of customers are not recorded")
        return NoReadAudit()
    if os.environ.get("C360_READ_AUDIT") == "in-process":
        return ReadAuditor(store)
    # The chaining and writing happen in a writer process, off the serving process's GIL.
    return ProcessReadAuditor(store, interval=flush_interval())


DEFAULT_FLUSH_INTERVAL = 0.2


def flush_interval() -> float:
    """Seconds between commits of the read audit (``C360_READ_AUDIT_INTERVAL``, default 0.2).

    A read is committed within this time and the commit's own (see :func:`loss_window`).
    Shorter costs the latency tail: each commit's work runs beside the server on the same
    cores, and fewer, larger commits disturb fewer requests.
    """
    raw = os.environ.get("C360_READ_AUDIT_INTERVAL", "")
    if not raw:
        return DEFAULT_FLUSH_INTERVAL
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0.001 <= value <= 60:
        raise ValueError(f"C360_READ_AUDIT_INTERVAL={raw!r}: expected seconds between 0.001 and 60, e.g. 0.2")
    return value


def loss_window() -> float:
    """Seconds of answered reads lost if a worker and its writer are killed together (2 × the interval).

    A read waits in the writer for the next commit, up to one interval, plus the commit in
    progress when it arrived and its own, the two taken to last no longer than another. Killing
    a worker alone (or its whole process group) loses none: its writer commits what it holds,
    then exits.
    """
    return 2 * flush_interval()


def close_auditor(auditor: Any) -> None:
    """Flush what a batched auditor still holds."""
    for name in ("close", "flush"):
        fn = getattr(auditor, name, None)
        if callable(fn):
            fn()
            return
