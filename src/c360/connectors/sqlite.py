"""SQLite databases as a source (the demo's product telemetry lives in one)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any, ClassVar

from c360.connectors.base import ConnectorOptions, resolve_path
from c360.connectors.sql import SqlConnector, SqlOptions
from c360.core.errors import TerminalSourceError


class SqliteOptions(SqlOptions):
    path: str


class SqliteConnector(SqlConnector):
    name: ClassVar[str] = "sqlite"
    Options: ClassVar[type[ConnectorOptions]] = SqliteOptions

    def __init__(self, options: ConnectorOptions, *, base_dir: Path = Path(".")) -> None:
        assert isinstance(options, SqliteOptions)
        self.options = options
        self.path = resolve_path(base_dir, options.path)

    def connect(self) -> Any:
        if not self.path.exists():
            raise TerminalSourceError(self.name, f"no such database file: {self.path}")
        return sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)

    def tables(self, conn: Any) -> list[str]:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table','view') ORDER BY name").fetchall()
        return [r[0] for r in rows if not r[0].startswith("sqlite_")]

    def translate_error(self, exc: Exception) -> Exception:
        if isinstance(exc, TerminalSourceError):
            return exc
        if isinstance(exc, sqlite3.OperationalError):
            return TerminalSourceError(self.name, f"{self.path.name}: {exc}")
        return exc
