"""MySQL/MariaDB change data capture (``cdc: true``): the row-based binlog, read from a position.

The binlog is read with ``pymysqlreplication`` (the ``mysql-replication`` package), which
connects as a replica (``COM_BINLOG_DUMP``) and decodes the row events. As for PostgreSQL
(``pg_cdc.py``), only the key and the kind are taken from each change: the rows themselves are
read from the table by key, through the same query and value conversion as a full read, so a
changed record is staged exactly as a full read would stage it.

A first read (no cursor, ``--full``, or a position the server can no longer replay):

1. opens a transaction ``WITH CONSISTENT SNAPSHOT`` and notes the binlog position of that very
   moment: MariaDB reports the snapshot's own position (``binlog_snapshot_file`` and
   ``binlog_snapshot_position``, no lock taken); on MySQL, ``FLUSH TABLES WITH READ LOCK`` holds
   writes for the instant between the snapshot and ``SHOW BINARY LOG STATUS`` (``SHOW MASTER
   STATUS`` before 8.2), as ``mysqldump --single-transaction --source-data`` does;
2. reads the whole table in that snapshot, in keyset pages: exactly the rows committed before
   the noted position;
3. stores the cursor ``{"file": ..., "pos": ..., "server_id": ...}``, then reads the changes
   committed since, as an incremental read does.

An incremental read streams the binlog from the cursor to the position the server had when the
read began (so a busy server cannot keep one read going), for the source's database and table
only. Changes are gathered a transaction at a time (committed by an ``XID`` event, a ``COMMIT``
query for a non-transactional table, or a DDL statement of its own), so a batch never ends
inside one; its cursor is the position after its last commit. The server keeps no state for
the reader: re-reading from a cursor put back is harmless. Inserts, updates (however many share
one timestamp), hard DELETEs (tombstones) and key changes are all seen.

A binlog file that is gone (purged by ``binlog_expire_logs_seconds``/``expire_logs_days`` or
``PURGE BINARY LOGS``, or the binlog reset), a cursor of another server, a ``TRUNCATE`` of the
table or row events whose column count no longer matches the table (an ``ALTER TABLE`` since)
cannot be replayed: the table is read again, and a ``cdc_reread`` notice on the read's first
batch tells the sync it is a complete read (what staging holds beyond it is deleted).

The server needs ``log_bin`` on, ``binlog_format=ROW`` and ``binlog_row_image=FULL``; the read
refuses to start otherwise, naming the variable to set. The user needs ``REPLICATION SLAVE`` and
``REPLICATION CLIENT`` (MariaDB 10.5+: ``BINLOG MONITOR``), and on MySQL ``RELOAD`` for the lock.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from c360.connectors.base import Batch, Notice, Record
from c360.connectors.pg_cdc import REREAD
from c360.connectors.sql import find_column, plain_value
from c360.core.errors import MissingDependency, SourceError, TerminalSourceError

if TYPE_CHECKING:
    from c360.connectors.mysql import MySqlConnector

__all__ = ["REREAD", "BinlogPos", "MySqlCdc", "binlog_error", "parse_cursor", "reader_id", "truncated_table"]

_TRUNCATE = re.compile(
    r"^\s*(?:/\*.*?\*/\s*)*TRUNCATE\s+(?:TABLE\s+)?(?:(`(?:[^`]|``)+`|[\w$]+)\s*\.\s*)?(`(?:[^`]|``)+`|[\w$]+)",
    re.IGNORECASE | re.DOTALL,
)
_PURGED = 1236  # ER_MASTER_FATAL_ERROR_READING_BINLOG: the file asked for is not in the index
_DENIED = (1227, 1045, 1142, 1044)  # a privilege is missing
_SETTINGS = "log_bin=mysql-bin, binlog_format=ROW, binlog_row_image=FULL and a server_id"


class _QuietMetadata(logging.Filter):
    """The library warns at every connection when ``binlog_row_metadata`` is not FULL; this
    reader does not need the column names the binlog would then carry."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "BINLOG_ROW_METADATA" not in record.getMessage().upper()


logging.getLogger("pymysqlreplication").addFilter(_QuietMetadata())


