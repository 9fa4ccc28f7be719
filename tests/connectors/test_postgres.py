"""PostgresConnector and RedshiftConnector against the machine's PostgreSQL (127.0.0.1:5432)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from c360.connectors.postgres import PostgresConnector, RedshiftConnector
from c360.connectors.registry import make_connector
from c360.core.errors import TerminalSourceError, TransientSourceError
from tests.conftest import need_module, need_service
from tests.connectors.test_sqlite import Db, keys_of, lookback_contract, sql_contract

HOST, PORT = "127.0.0.1", 5432


@pytest.fixture
def pg() -> Iterator[tuple[str, Db]]:
    """A schema of its own for the test, dropped afterwards."""
    need_module("psycopg")
    need_service("PostgreSQL", HOST, PORT)
    import psycopg

    schema = f"c360_test_{uuid.uuid4().hex[:10]}"
    admin = psycopg.connect(host=HOST, port=PORT, user="postgres", dbname="test", autocommit=True)
    admin.execute(f'CREATE SCHEMA "{schema}"')
    admin.execute(f'SET search_path TO "{schema}"')

    def execute(sql: str, params: tuple[Any, ...]) -> None:
        admin.execute(sql, params)

    try:
        yield schema, Db(execute, "%s", "TIMESTAMP", lambda name: f'"{name}"')
    finally:
        admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        admin.close()


def options(schema: str, **extra: Any) -> dict[str, Any]:
    return {"host": HOST, "port": PORT, "user": "postgres", "dbname": "test", "schema_name": schema, **extra}


def test_postgres_contract(pg: tuple[str, Db]) -> None:
    schema, db = pg

    def make() -> Any:
        return make_connector(
            "postgres", options(schema, cursor_column="updated_at", deleted_column="deleted_at"), base_dir=Path(".")
        )

    sql_contract(make, db, "customers")


def test_postgres_update_at_the_last_cursor_value_is_read(pg: tuple[str, Db]) -> None:
    schema, db = pg

    def make(lookback: float) -> Any:
        return make_connector(
            "postgres",
            options(schema, cursor_column="updated_at", deleted_column="deleted_at", lookback=lookback),
            base_dir=Path("."),
        )

    lookback_contract(make, db, "customers")


def test_postgres_dsn_and_redshift_subclass(pg: tuple[str, Db]) -> None:
    schema, db = pg
    db.execute('CREATE TABLE "accounts" (id TEXT PRIMARY KEY, amount NUMERIC(10, 2))', ())
    for i, amount in [("a", "1.50"), ("b", "2.00"), ("c", None)]:
        db.execute('INSERT INTO "accounts" VALUES (%s, %s)', (i, amount))
    dsn = f"postgresql://postgres@{HOST}:{PORT}/test"
    conn = make_connector("postgres", {"dsn": dsn, "schema_name": schema}, base_dir=Path("."))
    assert isinstance(conn, PostgresConnector)
    batches = list(conn.read("accounts", key="id", batch_size=2))
    assert keys_of(batches) == ["a", "b", "c"]
    # Decimals become plain JSON values: exact strings, or integers when whole.
    assert [r.data["amount"] for b in batches for r in b.records] == ["1.50", 2, None]
    conn.close()

    rs = make_connector("redshift", options(schema, sslmode="disable"), base_dir=Path("."))
    assert isinstance(rs, RedshiftConnector) and rs.name == "redshift"
    assert keys_of(list(rs.read("accounts", key="id"))) == ["a", "b", "c"]
    assert RedshiftConnector.Options.model_validate({}).port == 5439  # type: ignore[attr-defined]
    rs.close()


def test_postgres_bad_credentials_are_terminal_and_never_leak_secrets(pg: tuple[str, Db]) -> None:
    schema, _ = pg
    conn = make_connector(
        "postgres", options(schema, user="no_such_role_c360", password="s3cret-Pa55"), base_dir=Path(".")
    )
    with pytest.raises(TerminalSourceError) as err:
        conn.check()
    text = str(err.value)
    assert "no_such_role_c360" in text and "check the" in text
    assert "s3cret-Pa55" not in text
    assert "s3cret-Pa55" not in repr(conn.options)  # type: ignore[attr-defined]

    wrong_db = make_connector("postgres", options(schema, dbname="no_such_db_c360"), base_dir=Path("."))
    with pytest.raises(TerminalSourceError, match="no_such_db_c360"):
        wrong_db.check()


def test_postgres_unreachable_server_is_transient() -> None:
    need_module("psycopg")
    # A port nobody listens on: connection refused is worth retrying later.
    conn = make_connector(
        "postgres",
        {"host": "127.0.0.1", "port": 1, "user": "postgres", "password": "hunter2", "connect_timeout": 2},
        base_dir=Path("."),
    )
    with pytest.raises(TransientSourceError) as err:
        conn.check()
    assert "hunter2" not in str(err.value)


def test_postgres_missing_table_names_schema_and_tables(pg: tuple[str, Db]) -> None:
    schema, db = pg
    db.execute('CREATE TABLE "orders" (id INTEGER PRIMARY KEY)', ())
    conn = make_connector("postgres", options(schema), base_dir=Path("."))
    with pytest.raises(TerminalSourceError) as err:
        list(conn.read("order", key="id"))
    text = str(err.value)
    assert "no table 'order'" in text and schema in text and "orders" in text
    assert [s.name for s in conn.discover()] == ["orders"]
    conn.close()
