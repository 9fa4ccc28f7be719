"""Shared machinery for SQL sources reached through a DB-API driver.

Incremental reads use keyset pagination on ``(cursor_column, key)``, so a sync
that stops midway resumes exactly after the last committed row, and rows that
share a cursor value are neither skipped nor read twice. A ``deleted_column``
(e.g. ``deleted_at``) turns soft-deleted rows into tombstones.

Rows whose cursor column is NULL are read first, ordered by key alone (every
database sorts NULLs differently, and ``x > NULL`` is never true, so mixing them
into the keyset would stall the read). The cursor ``[null, key]`` marks a read
still inside that phase.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

from pydantic import SecretStr

from c360.connectors.base import (
    DEFAULT_BATCH_SIZE,
    Batch,
    Column,
    ConnectorOptions,
    Quarantined,
    Record,
    StreamInfo,
)
from c360.core.errors import TerminalSourceError, is_transient


class SqlOptions(ConnectorOptions):
    cursor_column: str | None = None
    deleted_column: str | None = None
    schema_name: str | None = None


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
        self,
        stream: str,
        *,
        key: str,
        since: str | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> Iterator[Batch]:
        cc = self.options.cursor_column
        last: list[Any] | None = json.loads(since) if since else None
        if last is not None and (not isinstance(last, list) or len(last) != 2):
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
        sql = (
            f"SELECT * FROM {self._table(stream)}"
            f" WHERE CAST({self.quote(key)} AS {self.text_type}) IN ({marks})"
        )
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
            self.name,
            f"{where}: {text}; check the key, cursor_column and deleted_column of '{stream}'",
        )

    def _pages(
        self, stream: str, key: str, phase: str | None, last: list[Any] | None, batch_size: int
    ) -> Iterator[Batch]:
        """Keyset pages; ``phase`` is None (no cursor column), "null" or "value"."""
        table, q, p = self._table(stream), self.quote, self.placeholder
        cc = self.options.cursor_column
        while True:
            conds: list[str] = []
            params: list[Any] = []
            if phase is None or phase == "null":
                order = q(key)
                if phase == "null":
                    conds.append(f"{q(str(cc))} IS NULL")
                if last is not None:
                    conds.append(f"{q(key)} > {p}")
                    params.append(last[1])
            else:
                order = f"{q(str(cc))}, {q(key)}"
                conds.append(f"{q(str(cc))} IS NOT NULL")
                if last is not None:
                    # The leading ``>=`` lets an index on (cursor, key) bound the scan.
                    conds.append(f"{q(str(cc))} >= {p} AND ({q(str(cc))} > {p} OR {q(key)} > {p})")
                    params += [last[0], last[0], last[1]]
            where = f" WHERE {' AND '.join(conds)}" if conds else ""
            sql = f"SELECT * FROM {table}{where} ORDER BY {order} LIMIT {int(batch_size)}"
            cur = self._execute(sql, params, stream=stream)
            names = [d[0] for d in cur.description]
            rows = cur.fetchall()
            if not rows:
                return
            ki = self._index(names, key, stream)
            dc = self.options.deleted_column
            di = self._index(names, dc, stream) if dc else None
            records: list[Record] = []
            bad: list[Quarantined] = []
            after = f" after cursor {json.dumps(last)}" if last is not None else ""
            for i, row in enumerate(plain_rows(rows), start=1):
                item = self._record(names, row, ki, di)
                if isinstance(item, Record):
                    records.append(item)
                else:
                    bad.append(Quarantined(f"{stream} row {i} of the page{after}", *item))
            tail_cursor = rows[-1][self._index(names, cc, stream)] if cc else None
            last = [plain_value(tail_cursor), plain_value(rows[-1][ki])]
            # Without a cursor column there is nothing to resume from: a new read starts over.
            yield Batch(records, json.dumps(last) if cc else None, bad)
            if len(rows) < batch_size:
                return

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
    def _record(
        names: list[str], row: Sequence[Any], ki: int, di: int | None
    ) -> Record | tuple[str, str]:
        """A record from a plain row (see ``plain_rows``), or (reason, raw) without a key."""
        data = dict(zip(names, row, strict=True))
        if row[ki] is None or row[ki] == "":
            return f"missing key '{names[ki]}'", json.dumps(data, default=str)[:500]
        deleted = di is not None and row[di] not in (None, 0, False, "", "0")
        return Record(str(data[names[ki]]), data, deleted)
