"""Shared machinery for SQL sources reached through a DB-API driver.

Incremental reads use keyset pagination on ``(cursor_column, key)``, so a sync
that stops midway resumes exactly after the last committed row, and rows that
share a cursor value are neither skipped nor read twice. A ``deleted_column``
(e.g. ``deleted_at``) turns soft-deleted rows into tombstones.

Rows whose cursor column is NULL are read first, ordered by key alone (every
database sorts NULLs differently, and ``x > NULL`` is never true, so mixing them
into the keyset would stall the read). The cursor ``[null, key]`` marks a read
still inside that phase.

A row updated with the same cursor value as the last row read (timestamps of one
second, or a transaction committing late) sorts *before* the keyset position, so a
read strictly after it would never see the change. The cursor therefore also keeps a
look-back window: ``[value, key, [[value, key, digest], ...]]`` lists the rows read
whose cursor value lies within ``lookback`` of the last one (with ``lookback: 0``,
those sharing its value). A resumed read starts at ``value - lookback`` (``>=``) and
skips a row only when the window holds it with the same value and content digest: an
update in the window is read again, an unchanged row is not delivered twice. Hard
DELETEs leave no row to read: only a ``deleted_column`` (soft delete) or a full read
reveals them.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

from pydantic import Field, SecretStr

from c360.connectors.base import DEFAULT_BATCH_SIZE, Batch, Column, ConnectorOptions, Quarantined, Record, StreamInfo
from c360.core.errors import TerminalSourceError, is_transient


class SqlOptions(ConnectorOptions):
    cursor_column: str | None = None
    deleted_column: str | None = None
    schema_name: str | None = None
    # How far before the last cursor value an incremental read starts again: seconds for a
    # timestamp cursor, the column's own units for a number. 0 re-reads that value only.
    lookback: float = Field(default=0.0, ge=0)


_WINDOW_MAX = 1_000  # rows kept in a cursor's look-back window; beyond, rows are re-delivered


class ServerOptions(SqlOptions):
    """A database server reached over the network (each subclass sets its default ``port``)."""

    host: str = "127.0.0.1"
    port: int
    password: SecretStr | None = None
    connect_timeout: int = 10


def scrub(text: str, *secrets: SecretStr | None) -> str:
    """``text`` with every non-empty secret masked: drivers echo connection strings in errors.

    >>> scrub("bad password 'hunter2'", SecretStr("hunter2"), None)
    "bad password '**********'"
    """
    for secret in secrets:
        if secret is not None and secret.get_secret_value():
            text = text.replace(secret.get_secret_value(), "**********")
    return text


def plain_value(value: Any) -> Any:
    """A driver value as plain JSON: exact decimals, ISO dates and times, hex bytes."""
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            return str(value)
        return str(value) if value != value.to_integral_value() else int(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return value


_NATIVE = frozenset({str, int, float, bool, type(None)})
_TEMPORAL = frozenset({dt.datetime, dt.date, dt.time, type(None)})


def plain_rows(rows: Sequence[Sequence[Any]]) -> list[tuple[Any, ...]]:
    """A page of driver rows with every value made plain JSON (see ``plain_value``).

    Works column by column: a column holding only strings and numbers is kept as it
    is, so the cost is paid only where a value needs converting.
    """
    if not rows:
        return []
    columns: list[Any] = list(zip(*rows, strict=True))
    for i, column in enumerate(columns):
        types = set(map(type, column))
        if types <= _NATIVE:
            continue
        if types <= _TEMPORAL:
            columns[i] = [None if v is None else v.isoformat() for v in column]
        else:
            columns[i] = list(map(plain_value, column))
    return list(zip(*columns, strict=True))


def find_column(names: Sequence[str], column: str) -> int | None:
    """The position of ``column`` in ``names``: exact match first, then ignoring case.

    Databases that fold unquoted names (Snowflake to upper, PostgreSQL to lower)
    return the folded name, while the spec may spell it either way.
    """
    if column in names:
        return list(names).index(column)
    folded = [n.lower() for n in names]
    return folded.index(column.lower()) if column.lower() in folded else None


class SqlConnector:
    """Base for DB-API sources. Subclasses provide ``connect()``, ``quote()`` and ``tables()``."""

    name: ClassVar[str] = "sql"
    Options: ClassVar[type[ConnectorOptions]] = SqlOptions
    placeholder: ClassVar[str] = "?"
    # The type a key is cast to when looking keys up as strings (MySQL spells it CHAR).
    text_type: ClassVar[str] = "TEXT"

    options: SqlOptions

    # -- to provide -------------------------------------------------------------
    def connect(self) -> Any:
        raise NotImplementedError

    def quote(self, ident: str) -> str:
        return '"' + ident.replace('"', '""') + '"'

    def tables(self, conn: Any) -> list[str]:
        raise NotImplementedError

    def columns(self, table: str) -> tuple[Column, ...]:
        """A table's columns; the default asks the driver to describe an empty result."""
        cur = self._execute(f"SELECT * FROM {self._table(table)} WHERE 1=0", stream=table)
        return tuple(Column(d[0], str(d[1])) for d in cur.description or ())

    def translate_error(self, exc: Exception, stream: str | None = None) -> Exception:
        """Map a driver error to a Transient or Terminal source error (``stream`` if known)."""
        return exc

    # -- protocol ---------------------------------------------------------------
    _conn: Any = None

    @property
    def conn(self) -> Any:
        if self._conn is None:
            try:
                self._conn = self.connect()
            except Exception as exc:
                raise self.translate_error(exc) from exc
        return self._conn

    def check(self) -> None:
        self._execute("SELECT 1").fetchall()

    def discover(self) -> list[StreamInfo]:
        return [
            StreamInfo(table, self.columns(table), cursor_field=self.options.cursor_column)
            for table in self.tables(self.conn)
        ]

    def read(
        self, stream: str, *, key: str, since: str | None = None, batch_size: int = DEFAULT_BATCH_SIZE
    ) -> Iterator[Batch]:
        cc = self.options.cursor_column
        last: list[Any] | None = json.loads(since) if since else None
        if last is not None and (not isinstance(last, list) or len(last) not in (2, 3)):
            raise TerminalSourceError(self.name, f"{stream}: unreadable cursor {since!r}")
        if cc is None:
            yield from self._pages(stream, key, None, last, batch_size)
            return
        if last is None or last[0] is None:
            yield from self._pages(stream, key, "null", last, batch_size)
            last = None
        yield from self._pages(stream, key, "value", last, batch_size)

    def lookup(self, stream: str, *, key: str, keys: Sequence[str]) -> list[Record]:
        if not keys:
            return []
        marks = ", ".join([self.placeholder] * len(keys))
        sql = f"SELECT * FROM {self._table(stream)} WHERE CAST({self.quote(key)} AS {self.text_type}) IN ({marks})"
        cur = self._execute(sql, [str(k) for k in keys], stream=stream)
        names = [d[0] for d in cur.description]
        ki = self._index(names, key, stream)
        dc = self.options.deleted_column
        di = self._index(names, dc, stream) if dc else None
        out = []
        for row in plain_rows(cur.fetchall()):
            record = self._record(names, row, ki, di)
            if isinstance(record, Record):
                out.append(record)
        return out

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    # -- helpers ----------------------------------------------------------------
    def _tables_quietly(self) -> list[str]:
        """The tables, for an error message: an empty list when even that fails."""
        try:
            return self.tables(self.conn)
        except Exception:
            return []

    def _no_column(self, where: str, text: str, stream: str | None) -> TerminalSourceError:
        return TerminalSourceError(
            self.name, f"{where}: {text}; check the key, cursor_column and deleted_column of '{stream}'"
        )

    def _pages(
        self, stream: str, key: str, phase: str | None, last: list[Any] | None, batch_size: int
    ) -> Iterator[Batch]:
        """Keyset pages; ``phase`` is None (no cursor column), "null" or "value"."""
        window = _Window.load(last, self.options.lookback) if phase == "value" else None
        while True:
            sql, params = self._page_query(stream, key, phase, last, window, batch_size)
            cur = self._execute(sql, params, stream=stream)
            names = [d[0] for d in cur.description]
            rows = cur.fetchall()
            if not rows:
                return
            ki = self._index(names, key, stream)
            dc = self.options.deleted_column
            di = self._index(names, dc, stream) if dc else None
            ci = self._index(names, str(self.options.cursor_column), stream) if phase else None
            records: list[Record] = []
            bad: list[Quarantined] = []
            after = f" after cursor {json.dumps(last[:2])}" if last is not None else ""
            for i, row in enumerate(plain_rows(rows), start=1):
                item = self._record(names, row, ki, di)
                if not isinstance(item, Record):
                    bad.append(Quarantined(f"{stream} row {i} of the page{after}", *item))
                elif window is None or ci is None or window.admit(row[ci], item):
                    records.append(item)
            tail_cursor = rows[-1][ci] if ci is not None else None
            last = [plain_value(tail_cursor), plain_value(rows[-1][ki])]
            if window is not None:
                window.resumed = False
                last.append(window.dump(last[0]))
            # Without a cursor column there is nothing to resume from: a new read starts over.
            yield Batch(records, json.dumps(last) if phase else None, bad)
            if len(rows) < batch_size:
                return

    def _page_query(
        self, stream: str, key: str, phase: str | None, last: list[Any] | None, window: _Window | None, batch_size: int
    ) -> tuple[str, list[Any]]:
        """The SQL of the next keyset page, and its parameters."""
        table, q, p = self._table(stream), self.quote, self.placeholder
        cc = q(str(self.options.cursor_column))
        conds: list[str] = []
        params: list[Any] = []
        if phase is None or phase == "null":
            order = q(key)
            if phase == "null":
                conds.append(f"{cc} IS NULL")
            if last is not None:
                conds.append(f"{q(key)} > {p}")
                params.append(last[1])
        else:
            order = f"{cc}, {q(key)}"
            conds.append(f"{cc} IS NOT NULL")
            if window is not None and window.resumed:
                # Look back: read again from the window's start; what it holds unchanged is skipped.
                conds.append(f"{cc} >= {p}")
                params.append(window.start)
            elif last is not None:
                # The leading ``>=`` lets an index on (cursor, key) bound the scan.
                conds.append(f"{cc} >= {p} AND ({cc} > {p} OR {q(key)} > {p})")
                params += [last[0], last[0], last[1]]
        where = f" WHERE {' AND '.join(conds)}" if conds else ""
        return f"SELECT * FROM {table}{where} ORDER BY {order} LIMIT {int(batch_size)}", params

    def _index(self, names: Sequence[str], column: str, stream: str) -> int:
        i = find_column(names, column)
        if i is None:
            raise TerminalSourceError(
                self.name,
                f"table {stream} has no column '{column}' (columns: {', '.join(names)});"
                " check the source's key, cursor_column and deleted_column",
            )
        return i

    def _table(self, stream: str) -> str:
        if self.options.schema_name:
            return f"{self.quote(self.options.schema_name)}.{self.quote(stream)}"
        return self.quote(stream)

    def _execute(self, sql: str, params: Sequence[Any] = (), *, stream: str | None = None) -> Any:
        try:
            cur = self.conn.cursor()
            cur.execute(sql, tuple(params))
            return cur
        except Exception as exc:
            error = self.translate_error(exc, stream)
            if is_transient(error):
                # The connection may be broken: the next call opens a new one.
                self.close()
            raise error from exc

    @staticmethod
    def _record(names: list[str], row: Sequence[Any], ki: int, di: int | None) -> Record | tuple[str, str]:
        """A record from a plain row (see ``plain_rows``), or (reason, raw) without a key."""
        data = dict(zip(names, row, strict=True))
        if row[ki] is None or row[ki] == "":
            return f"missing key '{names[ki]}'", json.dumps(data, default=str)[:500]
        deleted = di is not None and row[di] not in (None, 0, False, "", "0")
        return Record(str(data[names[ki]]), data, deleted)


