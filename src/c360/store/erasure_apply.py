"""The store's writes of a GDPR erasure, each inside the caller's transaction.

:func:`c360.governance.erasure.erase` opens one transaction, takes the audit chain's lock
and calls these in order; if any of them (or anything after) fails, all of them roll
back together with the audit row. None of them commits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, delete, insert, or_, select, update

from c360.core import jsonutil
from c360.store.erasure import CHUNK
from c360.store.schema import (
    customers,
    erasure_retained,
    erasures,
    identity_map,
    identity_pins,
    identity_review,
    quarantine,
    snapshot_majors,
    snapshot_records,
    snapshot_views,
    snapshots,
    staged_records,
    suppression,
)
from c360.store.store import note_edits

__all__ = [
    "add_retained",
    "add_suppression",
    "delete_map_row",
    "delete_pins_and_reviews",
    "delete_quarantined",
    "delete_staged",
    "forget_customer_map",
    "mark_erased",
    "note_edits",
    "record_request",
    "rekey_map_row",
    "remove_snapshot_customers",
    "remove_view_customers",
    "rewrite_staged",
    "set_map_evidence",
    "set_snapshot_record",
    "set_view_record",
    "snapshot_records_in",
    "snapshot_views_in",
]


# -- staging -------------------------------------------------------------------------------------


def delete_staged(conn: Connection, source: str, key: str) -> None:
    conn.execute(delete(staged_records).where(staged_records.c.source == source, staged_records.c.key == key))


def rewrite_staged(
    conn: Connection, source: str, key: str, body: Mapping[str, Any], *, new_key: str | None = None
) -> None:
    """Store ``body`` as the staged record's payload (with its content hash), re-keyed to ``new_key`` if given."""
    values: dict[str, Any] = {"key": new_key} if new_key is not None else {}
    values.update(payload=jsonutil.dumps(body), content_hash=jsonutil.content_hash(body))
    conn.execute(
        update(staged_records).where(staged_records.c.source == source, staged_records.c.key == key).values(**values)
    )


# -- identity map and customers ------------------------------------------------------------------


def forget_customer_map(conn: Connection, customer_id: str) -> None:
    """Delete every identity map row of ``customer_id``."""
    conn.execute(delete(identity_map).where(identity_map.c.customer_id == customer_id))


def delete_map_row(conn: Connection, source: str, key: str) -> None:
    conn.execute(delete(identity_map).where(identity_map.c.source == source, identity_map.c.key == key))


def mark_erased(conn: Connection, customer_ids: Sequence[str]) -> None:
    """The customers, and every customer merged into one of them, marked erased."""
    conn.execute(
        update(customers).where(customers.c.customer_id.in_(customer_ids)).values(status="erased", merged_into=None)
    )
    conn.execute(
        update(customers).where(customers.c.merged_into.in_(customer_ids)).values(status="erased", merged_into=None)
    )


def rekey_map_row(conn: Connection, source: str, key: str, new_key: str) -> None:
    conn.execute(
        update(identity_map).where(identity_map.c.source == source, identity_map.c.key == key).values(key=new_key)
    )


def set_map_evidence(conn: Connection, source: str, key: str, evidence: str) -> None:
    conn.execute(
        update(identity_map).where(identity_map.c.source == source, identity_map.c.key == key).values(evidence=evidence)
    )


def delete_pins_and_reviews(conn: Connection, rids: Sequence[str]) -> None:
    """Steward pins and review pairs that name one of the record ids ``rids`` (``source:key``)."""
    for i in range(0, len(rids), CHUNK):
        chunk = rids[i : i + CHUNK]
        for table in (identity_pins, identity_review):
            conn.execute(delete(table).where(or_(table.c.left_rid.in_(chunk), table.c.right_rid.in_(chunk))))


# -- snapshots -----------------------------------------------------------------------------------


