"""Reads of the snapshots' catalogue (``snapshots``) beyond the published one :class:`Store` serves."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import select

from c360.store.schema import snapshots
from c360.store.timestamps import aware

if TYPE_CHECKING:
    from c360.store.store import Store


def retained_versions(store: Store, upto: int, limit: int = 4) -> list[tuple[int, dt.datetime]]:
    """(version, built at) of the newest ``limit`` published or retired versions before ``upto``, oldest first.

    Pruning keeps the records of the newest few: older versions may have none left.
    """
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(snapshots.c.version, snapshots.c.built_at)
            .where(snapshots.c.status.in_(["published", "retired"]), snapshots.c.version < upto)
            .order_by(snapshots.c.version.desc())
            .limit(limit)
        ).all()
    return [(int(version), aware(built_at)) for version, built_at in rows][::-1]
