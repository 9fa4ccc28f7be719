"""The erasure outbox: one row per consumer webhook and erasure, until delivered.

:func:`queue` runs inside the erasure's transaction, so an event is queued if and
only if the erasure committed; the rest is :mod:`c360.governance.outbox`'s delivery.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, insert, select, update

from c360.store.schema import erasure_outbox


@dataclass(frozen=True)
class Event:
    """An erasure event for one consumer's webhook, as queued."""

    erasure_id: str
    consumer: str
    url: str
    payload: str


@dataclass(frozen=True)
class Due:
    """A queued event due for a delivery attempt."""

    id: int
    consumer: str
    url: str
    payload: str
    attempts: int


@dataclass(frozen=True)
class DeliveryState:
    erasure_id: str
    consumer: str
    state: str  # pending | delivered
    attempts: int
    last_error: str | None


def queue(conn: Connection, events: Sequence[Event], *, at: dt.datetime) -> None:
    """Queue ``events`` as pending, due at ``at``, inside the caller's transaction."""
    if not events:
        return
    conn.execute(
        insert(erasure_outbox),
        [
            {
                "erasure_id": e.erasure_id,
                "consumer": e.consumer,
                "url": e.url,
                "payload": e.payload,
                "state": "pending",
                "attempts": 0,
                "next_attempt_at": at,
            }
            for e in events
        ],
    )


def due(conn: Connection, now: dt.datetime, limit: int) -> list[Due]:
    """The pending events due at ``now``, oldest first, at most ``limit``."""
    rows = conn.execute(
        select(
            erasure_outbox.c.id,
            erasure_outbox.c.consumer,
            erasure_outbox.c.url,
            erasure_outbox.c.payload,
            erasure_outbox.c.attempts,
        )
        .where(erasure_outbox.c.state == "pending", erasure_outbox.c.next_attempt_at <= now)
        .order_by(erasure_outbox.c.id)
        .limit(limit)
    ).all()
    return [Due(i, c, u, p, a) for i, c, u, p, a in rows]


def mark_delivered(conn: Connection, row_id: int, *, attempts: int, at: dt.datetime) -> None:
    conn.execute(
        update(erasure_outbox)
        .where(erasure_outbox.c.id == row_id)
        .values(state="delivered", attempts=attempts, delivered_at=at, last_error=None)
    )


def mark_failed(conn: Connection, row_id: int, *, attempts: int, error: str, retry_at: dt.datetime) -> None:
    conn.execute(
        update(erasure_outbox)
        .where(erasure_outbox.c.id == row_id)
        .values(attempts=attempts, last_error=error, next_attempt_at=retry_at)
    )


def delivery_states(conn: Connection) -> list[DeliveryState]:
    """The delivery state of every queued event."""
    rows = conn.execute(
        select(
            erasure_outbox.c.erasure_id,
            erasure_outbox.c.consumer,
            erasure_outbox.c.state,
            erasure_outbox.c.attempts,
            erasure_outbox.c.last_error,
        )
    )
    return [DeliveryState(e, c, s, a, err) for e, c, s, a, err in rows]
