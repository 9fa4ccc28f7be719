"""Shared machinery for SQL sources reached through a DB-API driver.

Incremental reads use keyset pagination on ``(cursor_column, key)``, so a sync
that stops midway resumes exactly after the last committed row, and rows that
share a cursor value are neither skipped nor read twice. A ``deleted_column``
(e.g. ``deleted_at``) turns soft-deleted rows into tombstones.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

from c360.connectors.base import (
    DEFAULT_BATCH_SIZE,
    Batch,
    Column,
    ConnectorOptions,
    Record,
    StreamInfo,
)
from c360.core.errors import TerminalSourceError


class SqlOptions(ConnectorOptions):
    cursor_column: str | None = None
    deleted_column: str | None = None
    schema_name: str | None = None


def _plain(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return str(value) if value != value.to_integral_value() else int(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return value


class SqlConnector:
    """Base for DB-API sources. Subclasses provide ``connect()``, ``quote()`` and ``tables()``."""

    name: ClassVar[str] = "sql"
    Options: ClassVar[type[ConnectorOptions]] = SqlOptions
    placeholder: ClassVar[str] = "?"

    options: SqlOptions

    # -- to provide -------------------------------------------------------------
    def connect(self) -> Any:
        raise NotImplementedError

    def quote(self, ident: str) -> str:
        return '"' + ident.replace('"', '""') + '"'

    def tables(self, conn: Any) -> list[str]:
        raise NotImplementedError

    def translate_error(self, exc: Exception) -> Exception:
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
        out = []
        for table in self.tables(self.conn):
            cur = self._execute(f"SELECT * FROM {self._table(table)} WHERE 1=0")
            cols = tuple(Column(d[0], str(d[1])) for d in cur.description or ())
            out.append(StreamInfo(table, cols, cursor_field=self.options.cursor_column))
        return out

    def read(
        self, stream: str, *, key: str, since: str | None = None, batch_size: int = DEFAULT_BATCH_SIZE
    ) -> Iterator[Batch]:
        table, q = self._table(stream), self.quote
        cc = self.options.cursor_column
        last: list[Any] | None = json.loads(since) if since else None
        while True:
            params: list[Any] = []
            if cc:
                order = f"{q(cc)}, {q(key)}"
                where = ""
                if last is not None:
                    p = self.placeholder
                    where = f" WHERE ({q(cc)} > {p} OR ({q(cc)} = {p} AND {q(key)} > {p}))"
                    params = [last[0], last[0], last[1]]
            else:
                order, where = q(key), ""
                if last is not None:
                    where = f" WHERE {q(key)} > {self.placeholder}"
                    params = [last[1]]
            sql = f"SELECT * FROM {table}{where} ORDER BY {order} LIMIT {int(batch_size)}"
            cur = self._execute(sql, params)
            names = [d[0] for d in cur.description]
            rows = cur.fetchall()
            if not rows:
                return
            records = [self._record(names, row, key) for row in rows]
            tail = dict(zip(names, rows[-1], strict=True))
            last = [tail[cc] if cc else None, tail[key]]
            cursor = json.dumps([_plain(v) for v in last]) if cc else None
            # Without a cursor column a resumed read starts over; the cursor still pages.
            yield Batch(records, cursor)
            if len(rows) < batch_size:
                return

    def lookup(self, stream: str, *, key: str, keys: Sequence[str]) -> list[Record]:
        if not keys:
            return []
        marks = ", ".join([self.placeholder] * len(keys))
        cur = self._execute(f"SELECT * FROM {self._table(stream)} WHERE CAST({self.quote(key)} AS {self.text_type}) IN ({marks})", list(keys))
        names = [d[0] for d in cur.description]
        return [self._record(names, row, key) for row in cur.fetchall()]

    text_type: ClassVar[str] = "TEXT"

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # -- helpers ----------------------------------------------------------------
    def _table(self, stream: str) -> str:
        if self.options.schema_name:
            return f"{self.quote(self.options.schema_name)}.{self.quote(stream)}"
        return self.quote(stream)

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        try:
            cur = self.conn.cursor()
            cur.execute(sql, tuple(params))
            return cur
        except Exception as exc:
            raise self.translate_error(exc) from exc

    def _record(self, names: list[str], row: Sequence[Any], key: str) -> Record:
        data = {n: _plain(v) for n, v in zip(names, row, strict=True)}
        dc = self.options.deleted_column
        deleted = bool(dc and data.get(dc) not in (None, 0, False, "", "0"))
        return Record(str(data[key]), data, deleted)
