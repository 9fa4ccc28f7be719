"""SqliteConnector, and the contract every SQL connector keeps (shared with the other backends).

``sql_contract`` runs one scenario against any ``SqlConnector``: a full read in
several keyset pages (rows with a NULL cursor, ties on the cursor value, a soft
delete), resume from the first batch's cursor, an incremental read after
updates, inserts and a soft delete, lookup by keys, discover and a missing table.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from c360.connectors.base import Batch, Record
from c360.connectors.registry import make_connector
from c360.connectors.sql import SqlConnector
from c360.core.errors import TerminalSourceError, TransientSourceError


@dataclass
class Db:
    """How a test writes to one backend: run a statement, spell a placeholder and a timestamp."""

    execute: Callable[[str, tuple[Any, ...]], None]
    placeholder: str
    timestamp_type: str
    quote: Callable[[str], str]


def col(record: Record, name: str) -> Any:
    """A column's value whatever case the database folded its name to."""
    for k, v in record.data.items():
        if k.lower() == name.lower():
            return v
    raise KeyError(name)


def keys_of(batches: list[Batch]) -> list[str]:
    return [r.key for b in batches for r in b.records]


ROWS = [
    # id, email, updated_at, deleted_at
    (1, "ada@example.com", "2026-05-01T10:00:01", None),
    (2, "bob@example.com", "2026-05-01T10:00:02", None),
    (3, "cy@example.com", "2026-05-01T10:00:02", None),  # same cursor value as 2
    (4, "di@example.com", None, None),  # never stamped: read in the NULL phase
    (5, "ed@example.com", "2026-05-01T10:00:03", "2026-05-01T10:00:03"),  # soft-deleted
    (6, "flo@example.com", "2026-05-01T10:00:04", None),
    (7, "gus@example.com", "2026-05-01T10:00:05", None),
    (8, "hal@example.com", None, None),
]
FULL_ORDER = ["4", "8", "1", "2", "3", "5", "6", "7"]


def create_customers(db: Db, table: str) -> None:
    q, ts, p = db.quote, db.timestamp_type, db.placeholder
    db.execute(
        f"CREATE TABLE {q(table)} (id INTEGER PRIMARY KEY, email VARCHAR(100), updated_at {ts}, deleted_at {ts})", ()
    )
    for row in ROWS:
        db.execute(f"INSERT INTO {q(table)} VALUES ({p}, {p}, {p}, {p})", row)


def sql_contract(make: Callable[[], SqlConnector], db: Db, table: str) -> None:
    """The scenario every SQL connector must pass (``make`` builds one with cursor options)."""
    create_customers(db, table)
    q, p = db.quote, db.placeholder
    conn = make()
    try:
        conn.check()

        # Full read: 8 rows in pages of 3, NULL-cursor rows first, ties broken by key.
        full = list(conn.read(table, key="id", batch_size=3))
        assert len(full) >= 3
        assert keys_of(full) == FULL_ORDER
        by_key = {r.key: r for b in full for r in b.records}
        assert col(by_key["1"], "email") == "ada@example.com"
        assert col(by_key["3"], "updated_at") == "2026-05-01T10:00:02"
        assert [k for k, r in by_key.items() if r.deleted] == ["5"]
        assert all(not b.quarantined for b in full)
        cursor = full[-1].cursor
        assert cursor is not None
        assert json.loads(cursor)[:2] == ["2026-05-01T10:00:05", 7]

        # Resume: commit only the first batch, then continue from its cursor.
        first = next(iter(conn.read(table, key="id", batch_size=3)))
        assert first.cursor is not None
        rest = list(conn.read(table, key="id", since=first.cursor, batch_size=3))
        resumed = [r.key for r in first.records] + keys_of(rest)
        assert resumed == FULL_ORDER
        assert len(set(resumed)) == len(resumed)
        # ... and resuming inside the cursor-value phase, between two tied rows.
        mid = list(conn.read(table, key="id", since=json.dumps(["2026-05-01T10:00:02", 2])))
        assert keys_of(mid) == ["3", "5", "6", "7"]

        # Nothing changed: an incremental read returns nothing.
        assert keys_of(list(conn.read(table, key="id", since=cursor))) == []

        # Changes: update 2, insert 9, soft-delete 3.
        db.execute(
            f"UPDATE {q(table)} SET email = {p}, updated_at = {p} WHERE id = {p}",
            ("bob@new.example.com", "2026-05-02T09:00:00", 2),
        )
        db.execute(
            f"INSERT INTO {q(table)} VALUES ({p}, {p}, {p}, {p})", (9, "ivy@example.com", "2026-05-02T09:00:01", None)
        )
        db.execute(
            f"UPDATE {q(table)} SET deleted_at = {p}, updated_at = {p} WHERE id = {p}",
            ("2026-05-02T09:00:02", "2026-05-02T09:00:02", 3),
        )
        changed = list(conn.read(table, key="id", since=cursor, batch_size=2))
        assert keys_of(changed) == ["2", "9", "3"]
        got = {r.key: r for b in changed for r in b.records}
        assert col(got["2"], "email") == "bob@new.example.com"
        assert not got["2"].deleted and not got["9"].deleted
        assert got["3"].deleted
        assert json.loads(changed[-1].cursor or "")[:2] == ["2026-05-02T09:00:02", 3]

        # Lookup reads just those keys, now.
        found = {r.key: r for r in conn.lookup(table, key="id", keys=["2", "9", "404"])}
        assert sorted(found) == ["2", "9"]
        assert col(found["2"], "email") == "bob@new.example.com"
        assert conn.lookup(table, key="id", keys=[]) == []

        # Discover lists the table and its columns.
        streams = {s.name.lower(): s for s in conn.discover()}
        info = streams[table.lower()]
        assert [c.name.lower() for c in info.columns] == ["id", "email", "updated_at", "deleted_at"]
        assert all(c.type for c in info.columns)

        # A missing table and a wrong key column are Terminal and say what to fix.
        with pytest.raises(TerminalSourceError) as err:
            list(conn.read(table + "_missing", key="id"))
        assert f"no table '{table}_missing'" in str(err.value)
        with pytest.raises(TerminalSourceError, match=r"(?i)no_such_key"):
            list(conn.read(table, key="no_such_key"))
        # The connector still works after those errors.
        assert len(conn.lookup(table, key="id", keys=["1"])) == 1
    finally:
        conn.close()


