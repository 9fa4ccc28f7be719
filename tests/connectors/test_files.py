"""CSV, JSON Lines and JSON connectors: batches, quarantine, file-hash cursors and resume."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from c360.connectors.base import Batch
from c360.connectors.files import file_digest, rows_to_skip
from c360.connectors.registry import make_connector
from c360.core.errors import TerminalSourceError


def keys(batches: list[Batch]) -> list[str]:
    return [r.key for b in batches for r in b.records]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    d = tmp_path / "exports"
    (d / "2026").mkdir(parents=True)
    (d / "accounts.csv").write_text(
        "id,name,domain\n"
        "1,Acme,acme.test\n"
        "2,Globex,\n"
        "3,Initech,initech.test,extra\n"  # line 4: too wide
        ",Nameless,none.test\n"  # line 5: no key
        "\n"
        '4,"Umbrella, Inc",umbrella.test\n'
        "5,Hooli,hooli.test\n"
    )
    (d / "2026" / "tickets.jsonl").write_text(
        '{"id": 10, "requester": {"email": "a@acme.test"}}\n'
        "{broken\n"
        "[1, 2]\n"
        '{"id": 11, "requester": {"email": "b@globex.test"}}\n'
        '{"id": 12}\n'
    )
    (d / "customers.json").write_text(json.dumps({"data": [{"id": "c1"}, {"id": "c2"}, {"x": 1}]}))
    return tmp_path


def csv(base: Path) -> Any:
    return make_connector("csv", {"path": "exports"}, base_dir=base)


def test_csv_read_batches_and_quarantine(folder: Path) -> None:
    batches = list(csv(folder).read("accounts.csv", key="id", batch_size=2))
    assert len(batches) >= 3
    assert keys(batches) == ["1", "2", "4", "5"]
    records = {r.key: r.data for b in batches for r in b.records}
    assert records["2"] == {"id": "2", "name": "Globex", "domain": None}
    assert records["4"]["name"] == "Umbrella, Inc"
    bad = [(q.location, q.reason) for b in batches for q in b.quarantined]
    assert bad == [
        ("accounts.csv:4", "expected 3 columns (id, name, domain), found 4"),
        ("accounts.csv:5", "missing key 'id'"),
    ]
    assert batches[-1].cursor == file_digest(folder / "exports" / "accounts.csv")


def test_csv_incremental_by_hash_and_resume(folder: Path) -> None:
    conn = csv(folder)
    full = list(conn.read("accounts.csv", key="id", batch_size=2))
    cursor = full[-1].cursor
    assert keys(list(conn.read("accounts.csv", key="id", since=cursor))) == []

    first = next(iter(conn.read("accounts.csv", key="id", batch_size=2)))
    rest = list(conn.read("accounts.csv", key="id", since=first.cursor, batch_size=2))
    assert keys([first, *rest]) == keys(full)
    resumed_bad = [q.location for b in [first, *rest] for q in b.quarantined]
    assert resumed_bad == ["accounts.csv:4", "accounts.csv:5"]

    path = folder / "exports" / "accounts.csv"
    path.write_text(path.read_text() + "6,Pied Piper,piedpiper.test\n")
    again = list(conn.read("accounts.csv", key="id", since=cursor))
    assert keys(again) == ["1", "2", "4", "5", "6"]  # a changed file is read whole
    # A position cursor from the old file content does not skip rows of the new one.
    assert keys(list(conn.read("accounts.csv", key="id", since=first.cursor))) == keys(again)


def test_rows_to_skip() -> None:
    assert rows_to_skip(None, "d") == 0
    assert rows_to_skip("d@12", "d") == 12
    assert rows_to_skip("d", "d") is None
    assert rows_to_skip("old@12", "d") == 0


def test_jsonl_nested_keys_and_quarantine(folder: Path) -> None:
    conn = make_connector("jsonl", {"path": "exports"}, base_dir=folder)
    assert [s.name for s in conn.discover()] == ["2026/tickets.jsonl"]
    batches = list(conn.read("2026/tickets.jsonl", key="requester.email", batch_size=2))
    assert keys(batches) == ["a@acme.test", "b@globex.test"]
    bad = [(q.location, q.reason.split(":")[0]) for b in batches for q in b.quarantined]
    assert bad == [
        ("tickets.jsonl:2", "invalid JSON"),
        ("tickets.jsonl:3", "expected an object, found list"),
        ("tickets.jsonl:5", "missing key 'requester.email'"),
    ]
    found = conn.lookup("2026/tickets.jsonl", key="id", keys=["11", "99"])
    assert [r.data["requester"]["email"] for r in found] == ["b@globex.test"]


def test_json_wrapped_array_and_scalar(folder: Path) -> None:
    conn = make_connector("json", {"path": "exports/customers.json"}, base_dir=folder)
    batches = list(conn.read("customers.json", key="id"))
    assert keys(batches) == ["c1", "c2"]
    assert [q.location for b in batches for q in b.quarantined] == ["customers.json:3"]
    (folder / "exports" / "customers.json").write_text("42")
    bad = [q.reason for b in conn.read("customers.json", key="id") for q in b.quarantined]
    assert bad == ["expected an object, found int"]
    (folder / "exports" / "customers.json").write_text("[{")
    with pytest.raises(TerminalSourceError, match=r"customers\.json:1: invalid JSON"):
        list(conn.read("customers.json", key="id"))


def test_discover_and_missing_stream(folder: Path) -> None:
    conn = csv(folder)
    info = {s.name: s for s in conn.discover()}["accounts.csv"]
    assert [c.name for c in info.columns] == ["id", "name", "domain"]
    assert [r.key for r in conn.lookup("accounts.csv", key="id", keys=["5", "1"])] == ["1", "5"]
    with pytest.raises(TerminalSourceError, match=r"no stream 'acounts\.csv'.*accounts\.csv"):
        list(conn.read("acounts.csv", key="id"))
    with pytest.raises(TerminalSourceError, match="no such file or folder"):
        make_connector("csv", {"path": "nowhere"}, base_dir=folder).check()


def test_lookup_index_follows_the_file(tmp_path: Path) -> None:
    import os

    from c360.connectors.registry import make_connector

    f = tmp_path / "people.jsonl"
    f.write_text('{"id": 1, "name": "Ada"}\n{"id": 2, "name": "Grace"}\n')
    conn = make_connector("jsonl", {"path": "people.jsonl"}, base_dir=tmp_path)
    assert [r.data["name"] for r in conn.lookup("people.jsonl", key="id", keys=["2"])] == ["Grace"]
    f.write_text('{"id": 1, "name": "Ada"}\n{"id": 2, "name": "Grace Hopper"}\n{"id": 3, "name": "Edsger"}\n')
    os.utime(f, ns=(f.stat().st_atime_ns, f.stat().st_mtime_ns + 1_000_000))
    assert [r.data["name"] for r in conn.lookup("people.jsonl", key="id", keys=["3", "2"])] == [
        "Grace Hopper",
        "Edsger",
    ]
    assert conn.lookup("people.jsonl", key="id", keys=["9"]) == []
