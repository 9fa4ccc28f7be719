"""Point look-ups of single records: who holds a source record (``identity_map``), what it says (``staged_records``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from sqlalchemy import Connection, select

from c360.store.schema import identity_map, staged_records

if TYPE_CHECKING:
    from c360.store.store import Store


def _owner(conn: Connection, source: str, key: str) -> str | None:
    cid = conn.execute(
        select(identity_map.c.customer_id).where(identity_map.c.source == source, identity_map.c.key == key)
    ).scalar()
    return str(cid) if cid is not None else None


def owner(store: Store, source: str, key: str) -> str | None:
    """The customer the identity map assigns the record ``source``/``key`` to, if any."""
    with store.engine.connect() as conn:
        return _owner(conn, source, key)


def owners(conn: Connection, records: Iterable[tuple[str, str]]) -> list[str]:
    """The customer of each (source, key) that has one, in order, inside the caller's connection."""
    return [cid for source, key in records if (cid := _owner(conn, source, key))]


def staged_payload(store: Store, source: str, key: str) -> bytes | None:
    """The staged payload (serialised JSON) of a record not deleted at its source, or None."""
    with store.engine.connect() as conn:
        row = conn.execute(
            select(staged_records.c.payload).where(
                staged_records.c.source == source, staged_records.c.key == key, staged_records.c.deleted.is_(False)
            )
        ).first()
    return None if row is None else bytes(row[0])