def lookback_contract(make: Callable[[float], SqlConnector], db: Db, table: str) -> None:
    """Issue #17: an update that keeps the last synced row's cursor value is still read, once.

    ``make(lookback)`` builds the connector with cursor options and that ``lookback``.
    """
    create_customers(db, table)
    q, p = db.quote, db.placeholder

    def set_email(row: int, email: str, at: str) -> None:
        db.execute(f"UPDATE {q(table)} SET email = {p}, updated_at = {p} WHERE id = {p}", (email, at, row))

    last = "2026-05-01T10:00:05"  # row 7's, the last row a full read meets
    conn = make(0)
    try:
        cursor = list(conn.read(table, key="id", batch_size=3))[-1].cursor
        # Row 6 is updated to the very time of the last row read; row 7 changes within its second.
        set_email(6, "flo@new.example.com", last)
        set_email(7, "gus@new.example.com", last)
        changed = list(conn.read(table, key="id", since=cursor, batch_size=3))
        assert keys_of(changed) == ["6", "7"]
        assert {col(r, "email") for b in changed for r in b.records} == {"flo@new.example.com", "gus@new.example.com"}
        assert json.loads(changed[-1].cursor or "")[:2] == [last, 7]
        # Nothing changed since: nothing is delivered twice, page size 1 included.
        assert keys_of(list(conn.read(table, key="id", since=changed[-1].cursor))) == []
        assert keys_of(list(conn.read(table, key="id", since=changed[-1].cursor, batch_size=1))) == []
        # A two-part cursor (written before the look-back) still resumes strictly after itself.
        assert keys_of(list(conn.read(table, key="id", since=json.dumps([last, 7])))) == []
    finally:
        conn.close()

    conn = make(60)  # a minute of look-back: a change committed late, with an older time, is read
    try:
        cursor = list(conn.read(table, key="id", batch_size=3))[-1].cursor
        window = json.loads(cursor or "")[2]
        assert sorted(int(k) for _, k, _ in window) == [1, 2, 3, 5, 6, 7]  # within 60 s of the last
        set_email(1, "ada@late.example.com", "2026-05-01T10:00:01")
        changed = list(conn.read(table, key="id", since=cursor, batch_size=2))
        assert keys_of(changed) == ["1"]
        assert col(changed[0].records[0], "email") == "ada@late.example.com"
        assert keys_of(list(conn.read(table, key="id", since=changed[-1].cursor, batch_size=2))) == []
    finally:
        conn.close()