def snapshot_records_in(conn: Connection, version: int, customer_ids: Sequence[str]) -> list[tuple[str, bytes]]:
    """(customer id, record JSON) of those of ``customer_ids`` that snapshot ``version`` holds."""
    rows = conn.execute(
        select(snapshot_records.c.customer_id, snapshot_records.c.data).where(
            snapshot_records.c.version == version, snapshot_records.c.customer_id.in_(customer_ids)
        )
    ).all()
    return [(c, d) for c, d in rows]


def snapshot_views_in(conn: Connection, version: int, customer_ids: Sequence[str]) -> list[tuple[int, str, bytes]]:
    """(major, customer id, record JSON) of the version's earlier-major views of ``customer_ids``."""
    rows = conn.execute(
        select(snapshot_views.c.major, snapshot_views.c.customer_id, snapshot_views.c.data).where(
            snapshot_views.c.version == version, snapshot_views.c.customer_id.in_(customer_ids)
        )
    ).all()
    return [(m, c, d) for m, c, d in rows]


def remove_snapshot_customers(conn: Connection, version: int, customer_ids: Sequence[str], count: int) -> None:
    """The customers' records deleted from snapshot ``version``, its customer count lowered by ``count``."""
    conn.execute(
        delete(snapshot_records).where(
            snapshot_records.c.version == version, snapshot_records.c.customer_id.in_(customer_ids)
        )
    )
    conn.execute(
        update(snapshots).where(snapshots.c.version == version).values(customers=snapshots.c.customers - count)
    )


def remove_view_customers(conn: Connection, version: int, major: int, customer_ids: Sequence[str], count: int) -> None:
    """The customers deleted from the version's view of ``major``, its count lowered by ``count``."""
    conn.execute(
        delete(snapshot_views).where(
            snapshot_views.c.version == version,
            snapshot_views.c.major == major,
            snapshot_views.c.customer_id.in_(customer_ids),
        )
    )
    conn.execute(
        update(snapshot_majors)
        .where(snapshot_majors.c.version == version, snapshot_majors.c.major == major)
        .values(customers=snapshot_majors.c.customers - count)
    )


def set_snapshot_record(conn: Connection, version: int, customer_id: str, record: Mapping[str, Any]) -> None:
    conn.execute(
        update(snapshot_records)
        .where(snapshot_records.c.version == version, snapshot_records.c.customer_id == customer_id)
        .values(data=jsonutil.dumps(record))
    )


def set_view_record(conn: Connection, version: int, major: int, customer_id: str, record: Mapping[str, Any]) -> None:
    conn.execute(
        update(snapshot_views)
        .where(
            snapshot_views.c.version == version,
            snapshot_views.c.major == major,
            snapshot_views.c.customer_id == customer_id,
        )
        .values(data=jsonutil.dumps(record))
    )


def add_retained(conn: Connection, facts: Sequence[Mapping[str, Any]]) -> None:
    """Facts kept under the pseudonym: erasure_id, subject, field, value (JSON text), basis."""
    if facts:
        conn.execute(insert(erasure_retained), list(facts))


# -- quarantine, suppression, the request --------------------------------------------------------


def delete_quarantined(conn: Connection, ids: Sequence[int]) -> None:
    if ids:
        conn.execute(delete(quarantine).where(quarantine.c.id.in_(ids)))


def add_suppression(
    conn: Connection, entries: Mapping[str, tuple[str, str]], *, erasure_id: str, at: dt.datetime
) -> None:
    """Suppression entries: keyed hash → (kind, action), all of one erasure."""
    rows = [
        {"digest": d, "kind": kind, "action": action, "erasure_id": erasure_id, "created_at": at}
        for d, (kind, action) in entries.items()
    ]
    if rows:
        conn.execute(insert(suppression), rows)


def record_request(
    conn: Connection,
    *,
    erasure_id: str,
    requested_at: dt.datetime,
    actor: str,
    scope: str,
    subject: str,
    reason: str,
    report: str,
) -> None:
    conn.execute(
        insert(erasures).values(
            erasure_id=erasure_id,
            requested_at=requested_at,
            actor=actor,
            scope=scope,
            subject=subject,
            reason=reason,
            report=report,
        )
    )
