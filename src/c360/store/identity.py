"""The identity map as a governed asset: read the previous run's map, write the new one."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from c360.core import jsonutil
from c360.core.clock import utcnow
from c360.store.schema import customers, identity_events, identity_map, identity_models, identity_pins, identity_review
from c360.store.store import Store, _aware


@dataclass(frozen=True)
class MapRow:
    source: str
    key: str
    customer_id: str
    method: str
    score: float | None
    evidence: dict[str, Any] | None


@dataclass(frozen=True)
class IdentityEventRow:
    kind: str
    customer_id: str
    other_id: str | None
    detail: str


def previous_ids(store: Store) -> tuple[dict[str, str], dict[str, dt.datetime]]:
    """``source:key`` → customer_id for records resolved before, and each active id's creation time."""
    with store.engine.connect() as conn:
        ids = {
            f"{s}:{k}": c
            for s, k, c in conn.execute(
                select(identity_map.c.source, identity_map.c.key, identity_map.c.customer_id).where(
                    identity_map.c.method != "belongs_to"
                )
            )
        }
        created = {
            c: _aware(t)
            for c, t in conn.execute(
                select(customers.c.customer_id, customers.c.created_at).where(customers.c.status == "active")
            )
        }
    return ids, created


def write_map(conn: Connection, run_id: str, rows: Sequence[MapRow], events: Sequence[IdentityEventRow]) -> None:
    """Replace the identity map with ``rows`` and record what changed, inside the caller's transaction."""
    now = utcnow()
    conn.execute(delete(identity_map))
    for i in range(0, len(rows), 5000):
        # Built a chunk at a time: a million rows' parameter dicts at once cost gigabytes.
        conn.execute(
            insert(identity_map),
            [
                {
                    "source": r.source,
                    "key": r.key,
                    "customer_id": r.customer_id,
                    "method": r.method,
                    "score": r.score,
                    "evidence": jsonutil.dumps(r.evidence).decode() if r.evidence else None,
                    "run_id": run_id,
                    "updated_at": now,
                }
                for r in rows[i : i + 5000]
            ],
        )
    for e in events:
        if e.kind in ("new", "split"):
            conn.execute(
                insert(customers).values(customer_id=e.customer_id, created_at=now, status="active", run_id=run_id)
            )
        elif e.kind == "merge" and e.other_id:
            conn.execute(
                update(customers)
                .where(customers.c.customer_id == e.other_id)
                .values(status="merged", merged_into=e.customer_id)
            )
        elif e.kind == "retire":
            conn.execute(update(customers).where(customers.c.customer_id == e.customer_id).values(status="retired"))
    if events:
        conn.execute(
            insert(identity_events),
            [
                {
                    "run_id": run_id,
                    "kind": e.kind,
                    "customer_id": e.customer_id,
                    "other_id": e.other_id,
                    "detail": e.detail,
                    "created_at": now,
                }
                for e in events
            ],
        )


def customer_records(store: Store, customer_id: str) -> list[MapRow]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(identity_map)
            .where(identity_map.c.customer_id == customer_id)
            .order_by(identity_map.c.source, identity_map.c.key)
        )
        return [_row(r._mapping) for r in rows]


def all_rows(store: Store) -> list[MapRow]:
    with store.engine.connect() as conn:
        rows = conn.execute(select(identity_map).order_by(identity_map.c.source, identity_map.c.key))
        return [_row(r._mapping) for r in rows]


def alias_target(store: Store, customer_id: str) -> str | None:
    """The surviving id for a merged ``customer_id`` (following chains), else None."""
    seen = set()
    cid: str | None = customer_id
    target = None
    with store.engine.connect() as conn:
        while cid and cid not in seen:
            seen.add(cid)
            row = conn.execute(
                select(customers.c.status, customers.c.merged_into).where(customers.c.customer_id == cid)
            ).first()
            if row is None or row.status != "merged":
                break
            target = cid = row.merged_into
    return target


def aliases(store: Store) -> dict[str, str]:
    """Every merged id → the id it was merged into (one hop)."""
    with store.engine.connect() as conn:
        return {
            c: m
            for c, m in conn.execute(
                select(customers.c.customer_id, customers.c.merged_into).where(customers.c.status == "merged")
            )
        }


def _row(m: Mapping[Any, Any]) -> MapRow:
    ev = m["evidence"]
    return MapRow(m["source"], m["key"], m["customer_id"], m["method"], m["score"], jsonutil.loads(ev) if ev else None)


# -- steward pins and review pairs ----------------------------------------------------


@dataclass(frozen=True)
class Pin:
    kind: str  # link | unlink
    left: str
    right: str
    reason: str | None


def add_pin(store: Store, kind: str, left: str, right: str, reason: str | None, by: str | None) -> None:
    a, b = sorted((left, right))
    with store.engine.begin() as conn:
        # A new decision on a pair replaces the previous one.
        conn.execute(delete(identity_pins).where(identity_pins.c.left_rid == a, identity_pins.c.right_rid == b))
        conn.execute(
            insert(identity_pins).values(
                kind=kind, left_rid=a, right_rid=b, reason=reason, created_by=by, created_at=utcnow()
            )
        )


def pins(store: Store) -> list[Pin]:
    with store.engine.connect() as conn:
        rows = conn.execute(select(identity_pins).order_by(identity_pins.c.id))
        return [Pin(r.kind, r.left_rid, r.right_rid, r.reason) for r in rows]


def write_review(conn: Connection, run_id: str, pairs: Sequence[tuple[str, str, float, dict[str, Any]]]) -> None:
    """Replace the pairs for review; a pair listed twice (borderline and refused) is kept once, the first."""
    conn.execute(delete(identity_review))
    seen: set[tuple[str, str]] = set()
    unique = []
    for pair in pairs:
        if (pair[0], pair[1]) not in seen:
            seen.add((pair[0], pair[1]))
            unique.append(pair)
    pairs = unique
    if pairs:
        conn.execute(
            insert(identity_review),
            [
                {
                    "left_rid": a,
                    "right_rid": b,
                    "probability": p,
                    "evidence": jsonutil.dumps(ev).decode(),
                    "run_id": run_id,
                }
                for a, b, p, ev in pairs
            ],
        )


def review_pairs(store: Store) -> list[tuple[str, str, float, dict[str, Any]]]:
    with store.engine.connect() as conn:
        rows = conn.execute(select(identity_review).order_by(identity_review.c.probability.desc()))
        return [(r.left_rid, r.right_rid, float(r.probability), jsonutil.loads(r.evidence or "{}")) for r in rows]


# -- trained models -------------------------------------------------------------------


@dataclass(frozen=True)
class StoredModel:
    run_id: str
    grain: str
    records: int
    model: dict[str, Any]


def latest_model(store: Store, grain: str) -> StoredModel | None:
    with store.engine.connect() as conn:
        row = conn.execute(
            select(identity_models)
            .where(identity_models.c.grain == grain)
            .order_by(identity_models.c.id.desc())
            .limit(1)
        ).first()
    if row is None:
        return None
    return StoredModel(row.run_id, row.grain, int(row.records), jsonutil.loads(row.model))


def save_model(conn: Connection, run_id: str, grain: str, records: int, model: dict[str, Any]) -> None:
    conn.execute(
        insert(identity_models).values(
            run_id=run_id, grain=grain, records=records, model=jsonutil.dumps(model).decode(), created_at=utcnow()
        )
    )
