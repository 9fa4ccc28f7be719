"""SnowflakeConnector against fakesnow (Snowflake SQL on DuckDB, patched into the real client)."""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from c360.connectors.registry import make_connector
from c360.core.errors import TerminalSourceError, TransientSourceError
from tests.conftest import need_module
from tests.connectors.test_sqlite import Db, sql_contract

LOGIN = {
    "account": "acme-eu1",
    "user": "c360_reader",
    "password": "s3cret-Pa55",
    "warehouse": "reporting",
    "database": "crm",
    "schema_name": "sales",
    "role": "reader",
}


@pytest.fixture
def snow() -> Iterator[Db]:
    need_module("snowflake.connector")
    need_module("fakesnow")
    import fakesnow
    import snowflake.connector

    with fakesnow.patch(), warnings.catch_warnings():
        # fakesnow notes that Arrow results cost a copy; irrelevant for tests.
        warnings.simplefilter("ignore", UserWarning)
        admin = snowflake.connector.connect(
            account="acme-eu1", user="admin", password="x", database="crm", schema="sales"
        )
        admin.cursor().execute("CREATE SCHEMA IF NOT EXISTS crm.sales")
        admin.cursor().execute("USE SCHEMA crm.sales")

        def execute(sql: str, params: tuple[Any, ...]) -> None:
            admin.cursor().execute(sql, params or None)

        yield Db(execute, "%s", "TIMESTAMP_NTZ", lambda n: n)
        admin.close()


def test_snowflake_contract(snow: Db) -> None:
    table = f"customers_{uuid.uuid4().hex[:8]}"

    def make() -> Any:
        return make_connector(
            "snowflake", {**LOGIN, "cursor_column": "updated_at", "deleted_column": "deleted_at"}, base_dir=Path(".")
        )

    sql_contract(make, snow, table)


def test_snowflake_columns_come_back_upper_case(snow: Db) -> None:
    snow.execute("CREATE TABLE accounts (Id VARCHAR, Name VARCHAR, Amount NUMBER(10, 2))", ())
    for row in [("a1", "Acme", "10.50"), ("a2", "Globex", "3"), ("a3", "Initech", None)]:
        snow.execute("INSERT INTO accounts VALUES (%s, %s, %s)", row)
    conn = make_connector("snowflake", LOGIN, base_dir=Path("."))
    conn.check()
    batches = list(conn.read("accounts", key="Id", batch_size=2))
    assert len(batches) == 2
    records = [r for b in batches for r in b.records]
    assert [r.key for r in records] == ["a1", "a2", "a3"]
    assert records[0].data == {"ID": "a1", "NAME": "Acme", "AMOUNT": "10.50"}
    assert [r.data["AMOUNT"] for r in records] == ["10.50", 3, None]
    assert [r.key for r in conn.lookup("accounts", key="ID", keys=["a3"])] == ["a3"]
    info = {s.name: s for s in conn.discover()}["ACCOUNTS"]
    assert [(c.name, c.type) for c in info.columns] == [("ID", "TEXT"), ("NAME", "TEXT"), ("AMOUNT", "NUMBER")]
    conn.close()


def test_snowflake_missing_table_is_terminal(snow: Db) -> None:
    conn = make_connector("snowflake", LOGIN, base_dir=Path("."))
    with pytest.raises(TerminalSourceError) as err:
        list(conn.read("no_such_table", key="id"))
    text = str(err.value)
    assert "no table 'no_such_table'" in text and "schema sales" in text
    assert "s3cret-Pa55" not in text


def test_snowflake_driver_errors_map_to_transient_or_terminal() -> None:
    need_module("snowflake.connector")
    from snowflake.connector import errors

    conn = make_connector("snowflake", LOGIN, base_dir=Path("."))
    login = errors.DatabaseError(msg="250001: Incorrect username or password was specified.", errno=250001)
    bad = conn.translate_error(login)  # type: ignore[attr-defined]
    assert isinstance(bad, TerminalSourceError)
    assert "check the account, user, password and role" in str(bad)
    down = conn.translate_error(  # type: ignore[attr-defined]
        errors.OperationalError(msg="Failed to connect to DB: acme-eu1", errno=250003)
    )
    assert isinstance(down, TransientSourceError)
    cancelled = conn.translate_error(  # type: ignore[attr-defined]
        errors.ProgrammingError(msg="Statement reached its statement timeout", errno=630)
    )
    assert isinstance(cancelled, TransientSourceError)
    assert "s3cret-Pa55" not in repr(conn.options)  # type: ignore[attr-defined]
