"""Consumers' API keys (``consumer_keys``): made, looked up, listed, rotated, revoked.

A key is stored only as its hash and shown once, when it is made. A change made on a person's
behalf (:class:`Audited`) commits in one transaction with its audit row, which names the key by
its prefix, never the key itself: either both are in the store or neither is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, and_, insert, select, update

from c360.core.clock import utcnow
from c360.core.ids import hash_key, key_prefix, new_api_key, shown_prefix
from c360.store import audit_repo
from c360.store.schema import consumer_keys
from c360.store.timestamps import aware

if TYPE_CHECKING:
    from c360.store.store import Store


@dataclass(frozen=True)
class Audited:
    """Who changes a consumer's keys, and the audit chain's MAC to record it with."""

    mac: audit_repo.Mac
    actor: str


@dataclass(frozen=True)
class KeyRow:
    id: int
    consumer: str
    prefix: str
    key_hash: str
    created_at: dt.datetime
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None


def _row(r: Any) -> KeyRow:
    return KeyRow(
        int(r.id),
        str(r.consumer),
        str(r.prefix),
        str(r.key_hash),
        aware(r.created_at),
        aware(r.expires_at) if r.expires_at is not None else None,
        aware(r.revoked_at) if r.revoked_at is not None else None,
    )


def _insert(conn: Connection, consumer: str, expires_at: dt.datetime | None) -> str:
    key = new_api_key(consumer)
    conn.execute(
        insert(consumer_keys).values(
            consumer=consumer,
            key_hash=hash_key(key),
            prefix=key_prefix(key, consumer),
            created_at=utcnow(),
            expires_at=expires_at,
        )
    )
    return key


def _audit(conn: Connection, by: Audited | None, kind: str, consumer: str, detail: Mapping[str, Any]) -> None:
    if by is not None:
        audit_repo.append(conn, by.mac, [audit_repo.Event(kind, by.actor, None, {"consumer": consumer, **detail})])


def shown(key: str, consumer: str) -> str:
    """A key's prefix as people are shown it (in lists, in the audit log)."""
    return shown_prefix(key_prefix(key, consumer), consumer)


def create(
    store: Store,
    consumer: str,
    *,
    expires_at: dt.datetime | None = None,
    by: Audited | None = None,
    note: Mapping[str, Any] | None = None,
) -> str:
    """A new key for ``consumer`` (audited as ``key_created``, with ``note``, when ``by`` is given)."""
    with store.engine.begin() as conn:
        key = _insert(conn, consumer, expires_at)
        _audit(conn, by, "key_created", consumer, {"prefix": shown(key, consumer), **(note or {})})
    return key


def rotate(
    store: Store,
    consumer: str,
    *,
    grace_hours: float = 0,
    expires_at: dt.datetime | None = None,
    by: Audited | None = None,
) -> tuple[str, int]:
    """A new key for ``consumer`` and its old keys retired, in one transaction with the audit row.

    The old keys are revoked now, or with ``grace_hours`` keep working that long (a key due to
    expire sooner keeps its earlier date). Returns the new key and how many old keys there were.
    """
    now = utcnow()
    with store.engine.begin() as conn:
        old = [
            int(i)
            for i in conn.execute(
                select(consumer_keys.c.id).where(
                    and_(consumer_keys.c.consumer == consumer, consumer_keys.c.revoked_at.is_(None))
                )
            ).scalars()
        ]
        if old and grace_hours > 0:
            until = now + dt.timedelta(hours=grace_hours)
            conn.execute(
                update(consumer_keys)
                .where(
                    consumer_keys.c.id.in_(old),
                    (consumer_keys.c.expires_at.is_(None) | (consumer_keys.c.expires_at > until)),
                )
                .values(expires_at=until)
            )
        elif old:
            conn.execute(update(consumer_keys).where(consumer_keys.c.id.in_(old)).values(revoked_at=now))
        key = _insert(conn, consumer, expires_at)
        detail = {"prefix": shown(key, consumer), "old_keys": len(old), "grace_hours": grace_hours}
        _audit(conn, by, "key_rotated", consumer, detail)
    return key, len(old)


def revoke(
    store: Store,
    consumer: str,
    *,
    pick: Callable[[Sequence[KeyRow]], int] | None = None,
    by: Audited | None = None,
    note: Mapping[str, Any] | None = None,
) -> int:
    """Revoke every active key of ``consumer``, or the one ``pick`` chooses among them; how many.

    ``pick`` is given the active keys and returns the id of the one to revoke (or raises, and
    nothing changes). Audited as ``key_revoked``, with ``note``, when ``by`` is given.
    """
    with store.engine.begin() as conn:
        active = and_(consumer_keys.c.consumer == consumer, consumer_keys.c.revoked_at.is_(None))
        which = active
        if pick is not None:
            rows = [_row(r) for r in conn.execute(select(consumer_keys).where(active).order_by(consumer_keys.c.id))]
            which = consumer_keys.c.id == pick(rows)
        n = int(conn.execute(update(consumer_keys).where(which).values(revoked_at=utcnow())).rowcount)
        _audit(conn, by, "key_revoked", consumer, {"keys": n, **(note or {})})
    return n


def listing(store: Store, consumer: str | None = None) -> list[KeyRow]:
    """Every key (of one consumer, if given), by consumer and age."""
    q = select(consumer_keys).order_by(consumer_keys.c.consumer, consumer_keys.c.id)
    if consumer is not None:
        q = q.where(consumer_keys.c.consumer == consumer)
    with store.engine.connect() as conn:
        return [_row(r) for r in conn.execute(q)]


def consumer_for_key(store: Store, key: str) -> str | None:
    """The consumer whose active (not revoked, not expired) key this is."""
    now = utcnow()
    with store.engine.connect() as conn:
        row = conn.execute(
            select(consumer_keys.c.consumer, consumer_keys.c.expires_at).where(
                consumer_keys.c.key_hash == hash_key(key), consumer_keys.c.revoked_at.is_(None)
            )
        ).first()
    if row is None or (row.expires_at is not None and aware(row.expires_at) <= now):
        return None
    return str(row.consumer)


def active_keys(store: Store) -> dict[str, tuple[str, dt.datetime | None]]:
    """key hash → (consumer, expiry) for every key not revoked."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(consumer_keys.c.key_hash, consumer_keys.c.consumer, consumer_keys.c.expires_at).where(
                consumer_keys.c.revoked_at.is_(None)
            )
        )
        return {h: (c, aware(e) if e else None) for h, c, e in rows}


def active_of(store: Store, consumer: str) -> list[tuple[str, dt.datetime | None]]:
    """(key hash, expiry) of each key of ``consumer`` not revoked (expired ones included)."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(consumer_keys.c.key_hash, consumer_keys.c.expires_at).where(
                consumer_keys.c.consumer == consumer, consumer_keys.c.revoked_at.is_(None)
            )
        ).all()
    return [(str(h), aware(e) if e is not None else None) for h, e in rows]