class _Window:
    """The rows read whose cursor value lies within ``lookback`` of the newest one.

    ``admit`` tells a row to deliver (new, or changed since it was read) from one the
    window already holds unchanged; ``dump`` keeps what is still inside the window for
    the next batch's cursor. ``resumed`` is true until the first page of a read that
    resumes from such a window: that page starts at ``start``, the window's lower bound.
    """

    def __init__(self, rows: dict[str, tuple[Any, str]], lookback: float, start: Any, resumed: bool) -> None:
        self.rows, self.lookback, self.start, self.resumed = rows, lookback, start, resumed

    @classmethod
    def load(cls, last: list[Any] | None, lookback: float) -> _Window:
        """The window a cursor carries; a two-part cursor (older c360) resumes strictly after."""
        if last is None or len(last) < 3 or not isinstance(last[2], list):
            return cls({}, lookback, None, False)
        rows = {str(k): (v, str(d)) for v, k, d in (e for e in last[2] if len(e) == 3)}
        return cls(rows, lookback, minus(last[0], lookback), True)

    def admit(self, value: Any, record: Record) -> bool:
        """Whether to deliver ``record`` (cursor ``value``), remembering it either way."""
        digest = _digest(record.data)
        seen = self.rows.get(record.key) == (value, digest)
        self.rows.pop(record.key, None)  # re-inserted last: the dict stays in read order
        self.rows[record.key] = (value, digest)
        return not seen

    def dump(self, newest: Any) -> list[list[Any]]:
        """The rows still inside the window below ``newest``, newest ``_WINDOW_MAX`` at most."""
        floor = minus(newest, self.lookback)
        self.rows = {k: e for k, e in self.rows.items() if not _older(e[0], floor)}
        kept = list(self.rows.items())[-_WINDOW_MAX:]
        self.rows = dict(kept)
        return [[v, k, d] for k, (v, d) in kept]


