"""PostgreSQL (and Amazon Redshift, which speaks its wire protocol) as a source, via psycopg 3.

Reads are keyset pages (see ``sql.py``) on an autocommit connection, so memory
stays flat whatever the table's size and no transaction is held open between
pages. Connection failures and timeouts are Transient; bad credentials, a
missing database, table or column are Terminal, with what to fix.

With ``cdc: true`` (PostgreSQL with ``wal_level = logical``) a read follows a logical
replication slot instead of a cursor column, so updates that keep their timestamp and hard
DELETEs are seen without a full read (see ``pg_cdc.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field, SecretStr

from c360.connectors.base import DEFAULT_BATCH_SIZE, Batch, Column, ConnectorOptions
from c360.connectors.sql import ServerOptions, SqlConnector, scrub
from c360.core.errors import MissingDependency, SourceError, TerminalSourceError, TransientSourceError


class PostgresOptions(ServerOptions):
    dsn: SecretStr | None = None  # e.g. postgresql://user:pass@host:5432/db (may hold a password)
    port: int = 5432
    user: str | None = None
    dbname: str | None = None
    sslmode: str | None = None
    # Change data capture through a logical replication slot (needs wal_level = logical and a
    # user with the REPLICATION attribute); ``slot`` names it (default c360_<db>_<schema>_<table>).
    cdc: bool = False
    slot: str | None = Field(default=None, pattern=r"^[a-z0-9_]{1,63}$")


# SQLSTATE classes worth retrying: connection exceptions, insufficient resources,
# operator intervention (shutdown, statement timeout), serialisation failures.
_TRANSIENT_SQLSTATE = ("08", "53", "57", "40")
# Connection-time messages that no retry can fix.
_TERMINAL_CONNECT = (
    "authentication failed",
    "no password supplied",
    "does not exist",
    "pg_hba.conf",
    "permission denied",
    "invalid dsn",
    "invalid connection option",
    'missing "="',
)


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingDependency("psycopg", "postgres") from exc
    return psycopg


class PostgresConnector(SqlConnector):
    name: ClassVar[str] = "postgres"
    Options: ClassVar[type[ConnectorOptions]] = PostgresOptions
    placeholder: ClassVar[str] = "%s"
    default_schema: ClassVar[str] = "public"

    options: PostgresOptions

    def __init__(self, options: ConnectorOptions, *, base_dir: Path = Path(".")) -> None:
        assert isinstance(options, PostgresOptions)
        self.options = options
        self._psycopg = _psycopg()

    @property
    def schema(self) -> str:
        return self.options.schema_name or self.default_schema

    def connect(self) -> Any:
        o = self.options
        kwargs: dict[str, Any] = {"connect_timeout": o.connect_timeout, "autocommit": True}
        if o.sslmode:
            kwargs["sslmode"] = o.sslmode
        if o.dsn is not None:
            return self._psycopg.connect(o.dsn.get_secret_value(), **kwargs)
        kwargs.update(host=o.host, port=o.port)
        if o.user:
            kwargs["user"] = o.user
        if o.password is not None:
            kwargs["password"] = o.password.get_secret_value()
        if o.dbname:
            kwargs["dbname"] = o.dbname
        return self._psycopg.connect(**kwargs)

    def check(self) -> None:
        super().check()
        if self.options.cdc:
            level = self._execute("SHOW wal_level").fetchone()[0]
            if level != "logical":
                from c360.connectors.pg_cdc import wal_error

                raise wal_error(self, f"wal_level is '{level}'")

    def read(
        self, stream: str, *, key: str, since: str | None = None, batch_size: int = DEFAULT_BATCH_SIZE
    ) -> Iterator[Batch]:
        if not self.options.cdc:
            yield from super().read(stream, key=key, since=since, batch_size=batch_size)
            return
        from c360.connectors.pg_cdc import PgCdc

        yield from PgCdc(self, stream, key, batch_size).read(since)

    def tables(self, conn: Any) -> list[str]:
        sql = "SELECT table_name FROM information_schema.tables WHERE table_schema = %s ORDER BY table_name"
        return [r[0] for r in self._execute(sql, [self.schema]).fetchall()]

    def columns(self, table: str) -> tuple[Column, ...]:
        sql = (
            "SELECT column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position"
        )
        rows = self._execute(sql, [self.schema, table], stream=table).fetchall()
        return tuple(Column(r[0], r[1]) for r in rows)

    def translate_error(self, exc: Exception, stream: str | None = None) -> Exception:
        if isinstance(exc, SourceError):
            return exc
        pg = self._psycopg
        if not isinstance(exc, pg.Error):
            if isinstance(exc, TimeoutError | ConnectionError):
                return TransientSourceError(self.name, f"{self._where()}: {self._scrub(exc)}")
            return exc
        text = self._scrub(exc)
        state = getattr(exc, "sqlstate", None) or ""
        where = self._where()
        if state == "42P01":
            tables = ", ".join(self._tables_quietly()) or "none"
            return TerminalSourceError(
                self.name,
                f"{where}: no table '{stream}' in schema '{self.schema}'; check the source's"
                f" table name or schema_name (tables there: {tables})",
            )
        if state == "42703":
            return self._no_column(where, text, stream)
        if state.startswith(("28", "3D")):
            return TerminalSourceError(self.name, f"{where}: {text}; check the user, password and dbname options")
        if state == "42501":
            return TerminalSourceError(self.name, f"{where}: {text}; grant SELECT on '{stream}' to the source's user")
        if state.startswith(_TRANSIENT_SQLSTATE):
            return TransientSourceError(self.name, f"{where}: {text}")
        if isinstance(exc, pg.OperationalError):
            # Connection-time failures carry no SQLSTATE: tell them apart by their text.
            if any(t in text.lower() for t in _TERMINAL_CONNECT):
                return TerminalSourceError(self.name, f"{where}: {text}; check the connection options and credentials")
            return TransientSourceError(self.name, f"{where}: {text}")
        if isinstance(exc, pg.InterfaceError):
            return TransientSourceError(self.name, f"{where}: {text}")
        return TerminalSourceError(self.name, f"{where}: {text}")

    # -- helpers ----------------------------------------------------------------
    def _where(self) -> str:
        o = self.options
        if o.dsn is not None:
            return "dsn"  # the DSN may hold a password: never echo it
        return f"{o.host}:{o.port}/{o.dbname or o.user or ''}"

    def _scrub(self, exc: BaseException) -> str:
        return scrub(" ".join(str(exc).split()), self.options.password, self.options.dsn)


class RedshiftOptions(PostgresOptions):
    port: int = 5439
    sslmode: str | None = "require"


class RedshiftConnector(PostgresConnector):
    """Amazon Redshift: the PostgreSQL wire protocol, with Redshift's port and TLS by default."""

    name: ClassVar[str] = "redshift"
    Options: ClassVar[type[ConnectorOptions]] = RedshiftOptions
