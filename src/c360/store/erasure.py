"""The store's side of GDPR erasure: finding a subject's rows, and the suppression list.

Every statement here runs on the caller's :class:`~sqlalchemy.Connection`, so an erasure
keeps its planning reads, its writes (:mod:`c360.store.erasure_apply`) and its audit row
in the one transaction it opened. Nothing here decides what is erased: that is
:mod:`c360.governance.erasure`'s. The writes are in :mod:`c360.store.erasure_apply`, the
webhook outbox in :mod:`c360.store.erasure_outbox`, subject access in
:mod:`c360.store.erasure_subject`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, select, text

from c360.core import jsonutil
from c360.store.schema import (
    customers,
    erasures,
    identity_map,
    quarantine,
    runs,
    snapshot_records,
    snapshots,
    staged_records,
    suppression,
)

# Keys per ``IN (...)`` list: well under every driver's limit on bound parameters.
CHUNK = 500

Pair = tuple[str, str]  # (source, key) of a staged record


# -- staging -------------------------------------------------------------------------------------


def like_escape(value: str) -> str:
    """``value`` for a ``LIKE ... ESCAPE '\\'`` pattern: its wildcards taken literally."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _payload_text(conn: Connection) -> str:
    """SQL for a staged record's payload as text, in this connection's dialect."""
    if conn.dialect.name == "postgresql":
        return "convert_from(payload, 'UTF8')"
    return "CAST(payload AS TEXT)"


def staged_containing(conn: Connection, source: str, needles: Iterable[str]) -> list[tuple[str, dict[str, Any]]]:
    """Staged records of ``source`` whose payload contains a needle (any case), decoded."""
    wanted = sorted({n.lower() for n in needles if n})
    if not wanted:
        return []
    body = f"lower({_payload_text(conn)})"
    ors = " OR ".join(f"{body} LIKE :n{i} ESCAPE '\\'" for i in range(len(wanted)))
    params: dict[str, Any] = {f"n{i}": f"%{like_escape(n)}%" for i, n in enumerate(wanted)}
    params["source"] = source
    rows = conn.execute(text(f"SELECT key, payload FROM staged_records WHERE source = :source AND ({ors})"), params)
    return [(k, jsonutil.loads(p)) for k, p in rows]


def _stripped(body: str, separators: str) -> str:
    """SQL for ``body`` without ``separators`` (the characters phone numbers are written with)."""
    for ch in separators:
        body = f"replace({body}, '{ch}', '')"
    return body


def staged_with_text(
    conn: Connection, sources: Iterable[str], emails: Sequence[str], digits: Sequence[str], separators: str
) -> Iterator[tuple[str, str, bytes]]:
    """(source, key, raw payload) of the live staged records of ``sources`` whose text holds
    one of ``emails`` (lower case, any case in the payload) or one of the runs of ``digits``
    once ``separators`` are stripped from the payload.

    One query per source, each a sequential scan of that source's staged payloads inside
    the database (``LIKE '%...%'`` can use no index), the needles OR'ed together.
    """
    body = _payload_text(conn)
    if conn.dialect.name == "postgresql":
        bare = f"translate({body}, '{separators}', '')"
    else:
        bare = _stripped(body, separators)
    ors = [f"lower({body}) LIKE :e{i} ESCAPE '\\'" for i in range(len(emails))]
    ors += [f"{bare} LIKE :p{i}" for i in range(len(digits))]
    params: dict[str, Any] = {f"e{i}": f"%{like_escape(m)}%" for i, m in enumerate(emails)}
    params.update({f"p{i}": f"%{t}%" for i, t in enumerate(digits)})
    sql = text(
        f"SELECT key, payload FROM staged_records WHERE source = :source AND deleted = :no AND ({' OR '.join(ors)})"
    )
    for name in sources:
        for key, raw in conn.execute(sql, {**params, "source": name, "no": False}):
            yield name, key, raw


def staged_payloads(conn: Connection, pairs: Iterable[Pair]) -> dict[Pair, dict[str, Any]]:
    """The decoded payloads of the staged records among ``pairs`` (absent ones left out)."""
    by_source: dict[str, list[str]] = {}
    for s, k in pairs:
        by_source.setdefault(s, []).append(k)
    out: dict[Pair, dict[str, Any]] = {}
    for s, keys in by_source.items():
        for i in range(0, len(keys), CHUNK):
            for k, p in conn.execute(
                select(staged_records.c.key, staged_records.c.payload).where(
                    staged_records.c.source == s, staged_records.c.key.in_(keys[i : i + CHUNK])
                )
            ):
                out[(s, k)] = jsonutil.loads(p)
    return out


# -- identity map and customers ------------------------------------------------------------------


def map_owners(conn: Connection, pairs: Iterable[Pair]) -> dict[Pair, str]:
    """The customer each of ``pairs`` is mapped to (unmapped ones left out)."""
    out = {}
    for s, k in pairs:
        cid = conn.execute(
            select(identity_map.c.customer_id).where(identity_map.c.source == s, identity_map.c.key == k)
        ).scalar()
        if cid is not None:
            out[(s, k)] = str(cid)
    return out