# -- SQLite ----------------------------------------------------------------------


@pytest.fixture
def sqlite_db(tmp_path: Path) -> tuple[Path, Db]:
    path = tmp_path / "product.db"
    writer = sqlite3.connect(path, isolation_level=None)

    def execute(sql: str, params: tuple[Any, ...]) -> None:
        writer.execute(sql, params)

    return path, Db(execute, "?", "TEXT", lambda s: '"' + s + '"')


def test_sqlite_contract(sqlite_db: tuple[Path, Db]) -> None:
    path, db = sqlite_db

    def make() -> Any:
        return make_connector(
            "sqlite",
            {"path": path.name, "cursor_column": "updated_at", "deleted_column": "deleted_at"},
            base_dir=path.parent,
        )

    sql_contract(make, db, "customers")


def test_sqlite_update_at_the_last_cursor_value_is_read(sqlite_db: tuple[Path, Db]) -> None:
    path, db = sqlite_db

    def make(lookback: float) -> Any:
        return make_connector(
            "sqlite",
            {"path": path.name, "cursor_column": "updated_at", "deleted_column": "deleted_at", "lookback": lookback},
            base_dir=path.parent,
        )

    lookback_contract(make, db, "customers")


def test_sqlite_without_cursor_column_pages_by_key(sqlite_db: tuple[Path, Db]) -> None:
    path, db = sqlite_db
    create_customers(db, "customers")
    conn = make_connector("sqlite", {"path": str(path)}, base_dir=Path("/"))
    batches = list(conn.read("customers", key="id", batch_size=3))
    assert len(batches) == 3
    assert keys_of(batches) == [str(i) for i in range(1, 9)]
    assert all(b.cursor is None for b in batches)
    # No deleted_column configured: nothing is a tombstone.
    assert not any(r.deleted for b in batches for r in b.records)


def test_sqlite_row_without_key_is_quarantined(sqlite_db: tuple[Path, Db]) -> None:
    path, db = sqlite_db
    db.execute("CREATE TABLE events (ref TEXT, seen TEXT)", ())
    for ref, seen in [("a", "1"), (None, "2"), ("c", "3")]:
        db.execute("INSERT INTO events VALUES (?, ?)", (ref, seen))
    conn = make_connector("sqlite", {"path": str(path), "cursor_column": "seen"}, base_dir=path)
    batches = list(conn.read("events", key="ref"))
    assert keys_of(batches) == ["a", "c"]
    bad = [q for b in batches for q in b.quarantined]
    assert len(bad) == 1
    assert "missing key 'ref'" in bad[0].reason
    assert bad[0].location.startswith("events")
    assert '"seen": "2"' in bad[0].raw


def test_sqlite_missing_file_and_table_are_terminal(sqlite_db: tuple[Path, Db], tmp_path: Path) -> None:
    path, db = sqlite_db
    create_customers(db, "customers")
    missing = make_connector("sqlite", {"path": "nope.db"}, base_dir=tmp_path)
    with pytest.raises(TerminalSourceError, match=r"no such database file: .*nope\.db"):
        missing.check()
    conn = make_connector("sqlite", {"path": str(path)}, base_dir=tmp_path)
    with pytest.raises(TerminalSourceError) as err:
        list(conn.read("customer", key="id"))
    assert "no table 'customer'" in str(err.value)
    assert "customers" in str(err.value)  # the tables that do exist


def test_sqlite_locked_database_is_transient(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("CREATE TABLE t (id INTEGER)")
    writer.execute("BEGIN EXCLUSIVE")
    conn = make_connector("sqlite", {"path": str(path), "busy_timeout": 0.05}, base_dir=tmp_path)
    try:
        with pytest.raises(TransientSourceError, match="locked"):
            list(conn.read("t", key="id"))
    finally:
        writer.execute("ROLLBACK")
    conn.close()
    assert keys_of(list(conn.read("t", key="id"))) == []


def test_sqlite_path_with_uri_characters(tmp_path: Path) -> None:
    folder = tmp_path / "a #1?x"
    folder.mkdir()
    writer = sqlite3.connect(folder / "d%b.db", isolation_level=None)
    writer.execute("CREATE TABLE t (id INTEGER)")
    writer.execute("INSERT INTO t VALUES (1)")
    conn = make_connector("sqlite", {"path": "d%b.db"}, base_dir=folder)
    assert keys_of(list(conn.read("t", key="id"))) == ["1"]
