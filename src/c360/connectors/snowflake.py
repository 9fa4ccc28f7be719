"""Snowflake as a source, via snowflake-connector-python.

Reads are keyset pages (see ``sql.py``). Plain names (``customers``, ``updated_at``)
are left unquoted so Snowflake resolves them the way its users wrote them, case
insensitively; any other name is quoted exactly. Result columns come back as
Snowflake stores them (usually upper case), and keys are matched ignoring case.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, ClassVar

from pydantic import SecretStr

from c360.connectors.base import Column, ConnectorOptions
from c360.connectors.sql import SqlConnector, SqlOptions, scrub
from c360.core.errors import MissingDependency, SourceError, TerminalSourceError, TransientSourceError


class SnowflakeOptions(SqlOptions):
    account: str
    user: str
    password: SecretStr | None = None
    warehouse: str | None = None
    database: str | None = None
    role: str | None = None
    login_timeout: int = 30
    network_timeout: int | None = 300


_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")
# Login failures: wrong user or password, locked or disabled user, bad account or role.
_AUTH_ERRNO = {250001, 390100, 390101, 390102, 390144, 390189, 390190, 390201, 390422}


def _snowflake() -> Any:
    try:
        import snowflake.connector
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingDependency("snowflake-connector-python", "snowflake") from exc
    return snowflake.connector


class SnowflakeConnector(SqlConnector):
    name: ClassVar[str] = "snowflake"
    Options: ClassVar[type[ConnectorOptions]] = SnowflakeOptions
    placeholder: ClassVar[str] = "%s"  # the connector's default "pyformat" binding

    options: SnowflakeOptions

    def __init__(self, options: ConnectorOptions, *, base_dir: Path = Path(".")) -> None:
        assert isinstance(options, SnowflakeOptions)
        self.options = options
        self._sf = _snowflake()

    def quote(self, ident: str) -> str:
        return ident if _PLAIN.match(ident) else '"' + ident.replace('"', '""') + '"'

    def connect(self) -> Any:
        o = self.options
        kwargs: dict[str, Any] = {
            "account": o.account,
            "user": o.user,
            "login_timeout": o.login_timeout,
            "network_timeout": o.network_timeout,
        }
        if o.password is not None:
            kwargs["password"] = o.password.get_secret_value()
        for name, value in (
            ("warehouse", o.warehouse),
            ("database", o.database),
            ("schema", o.schema_name),
            ("role", o.role),
        ):
            if value:
                kwargs[name] = value
        return self._sf.connect(**kwargs)

    def tables(self, conn: Any) -> list[str]:
        sql = (
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = COALESCE(%s, CURRENT_SCHEMA()) ORDER BY table_name"
        )
        rows = self._execute(sql, [self._stored(self.options.schema_name)]).fetchall()
        return [r[0] for r in rows]

    def columns(self, table: str) -> tuple[Column, ...]:
        sql = (
            "SELECT column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = COALESCE(%s, CURRENT_SCHEMA()) AND table_name = %s"
            " ORDER BY ordinal_position"
        )
        params = [self._stored(self.options.schema_name), self._stored(table)]
        rows = self._execute(sql, params, stream=table).fetchall()
        return tuple(Column(r[0], r[1]) for r in rows)

    def translate_error(self, exc: Exception, stream: str | None = None) -> Exception:
        if isinstance(exc, SourceError):
            return exc
        errors = self._sf.errors
        if not isinstance(exc, errors.Error):
            if isinstance(exc, TimeoutError | ConnectionError):
                return TransientSourceError(self.name, f"{self._where()}: {exc}")
            return exc
        errno = getattr(exc, "errno", None)
        text = self._scrub(getattr(exc, "msg", None) or str(exc))
        where = self._where()
        if errno == 2003:
            return TerminalSourceError(
                self.name,
                f"{where}: no table '{stream}' visible to role {self.options.role or '(default)'}"
                f" in schema {self.options.schema_name or '(default)'}; check the table name,"
                f" database, schema_name and grants ({text})",
            )
        if errno == 904:
            return self._no_column(where, text, stream)
        if errno in _AUTH_ERRNO or "password" in text.lower():
            return TerminalSourceError(
                self.name, f"{where}: {text}; check the account, user, password and role options"
            )
        transient = (
            errors.OperationalError,
            errors.InterfaceError,
            errors.ServiceUnavailableError,
            errors.GatewayTimeoutError,
            errors.RequestTimeoutError,
            errors.InternalServerError,
            errors.BadGatewayError,
        )
        if isinstance(exc, transient) or errno in (604, 630):  # cancelled, statement timeout
            return TransientSourceError(self.name, f"{where}: {text}")
        return TerminalSourceError(self.name, f"{where}: {text}")

    # -- helpers ----------------------------------------------------------------
    @staticmethod
    def _stored(name: str | None) -> str | None:
        """How Snowflake stores a name in its information schema: plain names upper-cased."""
        if name is None:
            return None
        return name.upper() if _PLAIN.match(name) else name

    def _where(self) -> str:
        o = self.options
        return f"{o.user}@{o.account}/{o.database or ''}"

    def _scrub(self, text: str) -> str:
        return scrub(text, self.options.password)
