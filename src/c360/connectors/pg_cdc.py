"""PostgreSQL change data capture (``cdc: true``): a logical replication slot per source.

Why this way. psycopg 3 does not speak the streaming replication protocol, so changes are
read with the SQL functions ``pg_logical_slot_peek_changes`` and
``pg_replication_slot_advance`` from an ordinary connection, through the ``test_decoding``
output plugin, which every PostgreSQL server ships (wal2json is an extension that is often
absent; ``pgoutput`` needs a publication, that is ownership of the table, and emits a binary
protocol). Only one thing is taken from each decoded change: the record's key and whether it
was deleted. The rows themselves are then read from the table by key, through the same query
and value conversion as a full read, so a changed record is staged exactly as a full read
would stage it (types, TOASTed values a change does not carry), whatever the plugin prints.

A first read (no cursor, ``--full``, or a slot that went missing):

1. drops a slot of this name if one is left, and creates it over a replication connection
   (``replication=database``) with ``EXPORT_SNAPSHOT``;
2. reads the whole table in that exported snapshot (``SET TRANSACTION SNAPSHOT``), in keyset
   pages: exactly the rows committed before the slot's consistent point;
3. stores the cursor ``{"slot": ..., "lsn": <consistent point>}``, then reads the changes
   committed since, as an incremental read does.

An incremental read peeks at the changes the slot holds, committed before the read began
(so a busy table cannot keep one read going), a few transactions at a time (whole
transactions, so a batch never ends inside one). Each batch carries the LSN of its last commit
as its cursor; the slot is advanced to it (``pg_replication_slot_advance``) only when the next
batch is asked for, that is once the store has committed this one. A crash in between leaves
the slot behind the stored cursor: the next read advances it first, and re-reading a change
is harmless (the row is read by key again). Inserts, updates (however many share one
timestamp), hard DELETEs (tombstones) and key changes are all seen.

A slot that is gone (dropped, or invalidated past ``max_slot_wal_keep_size``), one that is
ahead of the cursor (the build put the cursor back to read a refused batch again) or a
``TRUNCATE`` of the table cannot be replayed: the table is read again from a new slot, and a
``cdc_reread`` notice on the read's first batch tells the sync it is a complete read (what
staging holds beyond it is deleted).

DELETEs only say which row went when the table's replica identity holds the key column: its
primary key (the default) or ``REPLICA IDENTITY FULL``; otherwise the read refuses to start,
saying so. A slot keeps WAL on the server until c360 reads it: drop the slot
(``SELECT pg_drop_replication_slot('...')``) when a source is removed.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from c360.connectors.base import Batch, Notice, Record
from c360.core.errors import SourceError, TerminalSourceError

if TYPE_CHECKING:
    from c360.connectors.postgres import PostgresConnector

PLUGIN = "test_decoding"
REREAD = "cdc_reread"  # the notice kind that makes a read a complete one (see c360.pipeline.sync)
_OPTIONS = "'include-xids', '0', 'skip-empty-xacts', '1'"
_SNAPSHOT = re.compile(r"^[0-9A-Fa-f]+(-[0-9A-Fa-f]+)+$")
_LINE = re.compile(r"^table (.+?): (INSERT|UPDATE|DELETE|TRUNCATE):(.*)$", re.DOTALL)


def lsn_value(lsn: str) -> int:
    """``"0/16B3748"`` → a number that orders LSNs."""
    hi, _, lo = lsn.partition("/")
    return (int(hi, 16) << 32) + int(lo, 16)


def slot_name(dbname: str, schema: str, table: str) -> str:
    """A slot name of its own per database and table (at most 63 characters of a-z, 0-9, _)."""
    name = re.sub(r"[^a-z0-9_]", "_", f"c360_{dbname}_{schema}_{table}".lower())
    if len(name) > 63:
        name = name[:54] + "_" + hashlib.blake2b(name.encode(), digest_size=4).hexdigest()
    return name


# -- test_decoding's text ---------------------------------------------------------------------


def _identifier(text: str, i: int) -> tuple[str, int]:
    """An identifier as PostgreSQL's quote_identifier writes it, from ``text[i:]``."""
    if text.startswith('"', i):
        out, j = [], i + 1
        while j < len(text):
            if text[j] == '"':
                if text.startswith('""', j):
                    out.append('"')
                    j += 2
                    continue
                return "".join(out), j + 1
            out.append(text[j])
            j += 1
        raise ValueError(f"unterminated identifier in {text!r}")
    m = re.compile(r"[^.,\s\[:]+").match(text, i)
    if m is None:
        raise ValueError(f"no identifier at {i} in {text!r}")
    return m.group(0), m.end()