def mapped_records(conn: Connection, customer_id: str) -> list[Pair]:
    """Every (source, key) the identity map gives to ``customer_id``."""
    return [
        (s, k)
        for s, k in conn.execute(
            select(identity_map.c.source, identity_map.c.key).where(identity_map.c.customer_id == customer_id)
        )
    ]


def surviving_customer(conn: Connection, customer_id: str) -> str | None:
    """The customer ``customer_id`` is now, following merges; None when there is no such customer."""
    seen: set[str] = set()
    cid = customer_id
    while cid not in seen:
        seen.add(cid)
        row = conn.execute(
            select(customers.c.status, customers.c.merged_into).where(customers.c.customer_id == cid)
        ).first()
        if row is None:
            return None
        if row.status != "merged" or not row.merged_into:
            return cid
        cid = str(row.merged_into)
    return cid


def map_evidence(conn: Connection, customer_id: str) -> list[tuple[str, str, str]]:
    """(source, key, evidence JSON) of the customer's identity map rows that carry evidence."""
    rows = conn.execute(
        select(identity_map.c.source, identity_map.c.key, identity_map.c.evidence).where(
            identity_map.c.customer_id == customer_id, identity_map.c.evidence.is_not(None)
        )
    ).all()
    return [(s, k, ev) for s, k, ev in rows]


# -- snapshots and quarantine --------------------------------------------------------------------


def snapshot_rows_of(conn: Connection, customer_ids: Sequence[str]) -> dict[int, list[str]]:
    """Snapshot version → which of ``customer_ids`` it holds a record of (versions holding none left out)."""
    versions = [int(v) for (v,) in conn.execute(select(snapshots.c.version).order_by(snapshots.c.version))]
    out: dict[int, list[str]] = {}
    for v in versions:
        for i in range(0, len(customer_ids), CHUNK):
            hit = [
                str(c)
                for (c,) in conn.execute(
                    select(snapshot_records.c.customer_id).where(
                        snapshot_records.c.version == v, snapshot_records.c.customer_id.in_(customer_ids[i : i + CHUNK])
                    )
                )
            ]
            if hit:
                out.setdefault(v, []).extend(hit)
    return out


def quarantine_texts(conn: Connection) -> list[tuple[int, str, str]]:
    """(id, raw text, location) of every quarantined row."""
    return [
        (int(i), raw, loc)
        for i, raw, loc in conn.execute(select(quarantine.c.id, quarantine.c.raw, quarantine.c.location))
    ]


# -- the suppression list ------------------------------------------------------------------------


def suppression_digests(conn: Connection) -> set[str]:
    """Every keyed hash on the suppression list (one short column per erased identifier)."""
    return {str(d) for (d,) in conn.execute(select(suppression.c.digest))}


def suppression_entries(conn: Connection) -> dict[str, str]:
    """The suppression list: keyed hash → action (drop | anonymise)."""
    return {d: a for d, a in conn.execute(select(suppression.c.digest, suppression.c.action))}


def any_suppressed(conn: Connection, digests: Sequence[str]) -> bool:
    """Whether any of ``digests`` is on the suppression list."""
    return conn.execute(select(suppression.c.digest).where(suppression.c.digest.in_(digests))).first() is not None


# -- requests and builds -------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestRow:
    """One stored erasure request (its report is JSON text: counts and systems, no identifiers)."""

    erasure_id: str
    requested_at: dt.datetime
    actor: str
    scope: str
    subject: str
    report: str


def erasure_requests(conn: Connection) -> list[RequestRow]:
    """Every erasure request, newest first."""
    rows = conn.execute(select(erasures).order_by(erasures.c.requested_at.desc())).all()
    return [RequestRow(r.erasure_id, r.requested_at, r.actor, r.scope, r.subject, r.report) for r in rows]


def run_started_at(conn: Connection, run_id: str) -> dt.datetime | None:
    """When run ``run_id`` started; None when there is no such run."""
    started: dt.datetime | None = conn.execute(select(runs.c.started_at).where(runs.c.run_id == run_id)).scalar()
    return started


def erasure_since(conn: Connection, started: dt.datetime) -> str | None:
    """The id of an erasure requested at or after ``started``, if any."""
    later = conn.execute(
        select(erasures.c.erasure_id).where(erasures.c.requested_at >= bindparam("t")), {"t": started}
    ).first()
    return None if later is None else str(later[0])


# -- SQLite: leaving no old bytes behind ---------------------------------------------------------


def secure_delete(conn: Connection) -> None:
    """On SQLite, have freed pages zeroed in this transaction, whatever the connection was
    opened with (the store sets this on every connection; SQLite allows it inside a transaction)."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA secure_delete=ON")


def checkpoint_wal(engine: Engine) -> bool:
    """Move the WAL into the database and truncate it, so old page images do not linger."""
    raw = engine.raw_connection()
    try:
        busy, _, _ = raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        return not busy
    finally:
        raw.close()


def vacuum(engine: Engine) -> bool:
    """Rebuild the SQLite file so no freed page keeps old bytes; False when readers hold it."""
    raw = engine.raw_connection()
    try:
        raw.cursor().execute("VACUUM")
        busy, _, _ = raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        return not busy
    except Exception:
        return False
    finally:
        raw.close()