@dataclass(frozen=True)
class BinlogPos:
    file: str
    pos: int

    def order(self) -> tuple[int, str, int]:
        """Orders positions: by the file's sequence number, then the offset in it."""
        m = re.search(r"\.(\d+)$", self.file)
        return (int(m.group(1)) if m else 0, self.file, self.pos)

    def __str__(self) -> str:
        return f"{self.file}:{self.pos}"


def parse_cursor(since: str) -> tuple[BinlogPos, int | None] | None:
    """A stored cursor → its binlog position and server id; None when it is not a binlog cursor."""
    try:
        value = json.loads(since)
    except ValueError:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("file"), str):
        return None
    pos, server = value.get("pos"), value.get("server_id")
    if not isinstance(pos, int) or isinstance(pos, bool):
        return None
    return BinlogPos(value["file"], pos), server if isinstance(server, int) else None


def reader_id(database: str, table: str) -> int:
    """A replica server id of its own per database and table, in 2^30 .. 2^31 - 1."""
    digest = hashlib.blake2b(f"{database}.{table}".encode(), digest_size=4).digest()
    return 0x40000000 + int.from_bytes(digest, "big") % 0x3FFFFFFF


def _unquote(name: str) -> str:
    return name[1:-1].replace("``", "`") if name.startswith("`") else name


def truncated_table(query: str, default_schema: str) -> tuple[str, str] | None:
    """``TRUNCATE TABLE `db`.`t` `` → ``("db", "t")`` (the query's default schema when unnamed)."""
    m = _TRUNCATE.match(query)
    if m is None:
        return None
    schema = _unquote(m.group(1)) if m.group(1) else default_schema
    return schema, _unquote(m.group(2))


def binlog_error(c: MySqlConnector, detail: str) -> TerminalSourceError:
    return TerminalSourceError(
        c.name,
        f"{c._where()}: {detail}; CDC (cdc: true) reads the row-based binlog, which needs log_bin on, "
        f"binlog_format=ROW and binlog_row_image=FULL: set {_SETTINGS} in the server's configuration "
        "([mysqld] or [mariadbd]) and restart it, or drop cdc to read by cursor_column",
    )


def require_binlog(c: MySqlConnector, stream: str | None = None) -> int:
    """Refuse a server whose binlog a CDC read cannot follow; its ``server_id`` otherwise."""
    row = c._execute(
        "SELECT @@global.log_bin, @@global.binlog_format, @@global.binlog_row_image, @@global.server_id", stream=stream
    ).fetchone()
    log_bin, fmt, image, server_id = row
    if str(log_bin) in ("0", "OFF"):
        raise binlog_error(c, "binary logging is off (log_bin = OFF)")
    if str(fmt).upper() != "ROW":
        raise binlog_error(c, f"binlog_format is '{fmt}' (SET GLOBAL binlog_format = 'ROW' applies to new sessions)")
    if str(image).upper() != "FULL":
        raise binlog_error(
            c, f"binlog_row_image is '{image}' (SET GLOBAL binlog_row_image = 'FULL' applies to new sessions)"
        )
    return int(server_id)


def _replication() -> Any:
    try:
        import pymysqlreplication
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingDependency("mysql-replication", "mysql") from exc
    return pymysqlreplication


