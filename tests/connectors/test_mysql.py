"""MySqlConnector against the machine's MariaDB (127.0.0.1:3306, user root, database test)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from c360.connectors.mysql import MySqlConnector
from c360.connectors.registry import make_connector
from c360.core.errors import TerminalSourceError, TransientSourceError
from tests.conftest import need_module, need_service
from tests.connectors.test_sqlite import Db, keys_of, lookback_contract, sql_contract

HOST, PORT = "127.0.0.1", 3306


@pytest.fixture
def maria() -> Iterator[tuple[str, Db]]:
    """A uniquely named table for the test, dropped afterwards."""
    need_module("pymysql")
    need_service("MariaDB", HOST, PORT)
    import pymysql

    admin = pymysql.connect(host=HOST, port=PORT, user="root", database="test", autocommit=True)
    table = f"c360_test_{uuid.uuid4().hex[:10]}"

    def execute(sql: str, params: tuple[Any, ...]) -> None:
        with admin.cursor() as cur:
            cur.execute(sql, params or None)

    try:
        yield table, Db(execute, "%s", "DATETIME(6)", lambda n: f"`{n}`")
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS `{table}`")
        admin.close()


def options(**extra: Any) -> dict[str, Any]:
    return {"host": HOST, "port": PORT, "user": "root", "database": "test", **extra}


def test_mysql_contract(maria: tuple[str, Db]) -> None:
    table, db = maria

    def make() -> Any:
        return make_connector(
            "mysql", options(cursor_column="updated_at", deleted_column="deleted_at"), base_dir=Path(".")
        )

    sql_contract(make, db, table)


def test_mysql_update_at_the_last_cursor_value_is_read(maria: tuple[str, Db]) -> None:
    table, db = maria

    def make(lookback: float) -> Any:
        return make_connector(
            "mysql",
            options(cursor_column="updated_at", deleted_column="deleted_at", lookback=lookback),
            base_dir=Path("."),
        )

    lookback_contract(make, db, table)


def test_mysql_string_keys_and_backtick_names(maria: tuple[str, Db]) -> None:
    table, db = maria
    db.execute(f"CREATE TABLE `{table}` (`account id` VARCHAR(20) PRIMARY KEY, `order` INT)", ())
    for k, v in [("acc-1", 1), ("acc-2", 2), ("acc-3", 3), ("acc-4", 4)]:
        db.execute(f"INSERT INTO `{table}` VALUES (%s, %s)", (k, v))
    conn = make_connector("mysql", options(), base_dir=Path("."))
    assert isinstance(conn, MySqlConnector)
    batches = list(conn.read(table, key="account id", batch_size=3))
    assert len(batches) == 2
    assert keys_of(batches) == ["acc-1", "acc-2", "acc-3", "acc-4"]
    assert [r.data["order"] for b in batches for r in b.records] == [1, 2, 3, 4]
    found = conn.lookup(table, key="account id", keys=["acc-3"])
    assert [(r.key, r.data["order"]) for r in found] == [("acc-3", 3)]
    info = {s.name: s for s in conn.discover()}[table]
    assert [(c.name, c.type) for c in info.columns] == [("account id", "varchar(20)"), ("order", "int(11)")]
    conn.close()


def test_mysql_bad_credentials_are_terminal_and_never_leak_secrets(maria: tuple[str, Db]) -> None:
    conn = make_connector("mysql", options(user="no_such_user_c360", password="s3cret-Pa55"), base_dir=Path("."))
    with pytest.raises(TerminalSourceError) as err:
        conn.check()
    text = str(err.value)
    assert "no_such_user_c360" in text and "check the user, password and database" in text
    assert "s3cret-Pa55" not in text


def test_mysql_missing_table_is_terminal_and_lists_tables(maria: tuple[str, Db]) -> None:
    table, db = maria
    db.execute(f"CREATE TABLE `{table}` (id INT PRIMARY KEY)", ())
    conn = make_connector("mysql", options(), base_dir=Path("."))
    with pytest.raises(TerminalSourceError) as err:
        list(conn.read(table + "_x", key="id"))
    text = str(err.value)
    assert f"no table '{table}_x' in database 'test'" in text and table in text


def test_mysql_unreachable_server_is_transient() -> None:
    need_module("pymysql")
    conn = make_connector("mysql", options(port=1, connect_timeout=2), base_dir=Path("."))
    with pytest.raises(TransientSourceError, match=r"127\.0\.0\.1:1/"):
        conn.check()
