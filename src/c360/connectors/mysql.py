"""MySQL and MariaDB as a source, via PyMySQL.

Reads are keyset pages (see ``sql.py``) on an autocommit connection: under
InnoDB's REPEATABLE READ an open transaction would keep showing the snapshot of
the first page, and an incremental read would miss every later change.

With ``cdc: true`` (a server with the row-based binlog: ``log_bin``, ``binlog_format=ROW``,
``binlog_row_image=FULL``) a read follows the binlog from a position instead of a cursor
column, so updates that keep their timestamp and hard DELETEs are seen without a full read
(see ``mysql_cdc.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from c360.connectors.base import DEFAULT_BATCH_SIZE, Batch, Column, ConnectorOptions
from c360.connectors.sql import ServerOptions, SqlConnector, scrub
from c360.core.errors import MissingDependency, SourceError, TerminalSourceError, TransientSourceError


class MySqlOptions(ServerOptions):
    port: int = 3306
    user: str = "root"
    database: str | None = None
    read_timeout: int | None = 300
    ssl_ca: str | None = None
    # Change data capture from the row-based binlog (needs log_bin, binlog_format=ROW,
    # binlog_row_image=FULL and a user with REPLICATION SLAVE and REPLICATION CLIENT);
    # ``server_id`` is the replica id the reader connects with (default: one per database and table).
    cdc: bool = False
    server_id: int | None = Field(default=None, ge=1, le=4294967295)


# Server error numbers that a retry can fix: lock wait timeout, deadlock, too many
# connections, and the client's own "can't connect", "server has gone away", "lost connection".
_TRANSIENT = {1205, 1213, 1040, 1203, 2002, 2003, 2006, 2013, 2055}
_AUTH = {1044, 1045, 1049, 1698, 1142}


def _pymysql() -> Any:
    try:
        import pymysql
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingDependency("pymysql", "mysql") from exc
    return pymysql


class MySqlConnector(SqlConnector):
    name: ClassVar[str] = "mysql"
    Options: ClassVar[type[ConnectorOptions]] = MySqlOptions
    placeholder: ClassVar[str] = "%s"
    text_type: ClassVar[str] = "CHAR"

    options: MySqlOptions

    def __init__(self, options: ConnectorOptions, *, base_dir: Path = Path(".")) -> None:
        assert isinstance(options, MySqlOptions)
        self.options = options
        self._pymysql = _pymysql()

    def quote(self, ident: str) -> str:
        return "`" + ident.replace("`", "``") + "`"

    @property
    def schema(self) -> str | None:
        return self.options.schema_name or self.options.database

    def connect(self) -> Any:
        o = self.options
        kwargs: dict[str, Any] = {
            "host": o.host,
            "port": o.port,
            "user": o.user,
            "password": o.password.get_secret_value() if o.password is not None else "",
            "database": o.database,
            "connect_timeout": o.connect_timeout,
            "read_timeout": o.read_timeout,
            "charset": "utf8mb4",
            "autocommit": True,
        }
        if o.ssl_ca:
            kwargs["ssl"] = {"ca": o.ssl_ca}
        return self._pymysql.connect(**kwargs)

    def check(self) -> None:
        super().check()
        if self.options.cdc:
            from c360.connectors.mysql_cdc import require_binlog

            require_binlog(self)

    def read(
        self, stream: str, *, key: str, since: str | None = None, batch_size: int = DEFAULT_BATCH_SIZE
    ) -> Iterator[Batch]:
        if not self.options.cdc:
            yield from super().read(stream, key=key, since=since, batch_size=batch_size)
            return
        from c360.connectors.mysql_cdc import MySqlCdc

        yield from MySqlCdc(self, stream, key, batch_size).read(since)

    def tables(self, conn: Any) -> list[str]:
        sql = (
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = COALESCE(%s, DATABASE()) ORDER BY table_name"
        )
        return [r[0] for r in self._execute(sql, [self.schema]).fetchall()]

    def columns(self, table: str) -> tuple[Column, ...]:
        sql = (
            "SELECT column_name, column_type FROM information_schema.columns"
            " WHERE table_schema = COALESCE(%s, DATABASE()) AND table_name = %s"
            " ORDER BY ordinal_position"
        )
        rows = self._execute(sql, [self.schema, table], stream=table).fetchall()
        return tuple(Column(r[0], r[1]) for r in rows)

    def translate_error(self, exc: Exception, stream: str | None = None) -> Exception:
        if isinstance(exc, SourceError):
            return exc
        err = self._pymysql.err
        if not isinstance(exc, err.MySQLError):
            if isinstance(exc, TimeoutError | ConnectionError):
                return TransientSourceError(self.name, f"{self._where()}: {exc}")
            return exc
        code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
        text = self._scrub(str(exc.args[1]) if len(exc.args) > 1 else str(exc))
        where = self._where()
        if code == 1146:
            tables = ", ".join(self._tables_quietly()) or "none"
            return TerminalSourceError(
                self.name,
                f"{where}: no table '{stream}' in database '{self.schema}'; check the source's"
                f" table name or database (tables there: {tables})",
            )
        if code == 1054:
            return self._no_column(where, text, stream)
        if code in _AUTH:
            return TerminalSourceError(self.name, f"{where}: {text}; check the user, password and database options")
        if code in _TRANSIENT or isinstance(exc, err.OperationalError | err.InterfaceError):
            return TransientSourceError(self.name, f"{where}: {text}")
        return TerminalSourceError(self.name, f"{where}: {text}")

    # -- helpers ----------------------------------------------------------------
    def _where(self) -> str:
        o = self.options
        return f"{o.user}@{o.host}:{o.port}/{o.database or ''}"

    def _scrub(self, text: str) -> str:
        return scrub(text, self.options.password)
