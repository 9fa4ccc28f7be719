"""Live reads: one customer's fields computed now, from its sources, by the same definition.

The customer's source keys come from the identity map; each source the asked fields
read is asked for just those records through its connector's ``lookup``; the records
are normalised by the spec's column declarations and the compiled field plan runs on
them (DuckDB in process, a handful of rows). A source that fails is reported by name,
never papered over: the caller decides between an error and a value marked stale.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa

from c360.connectors.base import Connector
from c360.core.clock import utcnow
from c360.core.errors import BuildError, SourceError, TransientSourceError
from c360.engine.columns import ColumnReader, ValueProblem
from c360.engine.compile import Plan, compile_plan, source_table
from c360.engine.materialise import SourceFrame, connect
from c360.pipeline.sync import open_connector, stream_name
from c360.spec.validate import Spec
from c360.store import Store
from c360.store import identity as idmap

# Plans are compiled once with this stand-in for now() and the read time is put in its place
# per read: compiling (sqlglot) costs more than the whole read of a handful of rows.
_PLACEHOLDER_AS_OF = dt.datetime(1901, 2, 3, 4, 5, 6, 789012, tzinfo=dt.UTC)
_PLACEHOLDER = _PLACEHOLDER_AS_OF.strftime("%Y-%m-%d %H:%M:%S.%f+00")


@dataclass
class LiveRead:
    """The outcome of a live read of one customer."""

    customer_id: str
    found: bool  # the identity map knows the customer
    record: dict[str, Any] = field(default_factory=dict)
    read_at: dt.datetime = field(default_factory=utcnow)
    sources: list[str] = field(default_factory=list)  # the sources read live
    down: dict[str, SourceError] = field(default_factory=dict)  # sources that failed, and how

    @property
    def retry_after(self) -> float | None:
        waits = [e.retry_after for e in self.down.values() if isinstance(e, TransientSourceError) and e.retry_after]
        return max(waits) if waits else None


class LiveReader:
    """Live reads for one worker: connectors and a DuckDB connection opened once and reused."""

    def __init__(self, spec: Spec, store: Store) -> None:
        self.spec = spec
        self.store = store
        self._plans: dict[frozenset[str], tuple[Plan, str, list[str]]] = {}
        self._connectors: dict[str, Connector] = {}
        self._source_locks = {name: threading.Lock() for name in spec.model.sources}
        self._readers = {name: ColumnReader(name, src, spec.model) for name, src in spec.model.sources.items()}
        self._db: duckdb.DuckDBPyConnection | None = None
        self._db_lock = threading.Lock()
        self._lock = threading.Lock()

    def plan(self, fields: Sequence[str]) -> tuple[Plan, str, list[str]]:
        """The compiled plan for ``fields``, its query text, and the sources it reads."""
        wanted = frozenset(f for f in fields if f in self.spec.model.fields)
        hit = self._plans.get(wanted)
        if hit is None:
            plan = compile_plan(self.spec.model, _PLACEHOLDER_AS_OF, only=sorted(wanted))
            sources = sorted({s for f in plan.fields for s in f.sources})
            hit = self._plans[wanted] = (plan, plan.query(), sources)
        return hit

    def read(self, customer_id: str, fields: Sequence[str]) -> LiveRead:
        """Compute ``fields`` of ``customer_id`` from its sources now."""
        plan, query, sources = self.plan(fields)
        out = LiveRead(customer_id, found=False)
        keys: dict[str, list[str]] = {}
        for row in idmap.customer_records(self.store, customer_id):
            keys.setdefault(row.source, []).append(row.key)
        if not keys:
            return out
        out.found = True
        frames: dict[str, SourceFrame] = {}
        for name in sources:
            src = self.spec.model.sources[name]
            frame = SourceFrame.for_source(src)
            frames[name] = frame
            wanted = keys.get(name)
            if not wanted:
                continue
            try:
                records = self._lookup(name, wanted)
            except SourceError as exc:
                out.down[name] = exc
                continue
            except Exception as exc:  # a client library's own failure: the source is down all the same
                out.down[name] = TransientSourceError(name, f"{type(exc).__name__}: {exc}")
                continue
            reader = self._readers[name]
            for rec in records:
                if rec.deleted:
                    continue
                try:
                    values = reader.read(rec.data)
                except ValueProblem:
                    continue  # the build quarantines such a record; a live read skips it too
                frame.append(rec.key, out.read_at, values)
            frame.customer_ids = [customer_id] * len(frame)
            out.sources.append(name)
        if out.down:
            return out
        stamp = out.read_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f+00")
        out.record = self._compute(plan, query.replace(_PLACEHOLDER, stamp), customer_id, frames)
        return out

    def _lookup(self, name: str, keys: list[str]) -> list[Any]:
        src = self.spec.model.sources[name]
        with self._source_locks[name]:
            conn = self._connectors.get(name)
            if conn is None:
                conn = self._connectors[name] = open_connector(self.spec, name)
            try:
                return conn.lookup(stream_name(self.spec, name), key=src.key, keys=keys)
            except Exception:
                # A broken connection is not reused: the next read opens a fresh one.
                self._connectors.pop(name, None)
                with contextlib.suppress(Exception):
                    conn.close()
                raise

    def _compute(self, plan: Plan, query: str, customer_id: str, frames: dict[str, SourceFrame]) -> dict[str, Any]:
        with self._db_lock:
            if self._db is None:
                self._db = connect()
                # A handful of rows: one thread, and no optimiser passes (they cost more than the
                # query itself at this size; results are the same).
                self._db.execute("SET threads = 1")
                self._db.execute("PRAGMA disable_optimizer")
            con = self._db
            con.register("customers", pa.table({"customer_id": pa.array([customer_id], pa.string())}))
            for name, frame in frames.items():
                con.register(source_table(name), frame.to_arrow())
            rows = _run(con, query)
        return rows[0] if rows else {"customer_id": customer_id}

    def close(self) -> None:
        for conn in self._connectors.values():
            with contextlib.suppress(Exception):
                conn.close()
        self._connectors.clear()
        if self._db is not None:
            self._db.close()
            self._db = None


def _run(con: duckdb.DuckDBPyConnection, query: str) -> list[dict[str, Any]]:
    try:
        cur = con.execute(query)
    except duckdb.Error as exc:
        raise BuildError(f"computing the fields failed: {exc}") from exc
    names = [d[0] for d in cur.description or ()]
    return [{n: _plain(v) for n, v in zip(names, row, strict=True)} for row in cur.fetchall()]


def _plain(v: Any) -> Any:
    # The same JSON shapes the materialised snapshot holds, so both modes answer alike.
    if isinstance(v, dt.datetime):
        return v.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(v, dt.date):
        return v.isoformat()
    return v
