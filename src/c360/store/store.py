"""The governed store: the one transactional home of staging, identity, snapshots and keys."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Container, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from c360.core import jsonutil
from c360.core.clock import utcnow
from c360.core.errors import StoreError
from c360.core.records import Quarantined, Record
from c360.store import db, keys, runs
from c360.store.schema import (
    published,
    quarantine,
    snapshot_edits,
    snapshot_majors,
    snapshot_records,
    snapshot_views,
    snapshots,
    spec_versions,
    staged_records,
    sync_state,
)
from c360.store.timestamps import aware

_aware = aware  # as the store's other modules have imported them from here
_alive = runs.alive


@dataclass
class StageCounts:
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    deleted: int = 0

    def __iadd__(self, other: StageCounts) -> StageCounts:
        self.new += other.new
        self.changed += other.changed
        self.unchanged += other.unchanged
        self.deleted += other.deleted
        return self


@dataclass(frozen=True)
class SnapshotInfo:
    version: int
    spec_version: str
    built_at: dt.datetime
    as_of: dt.datetime
    customers: int
    run_id: str


@dataclass(frozen=True)
class StagedRow:
    key: str
    payload: dict[str, Any]
    fetched_at: dt.datetime


class Store:
    """All reads and writes of governed state go through here."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, url: str, *, migrate: bool = True) -> Store:
        engine = db.create(url)
        try:
            if migrate:
                db.migrate(engine)
            elif db.needs_migration(engine):
                raise StoreError(f"store {db.redact(url)} is not at the current schema; run `c360 store upgrade`")
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot open store {db.redact(url)}: {exc}") from exc
        return cls(engine)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def close(self) -> None:
        self.engine.dispose()

    # -- runs ---------------------------------------------------------------------
    def start_run(self, kind: str) -> str:
        """A run, marked ``running`` with the process that runs it, until :meth:`finish_run`.

        Runs of this host whose process is gone (killed, or the machine rebooted) are marked
        ``killed`` first, so ``running`` means running.
        """
        return runs.start(self, kind)

    def _end_dead_runs(self, conn: Connection, host: str) -> None:
        runs.end_dead(conn, host)

    def finish_run(self, run_id: str, status: str, summary: dict[str, Any]) -> None:
        runs.finish(self, run_id, status, summary)

    # -- staging --------------------------------------------------------------------
    def stage(
        self,
        source: str,
        records: Sequence[Record],
        *,
        cursor: str | None,
        quarantined: Sequence[Quarantined] = (),
        run_id: str,
        fetched_at: dt.datetime | None = None,
    ) -> StageCounts:
        """Land one batch and advance the source's cursor, in one transaction.

        Unchanged records (same content hash) are not rewritten, so a re-sync of an
        unchanged source writes nothing.
        """
        now = fetched_at or utcnow()
        counts = StageCounts()
        # Later records of the same key in one batch win.
        latest: dict[str, Record] = {r.key: r for r in records}
        with self.engine.begin() as conn:
            existing: dict[str, tuple[str, bool]] = {}
            keys = list(latest)
            for i in range(0, len(keys), 500):
                chunk = keys[i : i + 500]
                for key, h, deleted in conn.execute(
                    select(staged_records.c.key, staged_records.c.content_hash, staged_records.c.deleted).where(
                        staged_records.c.source == source, staged_records.c.key.in_(chunk)
                    )
                ):
                    existing[key] = (h, deleted)
            # New records go straight to the driver's executemany with the batch's constant
            # values bound once: per-row parameter processing cost as much as the writes.
            at, live = _bound(conn, staged_records.c.fetched_at, now), _bound(conn, staged_records.c.deleted, False)
            inserts: list[tuple[Any, ...]] = []
            updates: list[dict[str, Any]] = []
            for key, rec in latest.items():
                if rec.deleted:
                    if key in existing and not existing[key][1]:
                        updates.append(
                            {"k": key, "payload": b"{}", "content_hash": "", "fetched_at": now, "deleted": True}
                        )
                        counts.deleted += 1
                    continue
                payload = jsonutil.dumps(rec.data)
                h = jsonutil.content_hash(rec.data)
                old = existing.get(key)
                if old is None:
                    inserts.append((source, key, payload, h, at, live))
                    counts.new += 1
                elif old[0] != h or old[1]:
                    updates.append(
                        {"k": key, "payload": payload, "content_hash": h, "fetched_at": now, "deleted": False}
                    )
                    counts.changed += 1
                else:
                    counts.unchanged += 1
            if inserts:
                mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
                conn.exec_driver_sql(
                    f"INSERT INTO {staged_records.name} (source, key, payload, content_hash, fetched_at, deleted) "
                    f"VALUES ({', '.join([mark] * 6)})",
                    inserts,
                )
            if updates:
                from sqlalchemy import bindparam

                conn.execute(
                    update(staged_records)
                    .where(staged_records.c.source == source, staged_records.c.key == bindparam("k"))
                    .values(
                        payload=bindparam("payload"),
                        content_hash=bindparam("content_hash"),
                        fetched_at=bindparam("fetched_at"),
                        deleted=bindparam("deleted"),
                    ),
                    updates,
                )
            if quarantined:
                conn.execute(
                    insert(quarantine),
                    [
                        {
                            "run_id": run_id,
                            "source": source,
                            "location": q.location,
                            "reason": q.reason,
                            "raw": q.raw,
                            "created_at": now,
                        }
                        for q in quarantined
                    ],
                )
            if cursor is not None:
                self._set_cursor(conn, source, cursor)
        return counts

    def add_quarantine(self, run_id: str, source: str, items: Sequence[Quarantined]) -> None:
        if not items:
            return
        now = utcnow()
        with self.engine.begin() as conn:
            conn.execute(
                insert(quarantine),
                [
                    {
                        "run_id": run_id,
                        "source": source,
                        "location": q.location,
                        "reason": q.reason,
                        "raw": q.raw,
                        "created_at": now,
                    }
                    for q in items
                ],
            )

    def tombstone_missing(self, source: str, seen: Container[str]) -> int:
        """After a full read: records the source no longer has become tombstones."""
        with self.engine.begin() as conn:
            live = [
                k
                for (k,) in conn.execute(
                    select(staged_records.c.key).where(
                        staged_records.c.source == source, staged_records.c.deleted.is_(False)
                    )
                )
            ]
            gone = [k for k in live if k not in seen]
            for i in range(0, len(gone), 500):
                conn.execute(
                    update(staged_records)
                    .where(staged_records.c.source == source, staged_records.c.key.in_(gone[i : i + 500]))
                    .values(deleted=True, payload=b"{}", content_hash="")
                )
        return len(gone)

    def _set_cursor(self, conn: Connection, source: str, cursor: str | None) -> None:
        n = conn.execute(
            update(sync_state).where(sync_state.c.source == source).values(cursor=cursor, updated_at=utcnow())
        ).rowcount
        if not n:
            conn.execute(insert(sync_state).values(source=source, cursor=cursor, updated_at=utcnow()))

    def cursor(self, source: str) -> str | None:
        with self.engine.connect() as conn:
            value: str | None = conn.execute(select(sync_state.c.cursor).where(sync_state.c.source == source)).scalar()
        return value

    def restore_cursor(self, source: str, cursor: str | None) -> None:
        """Put a source's cursor back where it was, so the next sync reads again what followed it."""
        if cursor is None:
            self.reset_cursor(source)
            return
        with self.engine.begin() as conn:
            self._set_cursor(conn, source, cursor)

    def reset_cursor(self, source: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(sync_state).where(sync_state.c.source == source))

    def sync_times(self) -> dict[str, dt.datetime]:
        with self.engine.connect() as conn:
            return {s: _aware(t) for s, t in conn.execute(select(sync_state.c.source, sync_state.c.updated_at))}

    def staged(self, source: str, batch: int = 10_000) -> Iterator[StagedRow]:
        """Live (non-deleted) staged records of one source, streamed."""
        with self.engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=batch).execute(
                select(staged_records.c.key, staged_records.c.payload, staged_records.c.fetched_at)
                .where(staged_records.c.source == source, staged_records.c.deleted.is_(False))
                .order_by(staged_records.c.key)
            )
            for key, payload, fetched_at in result:
                yield StagedRow(key, jsonutil.loads(payload), _aware(fetched_at))

    def staged_counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(staged_records.c.source, func.count())
                .where(staged_records.c.deleted.is_(False))
                .group_by(staged_records.c.source)
            )
            return {s: int(n) for s, n in rows}

    def quarantined(self, run_id: str | None = None) -> list[dict[str, Any]]:
        q = select(quarantine).order_by(quarantine.c.id)
        if run_id:
            q = q.where(quarantine.c.run_id == run_id)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def quarantined_latest(self) -> list[dict[str, Any]]:
        """Each quarantined record once, with its latest entry (run and reason), oldest first.

        Every build re-reads staging and quarantines a bad record again, so the table holds
        one entry per record per run; a record is its source and location (``crm:001A7``,
        ``crm.csv:17``), and its newest entry says why it is quarantined now. Each row also
        carries ``times``: how many entries the record has over all runs.
        """
        latest = (
            select(func.max(quarantine.c.id).label("id"), func.count().label("times"))
            .group_by(quarantine.c.source, quarantine.c.location)
            .subquery()
        )
        q = select(quarantine, latest.c.times).join(latest, quarantine.c.id == latest.c.id).order_by(quarantine.c.id)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    # -- snapshots --------------------------------------------------------------------
    def begin_snapshot(self, run_id: str, spec_version: str, as_of: dt.datetime) -> int:
        with self.engine.begin() as conn:
            version = int(conn.execute(select(func.coalesce(func.max(snapshots.c.version), 0))).scalar_one()) + 1
            conn.execute(
                insert(snapshots).values(
                    version=version,
                    run_id=run_id,
                    spec_version=spec_version,
                    status="building",
                    built_at=utcnow(),
                    as_of=as_of,
                    customers=0,
                )
            )
        return version

    def write_snapshot(self, version: int, rows: Iterable[tuple[str, dict[str, Any]]], chunk: int = 5_000) -> int:
        with self.engine.begin() as conn:
            n = _insert_records(conn, snapshot_records, {"version": version}, rows, chunk)
            conn.execute(update(snapshots).where(snapshots.c.version == version).values(customers=n))
        return n

    def write_view(
        self,
        version: int,
        major: int,
        spec_version: str,
        rows: Iterable[tuple[str, dict[str, Any]]],
        chunk: int = 5_000,
    ) -> int:
        """Store snapshot ``version`` in the shape of an earlier ``major`` (built by ``spec_version``)."""
        with self.engine.begin() as conn:
            n = _insert_records(conn, snapshot_views, {"version": version, "major": major}, rows, chunk)
            conn.execute(
                insert(snapshot_majors).values(version=version, major=major, spec_version=spec_version, customers=n)
            )
        return n

    def view_majors(self, version: int) -> dict[int, str]:
        """The earlier majors snapshot ``version`` holds, with the spec version that built each."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(snapshot_majors.c.major, snapshot_majors.c.spec_version).where(
                    snapshot_majors.c.version == version
                )
            )
            return {int(m): str(v) for m, v in rows}

    def view_rows(self, version: int, major: int) -> Iterator[tuple[str, bytes]]:
        with self.engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=10_000).execute(
                select(snapshot_views.c.customer_id, snapshot_views.c.data)
                .where(snapshot_views.c.version == version, snapshot_views.c.major == major)
                .order_by(snapshot_views.c.customer_id)
            )
            for cid, data in result:
                yield cid, bytes(data)

    def _drop_records(self, conn: Connection, versions: Sequence[int]) -> None:
        for table in (snapshot_records, snapshot_views, snapshot_majors, snapshot_edits):
            conn.execute(delete(table).where(table.c.version.in_(list(versions))))

    def publish(self, version: int, *, keep: int = 3, also: Callable[[Connection], None] | None = None) -> None:
        """Make ``version`` the served snapshot: one transaction flips the pointer.

        ``also`` runs inside that same transaction (the build installs its identity map there).
        """
        now = utcnow()
        with self.engine.begin() as conn:
            status = conn.execute(select(snapshots.c.status).where(snapshots.c.version == version)).scalar()
            if status != "building":
                raise StoreError(f"snapshot {version} cannot be published from status {status!r}")
            conn.execute(update(snapshots).where(snapshots.c.status == "published").values(status="retired"))
            conn.execute(
                update(snapshots).where(snapshots.c.version == version).values(status="published", published_at=now)
            )
            if (
                conn.execute(
                    update(published).where(published.c.id == 1).values(version=version, published_at=now)
                ).rowcount
                == 0
            ):
                conn.execute(insert(published).values(id=1, version=version, published_at=now))
            if also is not None:
                also(conn)
        self.prune_snapshots(keep)

    def fail_snapshot(self, version: int) -> None:
        with self.engine.begin() as conn:
            self._drop_records(conn, [version])
            conn.execute(update(snapshots).where(snapshots.c.version == version).values(status="failed"))

    def prune_snapshots(self, keep: int) -> None:
        """Drop the records of all but the newest ``keep`` retired snapshots."""
        with self.engine.begin() as conn:
            old = [
                v
                for (v,) in conn.execute(
                    select(snapshots.c.version)
                    .where(snapshots.c.status.in_(["retired", "failed"]))
                    .order_by(snapshots.c.version.desc())
                )
            ][keep:]
            if old:
                self._drop_records(conn, old)

    def current_snapshot(self) -> SnapshotInfo | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(snapshots).join(published, published.c.version == snapshots.c.version)).first()
        if row is None:
            return None
        return SnapshotInfo(
            row.version, row.spec_version, _aware(row.built_at), _aware(row.as_of), row.customers, row.run_id
        )

    def change_watch(self) -> ChangeWatch:
        """A cheap way for a running server to see whether anything it serves has changed."""
        return ChangeWatch(self.engine)

    def current_version(self) -> int | None:
        with self.engine.connect() as conn:
            v = conn.execute(select(published.c.version).where(published.c.id == 1)).scalar()
        return int(v) if v is not None else None

    def snapshot_rows(self, version: int) -> Iterator[tuple[str, bytes]]:
        with self.engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=10_000).execute(
                select(snapshot_records.c.customer_id, snapshot_records.c.data)
                .where(snapshot_records.c.version == version)
                .order_by(snapshot_records.c.customer_id)
            )
            for cid, data in result:
                yield cid, bytes(data)

    def records_of(self, version: int, ids: Sequence[str], major: int | None = None) -> dict[str, bytes]:
        """The stored records of some customers in ``version`` (an earlier ``major``'s shape if given)."""
        table = snapshot_records if major is None else snapshot_views
        out: dict[str, bytes] = {}
        with self.engine.connect() as conn:
            for i in range(0, len(ids), 500):
                q = select(table.c.customer_id, table.c.data).where(
                    table.c.version == version, table.c.customer_id.in_(list(ids[i : i + 500]))
                )
                if major is not None:
                    q = q.where(table.c.major == major)
                out.update((cid, bytes(data)) for cid, data in conn.execute(q))
        return out

    # -- snapshots changed in place ---------------------------------------------------------
    def last_edit(self) -> int:
        """The newest in-place edit's sequence number (0: none)."""
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.coalesce(func.max(snapshot_edits.c.seq), 0))).scalar_one())

    def edits_since(self, seq: int) -> list[tuple[int, int, str, dt.datetime]]:
        """(seq, version, customer id, when) of every in-place edit after ``seq``, in commit order."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    snapshot_edits.c.seq, snapshot_edits.c.version, snapshot_edits.c.customer_id, snapshot_edits.c.at
                )
                .where(snapshot_edits.c.seq > seq)
                .order_by(snapshot_edits.c.seq)
            )
            return [(int(n), int(v), str(c), _aware(at)) for n, v, c, at in rows]

    # -- spec versions ------------------------------------------------------------------
    def record_spec(self, product: str, version: str, text: str, applied_by: str | None = None) -> bool:
        """Remember a spec version's text; False when that version was already recorded."""
        with self.engine.begin() as conn:
            old = conn.execute(select(spec_versions.c.text).where(spec_versions.c.version == version)).scalar()
            if old is not None:
                return False
            conn.execute(
                insert(spec_versions).values(
                    version=version, product=product, text=text, applied_at=utcnow(), applied_by=applied_by
                )
            )
        return True

    # -- consumers' keys (see :mod:`c360.store.keys`) ----------------------------------------
    def create_key(self, consumer: str, *, expires_at: dt.datetime | None = None) -> str:
        return keys.create(self, consumer, expires_at=expires_at)

    def consumer_for_key(self, key: str) -> str | None:
        return keys.consumer_for_key(self, key)

    def active_keys(self) -> dict[str, tuple[str, dt.datetime | None]]:
        """key hash → (consumer, expiry) for every key not revoked."""
        return keys.active_keys(self)

    def revoke_keys(self, consumer: str) -> int:
        return keys.revoke(self, consumer)


