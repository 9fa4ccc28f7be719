"""SQLite databases as a source (the demo's product telemetry lives in one)."""

from __future__ import annotations

import sqlite3
import urllib.parse
from pathlib import Path
from typing import Any, ClassVar

from c360.connectors.base import Column, ConnectorOptions, resolve_path
from c360.connectors.sql import SqlConnector, SqlOptions
from c360.core.errors import SourceError, TerminalSourceError, TransientSourceError


class SqliteOptions(SqlOptions):
    path: str
    busy_timeout: float = 5.0  # seconds to wait for a writer's lock before a Transient error


class SqliteConnector(SqlConnector):
    name: ClassVar[str] = "sqlite"
    Options: ClassVar[type[ConnectorOptions]] = SqliteOptions

    options: SqliteOptions

    def __init__(self, options: ConnectorOptions, *, base_dir: Path = Path(".")) -> None:
        assert isinstance(options, SqliteOptions)
        self.options = options
        self.path = resolve_path(base_dir, options.path)

    def connect(self) -> Any:
        if not self.path.exists():
            raise TerminalSourceError(self.name, f"no such database file: {self.path}")
        # Quoted, so a path holding '?', '#' or '%' still names the file.
        uri = "file:" + urllib.parse.quote(str(self.path.absolute())) + "?mode=ro"
        return sqlite3.connect(uri, uri=True, check_same_thread=False, timeout=self.options.busy_timeout)

    def tables(self, conn: Any) -> list[str]:
        sql = "SELECT name FROM sqlite_master WHERE type IN ('table','view') ORDER BY name"
        rows = self._execute(sql).fetchall()
        return [r[0] for r in rows if not r[0].startswith("sqlite_")]

    def columns(self, table: str) -> tuple[Column, ...]:
        # SQLite's cursor description carries no types; the table's declaration does.
        rows = self._execute(f"PRAGMA table_info({self.quote(table)})", stream=table).fetchall()
        return tuple(Column(r[1], (r[2] or "any").lower()) for r in rows)

    def translate_error(self, exc: Exception, stream: str | None = None) -> Exception:
        if isinstance(exc, SourceError):
            return exc
        if isinstance(exc, sqlite3.OperationalError):
            text = str(exc)
            if "locked" in text or "busy" in text:
                return TransientSourceError(self.name, f"{self.path.name}: {text}; retry later")
            if "no such table" in text and stream:
                return TerminalSourceError(
                    self.name,
                    f"{self.path.name}: no table '{stream}'; check the source's table name"
                    f" (tables: {', '.join(self._tables_quietly()) or 'none'})",
                )
            return TerminalSourceError(self.name, f"{self.path.name}: {text}")
        if isinstance(exc, sqlite3.DatabaseError):
            return TerminalSourceError(self.name, f"{self.path.name}: {exc}")
        return exc
