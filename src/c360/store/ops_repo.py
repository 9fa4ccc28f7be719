"""Reads for the operations view: the builds (``runs``), their quarantine reasons, the snapshots' catalogue."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from c360.store.runs import RunRow
from c360.store.schema import published, quarantine, runs, snapshots
from c360.store.timestamps import aware

if TYPE_CHECKING:
    from c360.store.store import Store


@dataclass(frozen=True)
class SnapshotRow:
    version: int
    run_id: str
    spec_version: str
    status: str  # building | published | failed | retired
    built_at: dt.datetime
    published_at: dt.datetime | None
    customers: int


def build_runs(store: Store, limit: int = 20) -> list[RunRow]:
    """The newest ``limit`` builds (any status, running ones included), newest first."""
    q = select(runs).where(runs.c.kind == "build").order_by(runs.c.started_at.desc()).limit(limit)
    with store.engine.connect() as conn:
        return [
            RunRow(
                r.run_id,
                r.kind,
                r.status,
                aware(r.started_at),
                aware(r.finished_at) if r.finished_at is not None else None,
                r.summary,
            )
            for r in conn.execute(q)
        ]


def quarantine_reasons(store: Store, run_ids: Sequence[str]) -> dict[str, list[tuple[str, str, int]]]:
    """Per run: (source, reason, records) of what it quarantined, commonest first."""
    if not run_ids:
        return {}
    n = func.count().label("n")
    q = (
        select(quarantine.c.run_id, quarantine.c.source, quarantine.c.reason, n)
        .where(quarantine.c.run_id.in_(list(run_ids)))
        .group_by(quarantine.c.run_id, quarantine.c.source, quarantine.c.reason)
        .order_by(n.desc())
    )
    out: dict[str, list[tuple[str, str, int]]] = {}
    with store.engine.connect() as conn:
        for run_id, source, reason, count in conn.execute(q):
            out.setdefault(run_id, []).append((source, reason, int(count)))
    return out


def snapshot_history(store: Store, limit: int = 30) -> tuple[list[SnapshotRow], int | None]:
    """The newest ``limit`` snapshots, newest first, and the version published now (None if none)."""
    q = select(snapshots).order_by(snapshots.c.version.desc()).limit(limit)
    with store.engine.connect() as conn:
        rows = [
            SnapshotRow(
                int(r.version),
                r.run_id,
                r.spec_version,
                r.status,
                aware(r.built_at),
                aware(r.published_at) if r.published_at is not None else None,
                int(r.customers or 0),
            )
            for r in conn.execute(q)
        ]
        current = conn.execute(select(published.c.version).limit(1)).scalar()
    return rows, int(current) if current is not None else None