class _Replay(Exception):
    """The binlog from here cannot be replayed onto what was staged: the table is read again."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


@dataclass
class _Progress:
    """Where a stream of changes stands: keys changed (→ deleted) by committed transactions not
    yet delivered, and the positions after the last commit and the last batch delivered."""

    last: BinlogPos
    delivered: BinlogPos
    ops: dict[str, bool] = field(default_factory=dict)
    pending: dict[str, bool] = field(default_factory=dict)

    def note(self, key: str, deleted: bool) -> None:
        self.pending.pop(key, None)
        self.pending[key] = deleted

    def commit(self, at: BinlogPos) -> None:
        for k, deleted in self.pending.items():
            self.ops.pop(k, None)
            self.ops[k] = deleted
        self.pending, self.last = {}, at

    @property
    def undelivered(self) -> bool:
        return bool(self.ops) or self.last != self.delivered


class MySqlCdc:
    """The CDC read of one table through one connector (see the module's description)."""

    # True: pin a first read's position under FLUSH TABLES WITH READ LOCK even on MariaDB
    # (which reports the snapshot's position without a lock).
    lock_for_snapshot: ClassVar[bool] = False

    def __init__(self, connector: MySqlConnector, stream: str, key: str, batch_size: int) -> None:
        self.c, self.stream, self.key, self.batch_size = connector, stream, key, batch_size
        self.database = ""
        self.server_id = 0
        self.ncolumns = 0
        self.key_pos = 0

    # -- the entry point ------------------------------------------------------------------------
    def read(self, since: str | None) -> Iterator[Batch]:
        self.server_id = require_binlog(self.c, self.stream)
        self._require_table()
        if since is None:
            yield from self._first_read(None)
            return
        cursor = parse_cursor(since)
        why = self._unreplayable(since, cursor)
        if why is not None:
            yield from self._first_read(why)
            return
        assert cursor is not None
        yield from self._changes(cursor[0], first=True)

    def _unreplayable(self, since: str, cursor: tuple[BinlogPos, int | None] | None) -> str | None:
        if cursor is None:
            return f"the cursor {since!r} is not a binlog position"
        at, server = cursor
        if server is not None and server != self.server_id:
            return f"the cursor is a position in the binlog of server_id {server}, the server's is {self.server_id}"
        logs = self._binary_logs()
        if at.file not in logs:
            return (
                f"the binlog file '{at.file}' of the cursor is no longer on the server (purged, past "
                "binlog_expire_logs_seconds or expire_logs_days, or the binlog was reset)"
            )
        if at.pos > logs[at.file]:
            return f"the cursor {at} is past the end of '{at.file}' ({logs[at.file]} bytes; the binlog was reset)"
        return None

    # -- a first read ---------------------------------------------------------------------------
    def _first_read(self, why: str | None) -> Iterator[Batch]:
        notices = []
        if why is not None:
            notices.append(Notice(REREAD, f"{self.stream}: {why}; the table is read again"))
        snap = self._connect()
        try:
            start = self._snapshot(snap)
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
            with contextlib.suppress(Exception):  # already closed when a page failed
                snap.close()
        # Every row up to the noted position is staged: from here on, the binlog's changes.
        yield Batch([], self._dump(start), notices=notices)
        yield from self._changes(start, first=False)

    def _snapshot(self, conn: Any) -> BinlogPos:
        """Open the snapshot transaction on ``conn``; the binlog position it is consistent with."""
        mariadb = "mariadb" in str(conn.get_server_info()).lower()
        with conn.cursor() as cur:
            try:
                if mariadb and not self.lock_for_snapshot:
                    cur.execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                    cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT")
                    cur.execute("SHOW STATUS LIKE 'binlog_snapshot_%'")
                    status = {str(k).lower(): v for k, v in cur.fetchall()}
                    file, pos = status.get("binlog_snapshot_file"), status.get("binlog_snapshot_position")
                    if file and pos is not None:
                        return BinlogPos(str(file), int(pos))
                    conn.rollback()  # not reported (an old server): pin it under the lock instead
                return self._locked_snapshot(cur)
            except SourceError:
                raise
            except Exception as exc:
                raise self._error(exc, "taking the snapshot of the first read") from exc

    def _locked_snapshot(self, cur: Any) -> BinlogPos:
        cur.execute("FLUSH TABLES WITH READ LOCK")
        try:
            cur.execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT")
            return self._status(cur)
        finally:
            cur.execute("UNLOCK TABLES")

    # -- changes ---------------------------------------------------------------------------------
    def _changes(self, start: BinlogPos, *, first: bool) -> Iterator[Batch]:
        """Batches of the changes committed after ``start`` and before now; ``first``: nothing
        yielded yet in this read."""
        with self.c.conn.cursor() as cur:
            upto = self._status(cur)
        if start.order() >= upto.order():
            return
        state = _Progress(start, start)
        reader = self._reader(start)
        why = None
        try:
            for batch in self._events(reader, state, upto):
                yield batch
                first = False
        except _Replay as replay:
            why = replay.why
        finally:
            reader.close()
        if why is not None and first:
            # Nothing delivered yet in this read: read the table again, a complete read.
            yield from self._first_read(why)
            return
        if state.undelivered:
            # At the end, or stopped before what cannot be replayed: the next read starts there.
            yield self._batch(state.ops, state.last)

    def _events(self, reader: Any, state: _Progress, upto: BinlogPos) -> Iterator[Batch]:
        while True:
            try:
                event = reader.fetchone()
            except UnicodeDecodeError as exc:
                raise TerminalSourceError(
                    self.c.name,
                    f"{self.stream}: a text value in the binlog is not UTF-8 ({exc}); set binlog_row_metadata=FULL "
                    "(MySQL 8.0.14+, MariaDB 10.5+) so the binlog names each column's character set",
                ) from exc
            except Exception as exc:
                code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
                if code == _PURGED:
                    raise _Replay(f"the binlog at {state.last} cannot be read ({self.c._scrub(str(exc))})") from exc
                raise self._error(exc, "reading the binlog") from exc
            if event is None:
                return  # the end of the binlog
            if not self._apply(event, state):
                continue
            state.commit(BinlogPos(str(reader.log_file), int(reader.log_pos)))
            if len(state.ops) >= self.batch_size:
                yield self._batch(state.ops, state.last)
                state.ops, state.delivered = {}, state.last
            if state.last.order() >= upto.order():
                return

    def _apply(self, event: Any, state: _Progress) -> bool:
        """Note a row event's keys in ``state``; whether ``event`` commits what was noted."""
        kind = type(event).__name__
        if kind == "XidEvent":
            return True
        if kind == "QueryEvent":
            query = str(event.query).strip().rstrip(";").strip().upper()
            if query == "BEGIN":
                return False
            schema = event.schema.decode(errors="replace") if isinstance(event.schema, bytes) else str(event.schema)
            if truncated_table(str(event.query), schema) == (self.database, self.stream):
                raise _Replay(f"the table {self.database}.{self.stream} was truncated")
            return True  # COMMIT, or a DDL statement: a transaction of its own
        i = self._key_index(event)
        for row in event.rows:
            if kind == "WriteRowsEvent":
                state.note(_key(row["values"], i), False)
            elif kind == "DeleteRowsEvent":
                state.note(_key(row["values"], i), True)
            else:
                old, new = _key(row["before_values"], i), _key(row["after_values"], i)
                if old != new:
                    state.note(old, True)  # the key changed: the old record is gone
                state.note(new, False)
        return False

    def _key_index(self, event: Any) -> int:
        """Where the key is among a row event's values: by name when the binlog carries the
        names (binlog_row_metadata=FULL), else by the table's column position."""
        names = [str(getattr(c, "name", None) or "") for c in event.columns]
        found = find_column(names, self.key) if any(names) else None
        if found is not None:
            return found
        if len(event.columns) != self.ncolumns:
            raise _Replay(
                f"the changes of {self.database}.{self.stream} in the binlog have {len(event.columns)} columns, "
                f"the table {self.ncolumns} (an ALTER TABLE since)"
            )
        return self.key_pos

    def _batch(self, ops: dict[str, bool], at: BinlogPos) -> Batch:
        """The changed records read by key now, and tombstones for those deleted (or gone since)."""
        wanted = [k for k, deleted in ops.items() if not deleted]
        found: dict[str, Record] = {}
        for i in range(0, len(wanted), 1000):
            for r in self.c.lookup(self.stream, key=self.key, keys=wanted[i : i + 1000]):
                found[r.key] = r
        records = [found.get(k) or Record(k, {}, deleted=True) for k in ops]
        return Batch(records, self._dump(at))

    # -- the server ------------------------------------------------------------------------------
    def _reader(self, start: BinlogPos) -> Any:
        _replication()
        from pymysqlreplication import BinLogStreamReader
        from pymysqlreplication.event import QueryEvent, XidEvent
        from pymysqlreplication.row_event import DeleteRowsEvent, UpdateRowsEvent, WriteRowsEvent

        o = self.c.options
        settings: dict[str, Any] = {
            "host": o.host,
            "port": o.port,
            "user": o.user,
            "password": o.password.get_secret_value() if o.password is not None else "",
            "connect_timeout": o.connect_timeout,
            "read_timeout": o.read_timeout,
            "charset": "utf8mb4",
        }
        if o.ssl_ca:
            settings["ssl"] = {"ca": o.ssl_ca}
        rid = o.server_id or reader_id(self.database, self.stream)
        if rid == self.server_id:
            rid = rid + 1 if rid < 0xFFFFFFFF else rid - 1
        return BinLogStreamReader(
            connection_settings=settings,
            server_id=rid,
            resume_stream=True,
            blocking=False,
            log_file=start.file,
            log_pos=start.pos,
            only_events=[WriteRowsEvent, UpdateRowsEvent, DeleteRowsEvent, XidEvent, QueryEvent],
            only_schemas=[self.database],
            only_tables=[self.stream],
            enable_logging=False,
        )

    def _connect(self) -> Any:
        try:
            return self.c.connect()
        except Exception as exc:
            raise self.c.translate_error(exc, self.stream) from exc

    def _status(self, cur: Any) -> BinlogPos:
        """The server's binlog position now (SHOW BINARY LOG STATUS, or SHOW MASTER STATUS)."""
        try:
            try:
                cur.execute("SHOW BINARY LOG STATUS")
            except Exception as exc:
                if not exc.args or exc.args[0] != 1064:  # a parse error: a server older than MySQL 8.2
                    raise
                cur.execute("SHOW MASTER STATUS")
            row = cur.fetchone()
        except SourceError:
            raise
        except Exception as exc:
            raise self._error(exc, "reading the binlog position") from exc
        if row is None:
            raise binlog_error(self.c, "the server reports no binlog position (binary logging is off)")
        return BinlogPos(str(row[0]), int(row[1]))

    def _binary_logs(self) -> dict[str, int]:
        try:
            with self.c.conn.cursor() as cur:
                cur.execute("SHOW BINARY LOGS")
                return {str(r[0]): int(r[1]) for r in cur.fetchall()}
        except SourceError:
            raise
        except Exception as exc:
            raise self._error(exc, "listing the binlog files") from exc

    def _error(self, exc: Exception, doing: str) -> Exception:
        code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
        if code in _DENIED:
            text = self.c._scrub(str(exc.args[1]) if len(exc.args) > 1 else str(exc))
            return TerminalSourceError(
                self.c.name,
                f"{self.c._where()}: {doing}: {text}; CDC reads the binlog as a replica: GRANT REPLICATION "
                f"SLAVE, REPLICATION CLIENT ON *.* TO '{self.c.options.user}' (MariaDB 10.5+: REPLICATION "
                "SLAVE, BINLOG MONITOR), and RELOAD on MySQL, for the first read's FLUSH TABLES WITH READ LOCK",
            )
        return self.c.translate_error(exc, self.stream)

    def _require_table(self) -> None:
        database = self.c.schema
        if not database:
            row = self.c._execute("SELECT DATABASE()", stream=self.stream).fetchone()
            database = row[0] if row else None
        if not database:
            raise TerminalSourceError(
                self.c.name, f"{self.stream}: CDC reads the binlog of one database: set the source's database option"
            )
        self.database = str(database)
        rows = self.c._execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s"
            " ORDER BY ordinal_position",
            [self.database, self.stream],
            stream=self.stream,
        ).fetchall()
        names = [str(r[0]) for r in rows]
        if not names:
            tables = ", ".join(self.c._tables_quietly()) or "none"
            raise TerminalSourceError(
                self.c.name,
                f"{self.c._where()}: no table '{self.stream}' in database '{self.database}' "
                f"(tables there: {tables}); CDC reads a table",
            )
        i = find_column(names, self.key)
        if i is None:
            raise TerminalSourceError(
                self.c.name,
                f"table {self.stream} has no column '{self.key}' (columns: {', '.join(names)}); check the source's key",
            )
        self.ncolumns, self.key_pos = len(names), i

    def _dump(self, at: BinlogPos) -> str:
        return json.dumps({"file": at.file, "pos": at.pos, "server_id": self.server_id})


def _key(values: dict[str, Any], i: int) -> str:
    """The key of a row image, in the text form a full read keys by."""
    value = list(values.values())[i]
    if isinstance(value, bytes):
        with contextlib.suppress(UnicodeDecodeError):
            value = value.decode()
    return str(plain_value(value))
