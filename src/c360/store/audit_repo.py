"""The audit log's tables (``audit_log``, ``audit_head``): the hash chain appended and read back.

Only this module reads or writes them. Rows are appended inside the caller's transaction,
so a change and its audit row commit or roll back together. The chain's key is not the
store's: appenders pass its MAC (bytes → hex digest), which :mod:`c360.governance.audit`
derives from configuration.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, select

from c360.core import jsonutil
from c360.core.clock import utcnow
from c360.store.schema import audit_head, audit_log

if TYPE_CHECKING:
    from c360.store.store import Store

GENESIS = "0" * 64
SEP_TEXT = "\x1f"

# The chain's MAC: the canonical bytes of a row (and the previous hash) → its hex digest.
Mac = Callable[[bytes], str]
# (at, kind, actor, subject, detail as JSON text)
Item = tuple[str, str, str, str | None, str]
# (seq, at, kind, actor, subject, detail, prev_hash, hash)
Row = tuple[int, str, str, str, str | None, str, str, str]


@dataclass(frozen=True)
class Event:
    kind: str
    actor: str
    subject: str | None
    detail: dict[str, Any] | str  # a str is the detail already serialised (as jsonutil.dumps does)
    at: str = ""


def stamp(ts: dt.datetime) -> str:
    """A time as the audit log writes it: ISO 8601 UTC text to the microsecond (compared as text)."""
    return ts.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def content_text(at: str, kind: str, actor: str, subject: str | None, detail: str) -> str:
    """The canonical text a row's MAC covers (with the previous hash appended), before encoding."""
    return SEP_TEXT.join((at, kind, actor, subject or "", detail))


_LOCK_SQL = f"UPDATE {audit_head.name} SET seq = seq WHERE id = 1"
_HEAD_SQL = f"SELECT seq, hash FROM {audit_head.name} WHERE id = 1"
_COLUMNS = "seq, at, kind, actor, subject, detail, prev_hash, hash"


def lock(conn: Connection) -> None:
    """Take the chain's write lock inside the caller's transaction (held until it ends)."""
    conn.exec_driver_sql(_LOCK_SQL)


def append(conn: Connection, mac: Mac, events: Sequence[Event]) -> int:
    """Append ``events`` in order inside ``conn``'s transaction; the sequence number of the last."""
    now = stamp(utcnow())
    return append_items(
        conn,
        mac,
        [
            (
                e.at or now,
                e.kind,
                e.actor,
                e.subject,
                e.detail if isinstance(e.detail, str) else jsonutil.dumps(e.detail).decode(),
            )
            for e in events
        ],
    )


def append_items(conn: Connection, mac: Mac, items: Sequence[Item]) -> int:
    """Chain and write ``items`` after the head, under the chain's lock, in ``conn``'s transaction.

    Plain driver SQL throughout: reads are audited by the thousand, and building SQLAlchemy
    statements and parameters per flush and per row cost the writer more than the rows did.
    """
    conn.exec_driver_sql(_LOCK_SQL)
    seq, prev = conn.exec_driver_sql(_HEAD_SQL).one()
    seq = int(seq)
    rows: list[tuple[Any, ...]] = []
    for at, kind, actor, subject, detail in items:
        seq += 1
        h = mac((content_text(at, kind, actor, subject, detail) + prev).encode())  # content + prev, encoded once
        rows.append((seq, at, kind, actor, subject, detail, prev, h))
        prev = h
    # PostgreSQL takes a batch by COPY, which costs both sides a fraction of row-by-row inserts.
    driver = conn.connection.driver_connection
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    if conn.dialect.name == "postgresql" and len(rows) > 1 and driver is not None:
        with driver.cursor() as cur, cur.copy(f"COPY {audit_log.name} ({_COLUMNS}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    else:
        sql = f"INSERT INTO {audit_log.name} ({_COLUMNS}) VALUES ({', '.join([mark] * 8)})"
        for i in range(0, len(rows), 5000):
            conn.exec_driver_sql(sql, rows[i : i + 5000])
    conn.exec_driver_sql(f"UPDATE {audit_head.name} SET seq = {mark}, hash = {mark} WHERE id = 1", (seq, prev))
    return seq


# -- reading ------------------------------------------------------------------------------------


def head(conn: Connection) -> tuple[int, str] | None:
    """The chain's head (its last row's sequence number and hash), or None when the row is gone."""
    row = conn.execute(select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)).first()
    return None if row is None else (int(row[0]), str(row[1]))


def rows(conn: Connection) -> Iterator[Row]:
    """Every row of the chain in sequence order, streamed."""
    result = conn.execution_options(stream_results=True, yield_per=20_000).execute(
        select(
            audit_log.c.seq,
            audit_log.c.at,
            audit_log.c.kind,
            audit_log.c.actor,
            audit_log.c.subject,
            audit_log.c.detail,
            audit_log.c.prev_hash,
            audit_log.c.hash,
        ).order_by(audit_log.c.seq)
    )
    for row in result:
        yield tuple(row)  # type: ignore[misc, unused-ignore]


def seq_of_hash(conn: Connection, h: str) -> int | None:
    """The sequence number of the row whose hash is ``h``, if any."""
    owner = conn.execute(select(audit_log.c.seq).where(audit_log.c.hash == h)).scalar()
    return int(owner) if owner is not None else None


def newest(
    store: Store,
    *,
    actor: str = "",
    kind: str = "",
    since: str | None = None,
    until: str | None = None,
    before: int | None = None,
    limit: int = 100,
) -> list[tuple[int, str, str, str, str | None, str]]:
    """(seq, at, kind, actor, subject, detail) of the newest rows that match, newest first.

    ``actor`` matches a part of the actor; ``since`` and ``until`` are times as :func:`stamp`
    writes them (inclusive); ``before`` keeps rows before that sequence number.
    """
    q = (
        select(
            audit_log.c.seq,
            audit_log.c.at,
            audit_log.c.kind,
            audit_log.c.actor,
            audit_log.c.subject,
            audit_log.c.detail,
        )
        .order_by(audit_log.c.seq.desc())
        .limit(limit)
    )
    if actor:
        q = q.where(audit_log.c.actor.contains(actor, autoescape=True))
    if kind:
        q = q.where(audit_log.c.kind == kind)
    if since:
        q = q.where(audit_log.c.at >= since)
    if until:
        q = q.where(audit_log.c.at <= until)
    if before:
        q = q.where(audit_log.c.seq < before)
    with store.engine.connect() as conn:
        return [(int(s), str(a), str(k), str(w), subject, str(d)) for s, a, k, w, subject, d in conn.execute(q)]


def kinds(store: Store) -> list[str]:
    """Every kind of row the log holds, sorted."""
    with store.engine.connect() as conn:
        return sorted(str(k) for (k,) in conn.execute(select(audit_log.c.kind).distinct()))