def tables_of(text: str) -> list[tuple[str, str]]:
    """``public.a, "My Schema"."T"`` → ``[("public", "a"), ("My Schema", "T")]``."""
    out, i = [], 0
    while i < len(text):
        schema, i = _identifier(text, i)
        if not text.startswith(".", i):
            raise ValueError(f"expected schema.table in {text!r}")
        table, i = _identifier(text, i + 1)
        out.append((schema, table))
        if text.startswith(", ", i):
            i += 2
    return out


def parse_tuple(text: str) -> dict[str, str | None]:
    """``id[integer]:1 name[text]:'O''Brien'`` → ``{"id": "1", "name": "O'Brien"}`` (text forms).

    ``null`` is None; a TOASTed value the change does not carry (``unchanged-toast-datum``)
    is left out.
    """
    out: dict[str, str | None] = {}
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] == " ":
            i += 1
        if i >= n:
            break
        name, i = _identifier(text, i)
        if not text.startswith("[", i):
            raise ValueError(f"expected [type] after {name!r} in {text!r}")
        end = text.find("]:", i)
        if end < 0:
            raise ValueError(f"unterminated type after {name!r} in {text!r}")
        i = end + 2
        if text.startswith("'", i):
            chars, j = [], i + 1
            while True:
                k = text.find("'", j)
                if k < 0:
                    raise ValueError(f"unterminated value of {name!r} in {text!r}")
                chars.append(text[j:k])
                if text.startswith("''", k):
                    chars.append("'")
                    j = k + 2
                    continue
                i = k + 1
                break
            out[name] = "".join(chars)
        else:
            k = text.find(" ", i)
            k = n if k < 0 else k
            raw = text[i:k]
            i = k
            if raw == "unchanged-toast-datum":
                continue
            out[name] = None if raw == "null" else raw
    return out


@dataclass(frozen=True)
class Change:
    op: str  # INSERT, UPDATE, DELETE, TRUNCATE
    tables: tuple[tuple[str, str], ...]
    old: dict[str, str | None] | None  # DELETE, and UPDATE that changed the key: the old key
    new: dict[str, str | None] | None  # INSERT, UPDATE


def parse_change(data: str) -> Change | None:
    """One line of test_decoding (``BEGIN`` and ``COMMIT`` are not changes: None)."""
    m = _LINE.match(data)
    if m is None:
        return None
    names, op, rest = m.group(1), m.group(2), m.group(3).strip()
    tables = tuple(tables_of(names))
    if op == "TRUNCATE":
        return Change(op, tables, None, None)
    if rest == "(no-tuple-data)":
        return Change(op, tables, None, None)
    if op == "DELETE":
        return Change(op, tables, parse_tuple(rest), None)
    if op == "UPDATE" and rest.startswith("old-key:"):
        old, _, new = rest.removeprefix("old-key:").partition(" new-tuple:")
        return Change(op, tables, parse_tuple(old.strip()), parse_tuple(new.strip()))
    return Change(op, tables, None, parse_tuple(rest))


def _value(values: dict[str, str | None] | None, key: str) -> str | None:
    if not values:
        return None
    if key in values:
        return values[key]
    folded = {k.lower(): v for k, v in values.items()}
    return folded.get(key.lower())


# -- the reader -------------------------------------------------------------------------------


def wal_error(c: PostgresConnector, detail: str) -> TerminalSourceError:
    return TerminalSourceError(
        c.name,
        f"{c._where()}: {detail}; CDC (cdc: true) reads a logical replication slot, which needs "
        "wal_level = logical: run ALTER SYSTEM SET wal_level = logical and restart the server, or drop "
        "cdc to read by cursor_column",
    )