def minus(value: Any, lookback: float) -> Any:
    """A cursor value moved back by ``lookback``: seconds for a timestamp, units for a number.

    ISO timestamps keep their separator, so text columns still compare in order. A value
    that is neither is returned as it is (the look-back then covers that value alone).

    >>> minus("2026-05-01 10:00:05", 5), minus(42, 2), minus("abc", 5)
    ('2026-05-01 10:00:00', 40, 'abc')
    """
    if not lookback:
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value - lookback if isinstance(value, float) or lookback % 1 else value - int(lookback)
    if isinstance(value, str):
        when = _timestamp(value)
        if when is not None:
            sep = value[10] if len(value) > 10 else "T"
            return (when - dt.timedelta(seconds=lookback)).isoformat(sep=sep)
    return value


def _timestamp(value: str) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        return None


def _older(value: Any, floor: Any) -> bool:
    """Whether cursor ``value`` sorts before ``floor`` (timestamps by instant, else natively)."""
    if isinstance(value, str) and isinstance(floor, str):
        a, b = _timestamp(value), _timestamp(floor)
        if a is not None and b is not None and (a.tzinfo is None) == (b.tzinfo is None):
            return a < b
    try:
        return bool(value < floor)
    except TypeError:
        return False


def _digest(data: dict[str, Any]) -> str:
    """A short fingerprint of a row's content, to tell an update from a row read before."""
    text = json.dumps(data, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()
