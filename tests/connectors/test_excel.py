"""ExcelConnector: sheets as streams, quarantined rows, file-hash incremental reads and resume."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from c360.connectors.base import Batch
from c360.connectors.files import file_digest
from c360.connectors.registry import make_connector
from c360.core.errors import TerminalSourceError
from tests.conftest import need_module

HEADER = ["account_id", "name", "signed_up", "seats"]


def workbook(path: Path, accounts: list[list[Any]], contacts: list[list[Any]] | None = None) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Accounts"
    ws.append(HEADER)
    for row in accounts:
        ws.append(row)
    other = wb.create_sheet("Contacts")
    other.append(["email", "account_id"])
    for row in contacts or [["ada@acme.test", "A1"]]:
        other.append(row)
    wb.save(path)


def accounts(n: int) -> list[list[Any]]:
    return [[f"A{i}", f"Account {i}", dt.datetime(2026, 1, i, 9, 30), i * 5] for i in range(1, n + 1)]


def keys(batches: list[Batch]) -> list[str]:
    return [r.key for b in batches for r in b.records]


@pytest.fixture
def book(tmp_path: Path) -> Path:
    need_module("openpyxl")
    path = tmp_path / "crm.xlsx"
    rows = accounts(7)
    rows.insert(2, [None, "No key", None, 1])  # sheet row 4
    rows.insert(4, ["A99", "Too wide", None, 1, "surprise"])  # sheet row 6
    rows.insert(5, [None, None, None, None])  # blank: skipped, not quarantined
    workbook(path, rows)
    return path


def connector(path: Path) -> Any:
    return make_connector("excel", {"path": path.name}, base_dir=path.parent)


def test_full_read_quarantines_bad_rows(book: Path) -> None:
    batches = list(connector(book).read("Accounts", key="account_id", batch_size=3))
    assert len(batches) >= 3
    assert keys(batches) == [f"A{i}" for i in range(1, 8)]
    first = batches[0].records[0]
    assert first.data == {"account_id": "A1", "name": "Account 1", "signed_up": "2026-01-01T09:30:00", "seats": 5}
    bad = [q for b in batches for q in b.quarantined]
    assert [(q.location, q.reason) for q in bad] == [
        ("crm.xlsx!Accounts:4", "missing key 'account_id'"),
        ("crm.xlsx!Accounts:6", "expected 4 columns (account_id, name, signed_up, seats), found 5"),
    ]
    assert "surprise" in bad[1].raw
    assert batches[-1].cursor == file_digest(book)


def test_incremental_by_file_hash_and_resume(book: Path) -> None:
    conn = connector(book)
    full = list(conn.read("Accounts", key="account_id", batch_size=3))
    cursor = full[-1].cursor
    assert keys(list(conn.read("Accounts", key="account_id", since=cursor))) == []

    first = next(iter(conn.read("Accounts", key="account_id", batch_size=3)))
    # Rows 2 and 3 are records, row 4 is quarantined: the batch ends at sheet row 4.
    assert first.cursor == f"{file_digest(book)}@4"
    rest = list(conn.read("Accounts", key="account_id", since=first.cursor, batch_size=3))
    resumed = [r.key for r in first.records] + keys(rest)
    assert resumed == keys(full)
    assert len(set(resumed)) == len(resumed)

    rows = accounts(8)
    rows[1][1] = "Renamed 2"
    workbook(book, rows)
    again = list(conn.read("Accounts", key="account_id", since=cursor))
    assert keys(again) == [f"A{i}" for i in range(1, 9)]
    assert again[0].records[1].data["name"] == "Renamed 2"


def test_lookup_and_discover(book: Path) -> None:
    conn = connector(book)
    found = conn.lookup("Accounts", key="account_id", keys=["A3", "A404", "A7"])
    assert [(r.key, r.data["seats"]) for r in found] == [("A3", 15), ("A7", 35)]
    streams = {s.name: s for s in conn.discover()}
    assert sorted(streams) == ["Accounts", "Contacts"]
    assert [(c.name, c.type) for c in streams["Accounts"].columns] == [
        ("account_id", "string"),
        ("name", "string"),
        ("signed_up", "datetime"),
        ("seats", "integer"),
    ]
    contacts = list(conn.read("crm.xlsx!Contacts", key="email"))
    assert keys(contacts) == ["ada@acme.test"]


def test_folder_of_workbooks(book: Path) -> None:
    conn = make_connector("excel", {"path": "."}, base_dir=book.parent)
    names = [s.name for s in conn.discover()]
    assert names == ["crm.xlsx!Accounts", "crm.xlsx!Contacts"]
    assert keys(list(conn.read("crm.xlsx!Contacts", key="email"))) == ["ada@acme.test"]


def test_errors_name_what_to_fix(book: Path) -> None:
    conn = connector(book)
    sheets = r"no sheet 'Acounts' \(sheets: Accounts, Contacts\)"
    with pytest.raises(TerminalSourceError, match=sheets):
        list(conn.read("Acounts", key="account_id"))
    folder = make_connector("excel", {"path": "."}, base_dir=book.parent)
    with pytest.raises(TerminalSourceError, match=r"streams are '<file>!<sheet>'.*crm\.xlsx"):
        list(folder.read("Accounts", key="account_id"))
    broken = book.parent / "broken.xlsx"
    broken.write_text("not a zip")
    with pytest.raises(TerminalSourceError, match=r"not a readable \.xlsx workbook"):
        list(make_connector("excel", {"path": "broken.xlsx"}, base_dir=book.parent).read("Sheet", key="id"))
