"""PostgreSQL change data capture (``cdc: true``) against the machine's server: a replication
slot, a first read in its exported snapshot, then inserts, same-timestamp updates, hard
DELETEs and key changes without ``--full``; a missing slot or a TRUNCATE reads the table again.

Needs ``wal_level = logical``: skipped otherwise, failed instead when C360_REQUIRE_SERVICES=1.
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
from c360.connectors.pg_cdc import REREAD, lsn_value, parse_change, parse_tuple, slot_name, tables_of
from c360.connectors.registry import make_connector
from c360.core.errors import TerminalSourceError
from c360.pipeline.sync import sync_source
from c360.spec.validate import load_spec_text
from c360.store import Store
from tests.conftest import REQUIRE_SERVICES, need_module, need_service

HOST, PORT = "127.0.0.1", 5432


# -- test_decoding's text, no server needed ------------------------------------------------------


def test_parse_tuple_reads_quotes_nulls_types_and_quoted_names() -> None:
    text = (
        "id[integer]:1 name[text]:'O''Brien, Jr' \"Customer Id\"[character varying]:'a b' "
        "tags[text[]]:'{x,y}' at[timestamp with time zone]:'2026-01-01 10:00:00+00' gone[text]:null "
        "big[text]:unchanged-toast-datum n[numeric]:12.50 ok[boolean]:true"
    )
    assert parse_tuple(text) == {
        "id": "1",
        "name": "O'Brien, Jr",
        "Customer Id": "a b",
        "tags": "{x,y}",
        "at": "2026-01-01 10:00:00+00",
        "gone": None,
        "n": "12.50",
        "ok": "true",
    }


def test_parse_change_of_every_kind() -> None:
    c = parse_change("table public.t: INSERT: id[integer]:1 name[text]:'a'")
    assert c is not None and c.op == "INSERT" and c.tables == (("public", "t"),) and c.new == {"id": "1", "name": "a"}
    c = parse_change("table public.t: DELETE: id[integer]:1")
    assert c is not None and c.old == {"id": "1"} and c.new is None
    c = parse_change('table "My Schema"."T": UPDATE: old-key: id[integer]:1 new-tuple: id[integer]:2 name[text]:\'b\'')
    assert c is not None and c.tables == (("My Schema", "T"),) and c.old == {"id": "1"}
    assert c.new == {"id": "2", "name": "b"}
    c = parse_change("table public.a, public.b: TRUNCATE: (no-flags)")
    assert c is not None and c.op == "TRUNCATE" and c.tables == (("public", "a"), ("public", "b"))
    c = parse_change("table public.t: DELETE: (no-tuple-data)")
    assert c is not None and c.old is None
    assert parse_change("BEGIN") is None and parse_change("COMMIT") is None
    assert tables_of('s."a.b"') == [("s", "a.b")]


def test_slot_names_and_lsns() -> None:
    assert slot_name("test", "public", "Customers-2") == "c360_test_public_customers_2"
    long = slot_name("d" * 40, "s" * 40, "t")
    assert len(long) == 63 and long.startswith("c360_ddd")
    assert lsn_value("1/0") > lsn_value("0/FFFFFFFF") > lsn_value("0/16B3748")


def test_a_server_without_logical_wal_is_explained() -> None:
    need_module("psycopg")
    from c360.connectors.pg_cdc import wal_error
    from c360.connectors.postgres import PostgresConnector, PostgresOptions

    conn = PostgresConnector(PostgresOptions(dbname="crm", cdc=True))
    message = str(wal_error(conn, "wal_level is 'replica'"))
    assert "wal_level is 'replica'" in message and "ALTER SYSTEM SET wal_level = logical" in message
    assert "restart" in message


def test_the_cdc_options_are_validated() -> None:
    from c360.core.errors import SpecError

    base = textwrap.dedent("""\
        product: p
        version: 1.0.0
        owner: {team: t}
        sources:
          crm:
            connector: postgres
            dbname: test
            stream: customers
            cdc: true
            key: id
            columns: {id: string, name: string}
            identity: {name: name}
        fields:
          name: {type: string, description: n, expr: min(crm.name)}
        """)
    assert load_spec_text(base).model.sources["crm"].options["cdc"] is True
    with pytest.raises(SpecError, match=r"sources\.crm\.slot: option 'slot' of connector 'postgres'"):
        load_spec_text(base.replace("    cdc: true\n", "    cdc: true\n    slot: Not-A-Slot\n"))
    # MySQL/MariaDB read their binlog with the same option; a connector without CDC refuses it.
    assert (
        load_spec_text(base.replace("connector: postgres", "connector: mysql").replace("dbname:", "database:"))
        .model.sources["crm"]
        .options["cdc"]
    )
    with pytest.raises(SpecError, match="unknown option 'cdc' for connector 'sqlite'"):
        load_spec_text(
            base.replace("connector: postgres", "connector: sqlite").replace("    dbname: test\n", "    path: x.db\n")
        )


# -- against the server --------------------------------------------------------------------------


@pytest.fixture
def pg() -> Iterator[tuple[str, Any]]:
    """A schema of its own, on a server with wal_level = logical; its slots dropped afterwards."""
    need_module("psycopg")
    need_service("PostgreSQL", HOST, PORT)
    import psycopg

    admin = psycopg.connect(host=HOST, port=PORT, user="postgres", dbname="test", autocommit=True)
    level = admin.execute("SHOW wal_level").fetchone()[0]  # type: ignore[index]
    if level != "logical":
        admin.close()
        message = (
            f"PostgreSQL on {HOST}:{PORT} has wal_level = {level}; CDC needs logical (ALTER SYSTEM SET "
            "wal_level = logical, then restart the server)"
        )
        if REQUIRE_SERVICES:
            pytest.fail(message + " (C360_REQUIRE_SERVICES=1)")
        pytest.skip(message)
    schema = f"c360_cdc_{uuid.uuid4().hex[:10]}"
    admin.execute(f'CREATE SCHEMA "{schema}"')
    admin.execute(f'SET search_path TO "{schema}"')
    try:
        yield schema, admin
    finally:
        admin.execute(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
            "WHERE slot_name LIKE %s AND active_pid IS NULL",
            (f"%{schema}%",),
        )
        admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        admin.close()


def connector(schema: str, **extra: Any) -> Any:
    return make_connector(
        "postgres",
        {"host": HOST, "port": PORT, "user": "postgres", "dbname": "test", "schema_name": schema, "cdc": True, **extra},
        base_dir=Path("."),
    )


def drain(conn: Any, since: str | None, batch_size: int = 2, key: str = "id") -> tuple[list[Batch], str | None]:
    batches = list(conn.read("customers", key=key, since=since, batch_size=batch_size))
    cursor = since
    for b in batches:
        if b.cursor is not None:
            cursor = b.cursor
    return batches, cursor


def records(batches: list[Batch]) -> list[Record]:
    return [r for b in batches for r in b.records]


def latest(batches: list[Batch]) -> dict[str, Record]:
    return {r.key: r for r in records(batches)}


def confirmed(admin: Any, slot: str) -> str:
    return str(
        admin.execute(
            "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = %s", (slot,)
        ).fetchone()[0]
    )


def setup_customers(admin: Any, n: int = 5) -> None:
    admin.execute(
        "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, "
        "updated_at TIMESTAMPTZ NOT NULL DEFAULT '2026-01-01T00:00:00Z')"
    )
    for i in range(1, n + 1):
        admin.execute("INSERT INTO customers (id, name) VALUES (%s, %s)", (i, f"Customer {i}"))


def test_first_read_then_every_kind_of_change_without_a_full_read(pg: tuple[str, Any]) -> None:
    schema, admin = pg
    setup_customers(admin)
    conn = connector(schema)
    first, cursor = drain(conn, None)
    assert sorted(r.key for r in records(first)) == ["1", "2", "3", "4", "5"]
    assert latest(first)["3"].data == {"id": 3, "name": "Customer 3", "updated_at": "2026-01-01T00:00:00+00:00"}
    assert cursor is not None and json.loads(cursor)["slot"] == slot_name("test", schema, "customers")
    slot = json.loads(cursor)["slot"]
    assert confirmed(admin, slot) == json.loads(cursor)["lsn"]  # the slot's confirmed LSN is the cursor

    # Nothing changed: nothing read.
    again, same = drain(conn, cursor)
    assert records(again) == [] and same == cursor

    admin.execute("INSERT INTO customers (id, name) VALUES (6, 'Customer 6')")
    admin.execute("UPDATE customers SET name = 'Renamed 2' WHERE id = 2")  # the same updated_at
    admin.execute("DELETE FROM customers WHERE id = 4")  # a hard DELETE
    admin.execute("UPDATE customers SET id = 50 WHERE id = 5")  # a key change
    with admin.transaction():
        admin.execute("UPDATE customers SET name = 'Twice' WHERE id = 1")
        admin.execute("UPDATE customers SET name = 'Thrice' WHERE id = 1")
    changes, cursor2 = drain(conn, cursor)
    got = latest(changes)
    assert set(got) == {"1", "2", "4", "5", "6", "50"}
    assert got["6"].data["name"] == "Customer 6" and not got["6"].deleted
    assert got["2"].data["name"] == "Renamed 2" and got["2"].data["updated_at"] == "2026-01-01T00:00:00+00:00"
    assert got["4"].deleted and got["5"].deleted and not got["50"].deleted
    assert got["1"].data["name"] == "Thrice"
    assert cursor2 is not None and lsn_value(json.loads(cursor2)["lsn"]) > lsn_value(json.loads(cursor)["lsn"])
    assert confirmed(admin, slot) == json.loads(cursor2)["lsn"]
    assert records(drain(conn, cursor2)[0]) == []
    conn.close()


def test_a_batch_not_followed_by_another_leaves_the_slot_until_the_next_read(pg: tuple[str, Any]) -> None:
    schema, admin = pg
    setup_customers(admin, 2)
    conn = connector(schema)
    _, cursor = drain(conn, None)
    assert cursor is not None
    for i in range(10, 16):
        admin.execute("INSERT INTO customers (id, name) VALUES (%s, 'x')", (i,))  # six transactions
    reader = conn.read("customers", key="id", since=cursor, batch_size=1)
    batch = next(reader)  # the store would commit this one... and the process dies here
    reader.close()
    slot = json.loads(cursor)["slot"]
    assert confirmed(admin, slot) == json.loads(cursor)["lsn"]  # not advanced: never confirmed
    assert batch.cursor is not None
    rest, _ = drain(conn, batch.cursor)  # resumes after the committed batch, not before it
    assert sorted(r.key for r in records(rest)) == sorted(
        str(i) for i in range(10, 16) if str(i) not in {r.key for r in batch.records}
    )
    conn.close()


def test_a_missing_slot_reads_the_table_again_with_a_notice(pg: tuple[str, Any]) -> None:
    schema, admin = pg
    setup_customers(admin, 3)
    conn = connector(schema)
    _, cursor = drain(conn, None)
    assert cursor is not None
    admin.execute("SELECT pg_drop_replication_slot(%s)", (json.loads(cursor)["slot"],))
    admin.execute("DELETE FROM customers WHERE id = 1")
    batches, cursor2 = drain(conn, cursor)
    assert [n.kind for n in batches[0].notices] == [REREAD]
    assert "is gone" in batches[0].notices[0].message
    assert sorted(r.key for r in records(batches)) == ["2", "3"]
    assert cursor2 is not None and records(drain(conn, cursor2)[0]) == []
    conn.close()


def test_a_slot_past_the_cursor_or_a_truncate_reads_the_table_again(pg: tuple[str, Any]) -> None:
    schema, admin = pg
    setup_customers(admin, 3)
    conn = connector(schema)
    _, old = drain(conn, None)
    admin.execute("UPDATE customers SET name = 'y' WHERE id = 1")
    _, newer = drain(conn, old)
    assert newer != old
    # The build put the cursor back (a refused read): the slot cannot replay what it let go.
    batches, cursor = drain(conn, old)
    assert [n.kind for n in batches[0].notices] == [REREAD] and "past the cursor" in batches[0].notices[0].message
    assert sorted(r.key for r in records(batches)) == ["1", "2", "3"]
    admin.execute("TRUNCATE customers")
    admin.execute("INSERT INTO customers (id, name) VALUES (9, 'after')")
    batches, cursor = drain(conn, cursor)
    assert [n.kind for n in batches[0].notices] == [REREAD] and "truncated" in batches[0].notices[0].message
    assert [r.key for r in records(batches)] == ["9"]
    conn.close()


def test_a_key_outside_the_replica_identity_is_refused_with_the_fix(pg: tuple[str, Any]) -> None:
    schema, admin = pg
    admin.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT NOT NULL)")
    admin.execute("INSERT INTO customers VALUES (1, 'a@x.com'), (2, 'b@x.com')")
    conn = connector(schema)
    with pytest.raises(TerminalSourceError, match="REPLICA IDENTITY FULL"):
        drain(conn, None, key="email")
    admin.execute("ALTER TABLE customers REPLICA IDENTITY FULL")
    _, cursor = drain(conn, None, key="email")
    admin.execute("DELETE FROM customers WHERE id = 2")
    batches, _ = drain(conn, cursor, key="email")
    assert [(r.key, r.deleted) for r in records(batches)] == [("b@x.com", True)]
    conn.close()


def test_check_and_a_missing_table(pg: tuple[str, Any]) -> None:
    schema, _ = pg
    conn = connector(schema)
    conn.check()
    with pytest.raises(TerminalSourceError, match="no table 'customers'"):
        drain(conn, None)
    conn.close()


# -- through the sync ----------------------------------------------------------------------------


def test_sync_stages_hard_deletes_and_a_reread_tombstones_what_went(pg: tuple[str, Any], tmp_path: Path) -> None:
    schema, admin = pg
    setup_customers(admin, 4)
    spec = load_spec_text(
        textwrap.dedent(f"""\
        product: p
        version: 1.0.0
        owner: {{team: t}}
        sources:
          crm:
            connector: postgres
            host: {HOST}
            user: postgres
            dbname: test
            schema_name: {schema}
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
    admin.execute("DELETE FROM customers WHERE id = 1")
    admin.execute("UPDATE customers SET name = 'New name' WHERE id = 2")
    second = sync_source(spec, store, "crm", run_id="r2")
    assert (second.counts.deleted, second.counts.changed) == (1, 1)
    assert store.staged_counts() == {"crm": 3}
    # The slot is lost; meanwhile a row went: the re-read is a complete read, so it is tombstoned.
    admin.execute("SELECT pg_drop_replication_slot(%s)", (json.loads(store.cursor("crm") or "{}")["slot"],))
    admin.execute("DELETE FROM customers WHERE id = 3")
    third = sync_source(spec, store, "crm", run_id="r3")
    assert third.tombstoned == 1 and store.staged_counts() == {"crm": 2}
    assert "cdc_reread" in third.notices
