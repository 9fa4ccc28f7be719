"""The store's reads for subject access (GDPR Art. 15), on the caller's connection."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from c360.core import jsonutil
from c360.store.schema import identity_map, published, snapshot_records, snapshot_views, staged_records


@dataclass(frozen=True)
class StagedCopy:
    data: dict[str, Any]
    fetched_at: dt.datetime


@dataclass(frozen=True)
class MapEntry:
    customer_id: str
    method: str
    score: float | None


def staged_copy(conn: Connection, source: str, key: str) -> StagedCopy | None:
    """The staged record's payload, decoded, and when it was fetched; None when not staged."""
    row = conn.execute(
        select(staged_records.c.payload, staged_records.c.fetched_at).where(
            staged_records.c.source == source, staged_records.c.key == key
        )
    ).first()
    return None if row is None else StagedCopy(jsonutil.loads(row.payload), row.fetched_at)


def mapping(conn: Connection, source: str, key: str) -> MapEntry | None:
    """Where the identity map puts the record, and by which method; None when unmapped."""
    row = conn.execute(
        select(identity_map.c.customer_id, identity_map.c.method, identity_map.c.score).where(
            identity_map.c.source == source, identity_map.c.key == key
        )
    ).first()
    return None if row is None else MapEntry(row.customer_id, row.method, row.score)


def published_version(conn: Connection) -> int | None:
    """The snapshot version consumers are served; None before the first publish."""
    version: int | None = conn.execute(select(published.c.version).where(published.c.id == 1)).scalar()
    return version


def snapshot_record(conn: Connection, version: int, customer_id: str) -> bytes | None:
    """The customer's record (JSON) in snapshot ``version``."""
    data: bytes | None = conn.execute(
        select(snapshot_records.c.data).where(
            snapshot_records.c.version == version, snapshot_records.c.customer_id == customer_id
        )
    ).scalar()
    return data


def view_record(conn: Connection, version: int, major: int, customer_id: str) -> bytes | None:
    """The customer's record (JSON) in snapshot ``version`` as shaped for ``major``."""
    data: bytes | None = conn.execute(
        select(snapshot_views.c.data).where(
            snapshot_views.c.version == version,
            snapshot_views.c.major == major,
            snapshot_views.c.customer_id == customer_id,
        )
    ).scalar()
    return data