class PgCdc:
    """The CDC read of one table through one connector (see the module's description)."""

    def __init__(self, connector: PostgresConnector, stream: str, key: str, batch_size: int) -> None:
        self.c, self.stream, self.key, self.batch_size = connector, stream, key, batch_size
        o = connector.options
        self.schema = connector.schema
        self.slot = o.slot or slot_name(self._dbname(), self.schema, stream)

    # -- the entry point ------------------------------------------------------------------------
    def read(self, since: str | None) -> Iterator[Batch]:
        self._require_logical()
        self._require_identity()
        if since is None:
            yield from self._first_read(None)
            return
        cursor = self._cursor(since)
        slot = self._slot_state()
        why = None
        if cursor is None:
            why = f"the cursor {since!r} is not a replication slot's"
        elif cursor[0] != self.slot:
            why = f"the cursor names the slot '{cursor[0]}', the source now '{self.slot}'"
        elif slot is None:
            why = f"the replication slot '{self.slot}' is gone (dropped, or removed by the server)"
        elif slot[1] == "lost":
            why = f"the replication slot '{self.slot}' was invalidated (past max_slot_wal_keep_size)"
        elif lsn_value(slot[0]) > lsn_value(cursor[1]):
            why = (
                f"the replication slot '{self.slot}' is at {slot[0]}, past the cursor {cursor[1]} (the "
                "changes in between were read but not kept)"
            )
        if why is not None:
            yield from self._first_read(why)
            return
        assert cursor is not None and slot is not None
        if lsn_value(cursor[1]) > lsn_value(slot[0]):
            # The store committed a batch whose slot advance did not happen (a crash in between).
            self._advance(cursor[1])
        yield from self._changes(first=True)

    # -- a first read ---------------------------------------------------------------------------
    def _first_read(self, why: str | None) -> Iterator[Batch]:
        notices = []
        if why is not None:
            notices.append(Notice(REREAD, f"{self.stream}: {why}; the table is read again from a new slot"))
        self._drop_slot()
        repl = self._connect(replication=True)
        try:
            res = repl.pgconn.exec_(f'CREATE_REPLICATION_SLOT "{self.slot}" LOGICAL {PLUGIN} EXPORT_SNAPSHOT'.encode())
            if res.status != 2:  # PGRES_TUPLES_OK
                message = res.error_message.decode(errors="replace").strip()
                raise self._slot_error(message)
            consistent = res.get_value(0, 1).decode()
            snapshot = res.get_value(0, 2).decode()
            if not _SNAPSHOT.match(snapshot):
                raise TerminalSourceError(self.c.name, f"unexpected snapshot name {snapshot!r}")
            snap = self._connect(replication=False)
            try:
                pg = self.c._psycopg
                snap.autocommit = False
                snap.isolation_level = pg.IsolationLevel.REPEATABLE_READ
                snap.read_only = True
                snap.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
                # The snapshot is imported: the replication connection may go.
                repl.close()
                saved, self.c._conn = self.c._conn, snap
                try:
                    for batch in self.c._pages(self.stream, self.key, None, None, self.batch_size):
                        batch.notices.extend(notices)
                        notices = []
                        yield batch
                finally:
                    self.c._conn = saved
                snap.rollback()
            finally:
                snap.close()
        finally:
            repl.close()
        # Every row up to the consistent point is staged: from here on, the slot's changes.
        yield Batch([], self._dump(consistent), notices=notices)
        yield from self._changes(first=False)

    # -- changes ---------------------------------------------------------------------------------
    def _changes(self, *, first: bool) -> Iterator[Batch]:
        """Batches of the slot's changes committed before now; ``first``: nothing yielded yet."""
        upto = self._one("SELECT pg_current_wal_lsn()::text")
        while True:
            rows = self.c._execute(
                f"SELECT lsn::text, data FROM pg_logical_slot_peek_changes(%s, %s::pg_lsn, %s, {_OPTIONS})",
                [self.slot, upto, self.batch_size],
                stream=self.stream,
            ).fetchall()
            if not rows:
                return
            ops: dict[str, bool] = {}  # key -> deleted, in the order last changed
            pending: dict[str, bool] = {}  # the open transaction's
            last: str | None = None
            truncated = False
            for lsn, data in rows:
                if data.startswith("BEGIN"):
                    pending = {}
                    continue
                if data.startswith("COMMIT"):
                    for k, deleted in pending.items():
                        ops.pop(k, None)
                        ops[k] = deleted
                    pending, last = {}, lsn
                    continue
                change = parse_change(data)
                if change is None or not self._ours(change):
                    continue
                if change.op == "TRUNCATE":
                    truncated = True
                    break
                self._note(change, pending)
            if truncated and first and last is None:
                # Nothing read yet in this read: read the table again, a complete read.
                yield from self._first_read(f"the table {self.schema}.{self.stream} was truncated")
                return
            if last is None:
                return  # truncated after what this read delivered: the next read starts there
            yield self._batch(ops, last)
            first = False
            # The store committed that batch (the next was asked for): the slot may let it go.
            self._advance(last)
            if truncated:
                return

    def _note(self, change: Change, pending: dict[str, bool]) -> None:
        old, new = _value(change.old, self.key), _value(change.new, self.key)
        if change.op == "DELETE":
            if old is None:
                raise TerminalSourceError(
                    self.c.name,
                    f"{self.stream}: a DELETE came without the key '{self.key}' (the table's replica "
                    f"identity does not hold it); run ALTER TABLE {self._qualified()} REPLICA IDENTITY "
                    "FULL, then c360 sync --full",
                )
            pending.pop(old, None)
            pending[old] = True
            return
        if old is not None and old != new:
            pending.pop(old, None)
            pending[old] = True  # the key changed: the old record is gone
        if new is not None:
            pending.pop(new, None)
            pending[new] = False

    def _batch(self, ops: dict[str, bool], lsn: str) -> Batch:
        """The changed records read by key now, and tombstones for those deleted (or gone since)."""
        wanted = [k for k, deleted in ops.items() if not deleted]
        found: dict[str, Record] = {}
        for i in range(0, len(wanted), 1000):
            for r in self.c.lookup(self.stream, key=self.key, keys=wanted[i : i + 1000]):
                found[r.key] = r
        records = [found.get(k) or Record(k, {}, deleted=True) for k in ops]
        return Batch(records, self._dump(lsn))

    def _ours(self, change: Change) -> bool:
        return any(s == self.schema and t == self.stream for s, t in change.tables)

    # -- the server ------------------------------------------------------------------------------
    def _connect(self, *, replication: bool) -> Any:
        try:
            if not replication:
                return self.c.connect()
            o = self.c.options
            kwargs: dict[str, Any] = {
                "connect_timeout": o.connect_timeout,
                "autocommit": True,
                "replication": "database",
            }
            if o.sslmode:
                kwargs["sslmode"] = o.sslmode
            if o.dsn is not None:
                return self.c._psycopg.connect(o.dsn.get_secret_value(), **kwargs)
            kwargs.update(host=o.host, port=o.port)
            if o.user:
                kwargs["user"] = o.user
            if o.password is not None:
                kwargs["password"] = o.password.get_secret_value()
            if o.dbname:
                kwargs["dbname"] = o.dbname
            return self.c._psycopg.connect(**kwargs)
        except SourceError:
            raise
        except Exception as exc:
            error = self.c.translate_error(exc, self.stream)
            if replication and "replication" in str(exc).lower():
                raise TerminalSourceError(
                    self.c.name,
                    f"{self.c._where()}: {self.c._scrub(exc)}; CDC opens a "
                    "replication connection: the user needs the REPLICATION attribute "
                    "(ALTER ROLE ... REPLICATION) and pg_hba.conf must admit it",
                ) from exc
            raise error from exc

    def _slot_error(self, message: str) -> SourceError:
        text = self.c._scrub(Exception(message))
        if "wal_level" in text:
            return self._wal_error(text)
        fix = ""
        if "permission" in text or "must be superuser" in text or "replication role" in text:
            fix = f"; give the user the REPLICATION attribute (ALTER ROLE {self.c.options.user or '...'} REPLICATION)"
        elif "max_replication_slots" in text or "all replication slots" in text:
            fix = "; raise max_replication_slots, or drop slots no longer used"
        return TerminalSourceError(
            self.c.name, f"{self.c._where()}: creating the replication slot '{self.slot}': {text}{fix}"
        )

    def _wal_error(self, detail: str) -> TerminalSourceError:
        return wal_error(self.c, detail)

    def _require_logical(self) -> None:
        level = self._one("SHOW wal_level")
        if level != "logical":
            raise self._wal_error(f"wal_level is '{level}'")

    def _require_identity(self) -> None:
        row = self.c._execute(
            "SELECT c.relreplident::text, ARRAY(SELECT a.attname::text FROM pg_index i JOIN pg_attribute a"
            " ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) WHERE i.indrelid = c.oid AND"
            " CASE WHEN c.relreplident = 'i' THEN i.indisreplident ELSE i.indisprimary END)"
            " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('r', 'p')",
            [self.schema, self.stream],
            stream=self.stream,
        ).fetchone()
        if row is None:
            tables = ", ".join(self.c._tables_quietly()) or "none"
            raise TerminalSourceError(
                self.c.name,
                f"{self.c._where()}: no table '{self.stream}' in schema "
                f"'{self.schema}' (tables there: {tables}); CDC reads a table",
            )
        ident, columns = row
        if ident == "f" or self.key in columns:
            return
        held = f"holds {', '.join(columns)}" if columns and ident != "n" else "is NOTHING"
        if ident == "d" and not columns:
            held = "is its primary key, and it has none"
        raise TerminalSourceError(
            self.c.name,
            f"{self.stream}: its replica identity {held}, so a DELETE would not say which '{self.key}' "
            f"went; run ALTER TABLE {self._qualified()} REPLICA IDENTITY FULL (or make '{self.key}' "
            "the primary key)",
        )

    def _slot_state(self) -> tuple[str, str | None] | None:
        """The slot's confirmed LSN and WAL status, or None when there is no such slot."""
        row = self.c._execute(
            "SELECT confirmed_flush_lsn::text, wal_status, plugin, database FROM pg_replication_slots"
            " WHERE slot_name = %s",
            [self.slot],
            stream=self.stream,
        ).fetchone()
        if row is None or row[0] is None:
            return None
        if row[2] != PLUGIN or row[3] != self._current_db():
            raise TerminalSourceError(
                self.c.name,
                f"{self.stream}: the replication slot '{self.slot}' belongs to plugin '{row[2]}' on "
                f"database '{row[3]}'; name another with the source's 'slot' option",
            )
        return str(row[0]), row[1]

    def _drop_slot(self) -> None:
        state = self.c._execute(
            "SELECT active_pid FROM pg_replication_slots WHERE slot_name = %s", [self.slot], stream=self.stream
        ).fetchone()
        if state is None:
            return
        if state[0] is not None:
            raise TerminalSourceError(
                self.c.name,
                f"{self.stream}: the replication slot '{self.slot}' is in use by process {state[0]}; "
                "another reader holds it (name another with the source's 'slot' option)",
            )
        self.c._execute("SELECT pg_drop_replication_slot(%s)", [self.slot], stream=self.stream).fetchall()

    def _advance(self, lsn: str) -> None:
        self.c._execute(
            "SELECT pg_replication_slot_advance(%s, %s::pg_lsn)", [self.slot, lsn], stream=self.stream
        ).fetchall()

    def _one(self, sql: str) -> str:
        row = self.c._execute(sql, stream=self.stream).fetchone()
        return str(row[0])

    def _current_db(self) -> str:
        return self._one("SELECT current_database()")

    def _dbname(self) -> str:
        o = self.c.options
        return o.dbname or self._current_db()

    def _qualified(self) -> str:
        return f"{self.c.quote(self.schema)}.{self.c.quote(self.stream)}"

    def _dump(self, lsn: str) -> str:
        return json.dumps({"slot": self.slot, "lsn": lsn})

    @staticmethod
    def _cursor(since: str) -> tuple[str, str] | None:
        try:
            value = json.loads(since)
        except ValueError:
            return None
        if isinstance(value, dict) and isinstance(value.get("slot"), str) and isinstance(value.get("lsn"), str):
            return value["slot"], value["lsn"]
        return None
