"""Recorded spec versions and the plans approved with them: the queries, in one place.

Callers outside :mod:`c360.store` use these functions rather than the tables of
:mod:`c360.store.schema`. Reads take the :class:`~c360.store.store.Store`; writes that must
commit together with something else (an audit row) take the caller's ``Connection``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection, insert, select, update

from c360.core.clock import utcnow
from c360.store.schema import runs, spec_versions
from c360.store.store import Store, _aware

__all__ = ["RecordedSpec", "apply_summaries", "insert_version", "recorded", "recorded_version", "set_approved"]


@dataclass(frozen=True)
class RecordedSpec:
    """One row of the recorded versions."""

    version: str
    product: str
    text: str
    applied_at: dt.datetime
    applied_by: str | None


def recorded(store: Store) -> list[RecordedSpec]:
    """Every recorded spec version, in no particular order."""
    with store.engine.connect() as conn:
        rows = conn.execute(select(spec_versions)).fetchall()
    return [RecordedSpec(r.version, r.product, r.text, _aware(r.applied_at), r.applied_by) for r in rows]


def recorded_version(store: Store, version: str) -> RecordedSpec | None:
    """The recorded spec of ``version``, if any."""
    with store.engine.connect() as conn:
        r = conn.execute(select(spec_versions).where(spec_versions.c.version == version)).first()
    return None if r is None else RecordedSpec(r.version, r.product, r.text, _aware(r.applied_at), r.applied_by)


def apply_summaries(store: Store) -> list[str | None]:
    """The summaries of the succeeded apply runs, oldest first (JSON text, or None)."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(runs.c.summary)
            .where(runs.c.kind == "apply", runs.c.status == "succeeded")
            .order_by(runs.c.started_at)
        ).fetchall()
    return [summary for (summary,) in rows]


def insert_version(conn: Connection, product: str, version: str, text: str, applied_by: str) -> None:
    """Record a new version, approved by ``applied_by``, in the caller's transaction."""
    conn.execute(
        insert(spec_versions).values(
            version=version, product=product, text=text, applied_at=utcnow(), applied_by=applied_by
        )
    )


def set_approved(conn: Connection, version: str, applied_by: str) -> None:
    """Record the approval of a version a build recorded before, in the caller's transaction."""
    conn.execute(
        update(spec_versions)
        .where(spec_versions.c.version == version)
        .values(applied_by=applied_by, applied_at=utcnow())
    )