# What a running server reloads on: the published version, the newest in-place edit (erasure),
# and its consumers' keys (a key made or rotated is a new id; a revoked one counts).
_CHANGE_MARK = (
    "SELECT (SELECT version FROM published WHERE id = 1), (SELECT MAX(seq) FROM snapshot_edits), "
    "(SELECT MAX(id) FROM consumer_keys), (SELECT COUNT(revoked_at) FROM consumer_keys)"
)


class ChangeWatch:
    """One statement on a connection of its own: what changed since the last look.

    A server's poller asks every half second. Through the ORM, the three queries of a look cost
    8–12 ms of CPU after the half-second sleep (cold caches, on a 2-core machine); one DB-API
    statement costs under a millisecond. The mark moves when a version is published, an erasure
    edits a snapshot, or a key is made, rotated or revoked.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.conn: Any = None

    def mark(self) -> tuple[Any, ...]:
        try:
            if self.conn is None:
                self.conn = self.engine.raw_connection()
            cur = self.conn.cursor()
            try:
                cur.execute(_CHANGE_MARK)
                row = tuple(cur.fetchone())
            finally:
                cur.close()
            self.conn.rollback()  # no transaction is left open between looks
            return row
        except Exception:
            self.close()
            raise

    def close(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            with contextlib.suppress(Exception):  # a connection already broken
                conn.close()


def note_edits(conn: Connection, rows: dict[int, list[str]], at: dt.datetime) -> None:
    """Inside the transaction that rewrites snapshot records in place: which, for running servers.

    ``rows`` maps a snapshot version to the customers whose records changed or went.
    """
    edits = [{"version": v, "customer_id": c, "at": at} for v, ids in sorted(rows.items()) for c in ids]
    if edits:
        conn.execute(insert(snapshot_edits), edits)


def _bound(conn: Connection, column: Any, value: Any) -> Any:
    """``value`` as the driver is given it for ``column`` (the type's bind processing applied)."""
    process = column.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    return process(value) if process is not None else value


def _insert_records(
    conn: Connection, table: Any, fixed: dict[str, Any], rows: Iterable[tuple[str, dict[str, Any]]], chunk: int
) -> int:
    """Insert (customer id, record) rows into a snapshot table, ``chunk`` at a time; how many."""
    n = 0
    buf: list[dict[str, Any]] = []
    for customer_id, data in rows:
        buf.append({**fixed, "customer_id": customer_id, "data": jsonutil.dumps(data)})
        if len(buf) >= chunk:
            conn.execute(insert(table), buf)
            n += len(buf)
            buf = []
    if buf:
        conn.execute(insert(table), buf)
        n += len(buf)
    return n
