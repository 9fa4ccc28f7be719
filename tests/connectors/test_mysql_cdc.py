"""MySQL/MariaDB change data capture (``cdc: true``) against the machine's MariaDB: a first read in
a consistent snapshot at a binlog position, then inserts, same-timestamp updates, hard DELETEs and
key changes without ``--full``; a purged binlog or a TRUNCATE reads the table again.

Needs the row-based binlog (log_bin, binlog_format=ROW, binlog_row_image=FULL): skipped otherwise,
failed instead when C360_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import json
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from c360.connectors.base import Batch, Record
from c360.connectors.mysql_cdc import REREAD, BinlogPos, MySqlCdc, parse_cursor, reader_id, truncated_table
from c360.connectors.registry import make_connector
from c360.core.errors import TerminalSourceError
from c360.pipeline.sync import sync_source
from c360.spec.validate import load_spec_text
from c360.store import Store
from tests.conftest import REQUIRE_SERVICES, need_module, need_service

HOST, PORT = "127.0.0.1", 3306


def test_positions_cursors_and_truncates_are_read() -> None:
    assert BinlogPos("mysql-bin.000010", 4).order() > BinlogPos("mysql-bin.000009", 9999).order()
    assert parse_cursor('{"file": "mysql-bin.000002", "pos": 328, "server_id": 1}') == (
        BinlogPos("mysql-bin.000002", 328),
        1,
    )
    assert parse_cursor('[null, "1"]') is None and parse_cursor("nonsense") is None
    assert truncated_table("TRUNCATE TABLE `db`.`cust``s`", "x") == ("db", "cust`s")
    assert truncated_table("truncate customers", "test") == ("test", "customers")
    assert truncated_table("DELETE FROM customers", "test") is None
    assert 0x40000000 <= reader_id("test", "customers") < 0x80000000


def test_a_server_without_the_row_binlog_is_explained() -> None:
    need_module("pymysql")
    from c360.connectors.mysql import MySqlConnector, MySqlOptions
    from c360.connectors.mysql_cdc import binlog_error

    conn = MySqlConnector(MySqlOptions(database="test", cdc=True))
    message = str(binlog_error(conn, "binary logging is off (log_bin = OFF)"))
    assert "log_bin" in message and "binlog_format=ROW" in message and "binlog_row_image=FULL" in message
    assert "restart" in message


@pytest.fixture
def maria() -> Iterator[tuple[str, Any]]:
    """A database of its own, on a server with the row-based binlog; dropped afterwards."""
    need_module("pymysql")
    need_module("pymysqlreplication")
    need_service("MariaDB", HOST, PORT)
    import pymysql

    admin = pymysql.connect(host=HOST, port=PORT, user="root", autocommit=True)
    with admin.cursor() as cur:
        cur.execute("SELECT @@global.log_bin, @@global.binlog_format, @@global.binlog_row_image")
        log_bin, fmt, image = cur.fetchone()
    if str(log_bin) != "1" or fmt != "ROW" or image != "FULL":
        admin.close()
        message = (
            f"MariaDB on {HOST}:{PORT} has log_bin={log_bin}, binlog_format={fmt}, binlog_row_image={image}; "
            "CDC needs log_bin=mysql-bin, binlog_format=ROW, binlog_row_image=FULL (see .ci/run)"
        )
        if REQUIRE_SERVICES:
            pytest.fail(message + " (C360_REQUIRE_SERVICES=1)")
        pytest.skip(message)
    db = f"c360_cdc_{uuid.uuid4().hex[:10]}"
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{db}`")
        cur.execute(f"USE `{db}`")
    try:
        yield db, admin
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE `{db}`")
        admin.close()


def sql(admin: Any, statement: str, params: tuple[Any, ...] = ()) -> None:
    with admin.cursor() as cur:
        cur.execute(statement, params or None)


def connector(db: str, **extra: Any) -> Any:
    return make_connector(
        "mysql", {"host": HOST, "port": PORT, "user": "root", "database": db, "cdc": True, **extra}, base_dir=Path(".")
    )


def drain(conn: Any, since: str | None, batch_size: int = 2) -> tuple[list[Batch], str | None]:
    batches = list(conn.read("customers", key="id", since=since, batch_size=batch_size))
    cursor = since
    for b in batches:
        if b.cursor is not None:
            cursor = b.cursor
    return batches, cursor


def records(batches: list[Batch]) -> list[Record]:
    return [r for b in batches for r in b.records]


def latest(batches: list[Batch]) -> dict[str, Record]:
    return {r.key: r for r in records(batches)}


def setup_customers(admin: Any, n: int = 5) -> None:
    sql(
        admin,
        "CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(100), "
        "updated_at DATETIME NOT NULL DEFAULT '2026-01-01 00:00:00') ENGINE=InnoDB",
    )
    for i in range(1, n + 1):
        sql(admin, "INSERT INTO customers (id, name) VALUES (%s, %s)", (i, f"Customer {i}"))


@pytest.mark.parametrize("locked", [False, True], ids=["snapshot-position", "read-lock"])
def test_first_read_then_every_kind_of_change_without_a_full_read(
    maria: tuple[str, Any], locked: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    db, admin = maria
    monkeypatch.setattr(MySqlCdc, "lock_for_snapshot", locked)
    setup_customers(admin)
    conn = connector(db)
    first, cursor = drain(conn, None)
    assert sorted(r.key for r in records(first)) == ["1", "2", "3", "4", "5"]
    assert latest(first)["3"].data == {"id": 3, "name": "Customer 3", "updated_at": "2026-01-01T00:00:00"}
    assert cursor is not None and parse_cursor(cursor) is not None
    again, _ = drain(conn, cursor)
    assert records(again) == []

    sql(admin, "INSERT INTO customers (id, name) VALUES (6, 'Customer 6')")
    sql(admin, "UPDATE customers SET name = 'Renamed 2' WHERE id = 2")  # the same updated_at
    sql(admin, "DELETE FROM customers WHERE id = 4")  # a hard DELETE
    sql(admin, "UPDATE customers SET id = 50 WHERE id = 5")  # a key change
    sql(admin, "START TRANSACTION")
    sql(admin, "UPDATE customers SET name = 'Twice' WHERE id = 1")
    sql(admin, "UPDATE customers SET name = 'Thrice' WHERE id = 1")
    sql(admin, "COMMIT")
    changes, cursor2 = drain(conn, cursor)
    got = latest(changes)
    assert set(got) == {"1", "2", "4", "5", "6", "50"}
    assert got["6"].data["name"] == "Customer 6" and not got["6"].deleted
    assert got["2"].data["name"] == "Renamed 2" and got["2"].data["updated_at"] == "2026-01-01T00:00:00"
    assert got["4"].deleted and got["5"].deleted and not got["50"].deleted
    assert got["1"].data["name"] == "Thrice"
    assert cursor2 is not None
    p1, p2 = parse_cursor(cursor), parse_cursor(cursor2)
    assert p1 is not None and p2 is not None and p2[0].order() > p1[0].order()
    assert records(drain(conn, cursor2)[0]) == []
    conn.close()


def test_a_read_resumes_after_the_last_committed_batch(maria: tuple[str, Any]) -> None:
    db, admin = maria
    setup_customers(admin, 2)
    conn = connector(db)
    _, cursor = drain(conn, None)
    for i in range(10, 16):
        sql(admin, "INSERT INTO customers (id, name) VALUES (%s, 'x')", (i,))  # six transactions
    reader = conn.read("customers", key="id", since=cursor, batch_size=1)
    batch = next(reader)  # the store would commit this one... and the process dies here
    reader.close()
    assert batch.cursor is not None and [r.key for r in batch.records] == ["10"]
    rest, _ = drain(conn, batch.cursor)
    assert sorted(r.key for r in records(rest)) == [str(i) for i in range(11, 16)]
    conn.close()


def test_a_purged_binlog_or_a_truncate_reads_the_table_again(maria: tuple[str, Any]) -> None:
    db, admin = maria
    setup_customers(admin, 3)
    conn = connector(db)
    _, cursor = drain(conn, None)
    assert cursor is not None
    gone = json.dumps({**json.loads(cursor), "file": "mysql-bin.999999"})  # as if purged
    sql(admin, "DELETE FROM customers WHERE id = 1")
    batches, cursor = drain(conn, gone)
    assert [n.kind for n in batches[0].notices] == [REREAD]
    assert "no longer on the server" in batches[0].notices[0].message
    assert sorted(r.key for r in records(batches)) == ["2", "3"]
    sql(admin, "TRUNCATE TABLE customers")
    sql(admin, "INSERT INTO customers (id, name) VALUES (9, 'after')")
    batches, cursor = drain(conn, cursor)
    assert [n.kind for n in batches[0].notices] == [REREAD] and "truncated" in batches[0].notices[0].message
    assert [r.key for r in records(batches)] == ["9"]
    conn.close()


def test_check_and_a_missing_table(maria: tuple[str, Any]) -> None:
    db, _ = maria
    conn = connector(db)
    conn.check()
    with pytest.raises(TerminalSourceError, match="no table 'customers'"):
        drain(conn, None)
    conn.close()


def test_sync_stages_hard_deletes_and_a_reread_tombstones_what_went(maria: tuple[str, Any], tmp_path: Path) -> None:
    db, admin = maria
    setup_customers(admin, 4)
    spec = load_spec_text(
        textwrap.dedent(f"""\
        product: p
        version: 1.0.0
        owner: {{team: t}}
        sources:
          crm:
            connector: mysql
            host: {HOST}
            user: root
            database: {db}
            stream: customers
            cdc: true
            key: id
            columns: {{id: string, name: string}}
            identity: {{name: name}}
        fields:
          name: {{type: string, description: n, expr: min(crm.name)}}
        """),
        tmp_path / "product.yaml",
    )
    store = Store.open(f"sqlite:///{tmp_path}/store.db")
    first = sync_source(spec, store, "crm", run_id="r1")
    assert first.counts.new == 4 and store.staged_counts() == {"crm": 4}
    sql(admin, "DELETE FROM customers WHERE id = 1")
    sql(admin, "UPDATE customers SET name = 'New name' WHERE id = 2")
    second = sync_source(spec, store, "crm", run_id="r2")  # no --full
    assert (second.counts.deleted, second.counts.changed) == (1, 1)
    assert store.staged_counts() == {"crm": 3}
    # The binlog position is gone (a purge); meanwhile a row went: the re-read tombstones it.
    sql(admin, "DELETE FROM customers WHERE id = 3")
    stored = json.loads(store.cursor("crm") or "{}")
    store.restore_cursor("crm", json.dumps({**stored, "file": "mysql-bin.999999"}))
    third = sync_source(spec, store, "crm", run_id="r3")
    assert third.tombstoned == 1 and store.staged_counts() == {"crm": 2}
    assert "cdc_reread" in third.notices
