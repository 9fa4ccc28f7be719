"""ParquetConnector: batched reads, file-hash incremental reads, resume, lookup and discover."""

from __future__ import annotations

import datetime as dt
import decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from c360.connectors.base import Batch
from c360.connectors.files import file_digest
from c360.connectors.registry import make_connector
from c360.core.errors import TerminalSourceError


def write(path: Path, rows: list[dict[str, Any]], row_group_size: int = 4) -> None:
    schema = pa.schema(
        [
            ("id", pa.int64()),
            ("email", pa.string()),
            ("signed_up", pa.timestamp("us", tz="UTC")),
            ("mrr", pa.decimal128(10, 2)),
            ("tags", pa.list_(pa.string())),
        ]
    )
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path, row_group_size=row_group_size)


def rows(n: int, start: int = 1) -> list[dict[str, Any]]:
    t0 = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
    return [
        {
            "id": i,
            "email": f"c{i}@example.com",
            "signed_up": t0 + dt.timedelta(hours=i),
            "mrr": decimal.Decimal(f"{i}.50"),
            "tags": ["b2b"] if i % 2 else [],
        }
        for i in range(start, start + n)
    ]


def keys(batches: list[Batch]) -> list[str]:
    return [r.key for b in batches for r in b.records]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "exports").mkdir()
    write(tmp_path / "exports" / "customers.parquet", rows(10))
    write(tmp_path / "exports" / "leads.parquet", rows(2, start=100))
    (tmp_path / "exports" / "notes.txt").write_text("not a stream")
    return tmp_path


def connector(base: Path) -> Any:
    return make_connector("parquet", {"path": "exports"}, base_dir=base)


def test_full_read_in_batches_with_plain_values(folder: Path) -> None:
    conn = connector(folder)
    batches = list(conn.read("customers.parquet", key="id", batch_size=3))
    assert len([b for b in batches if b.records]) == 4
    assert keys(batches) == [str(i) for i in range(1, 11)]
    first = batches[0].records[0]
    assert first.data == {
        "id": 1,
        "email": "c1@example.com",
        "signed_up": "2026-05-01T01:00:00.000000+00:00",
        "mrr": "1.50",
        "tags": ["b2b"],
    }
    assert not first.deleted
    digest = file_digest(folder / "exports" / "customers.parquet")
    assert batches[0].cursor == f"{digest}@3"
    assert batches[-1].cursor == digest


def test_incremental_by_file_hash(folder: Path) -> None:
    conn = connector(folder)
    cursor = list(conn.read("customers.parquet", key="id"))[-1].cursor
    assert keys(list(conn.read("customers.parquet", key="id", since=cursor))) == []
    # A rewritten export is read again whole; staging keeps only what changed.
    changed = rows(10)
    changed[4]["email"] = "new5@example.com"
    write(folder / "exports" / "customers.parquet", changed + rows(1, start=11))
    again = list(conn.read("customers.parquet", key="id", since=cursor))
    assert keys(again) == [str(i) for i in range(1, 12)]
    emails = [r.data["email"] for b in again for r in b.records if r.key == "5"]
    assert emails == ["new5@example.com"]
    assert again[-1].cursor != cursor


def test_resume_after_first_batch(folder: Path) -> None:
    conn = connector(folder)
    full = keys(list(conn.read("customers.parquet", key="id", batch_size=3)))
    first = next(iter(conn.read("customers.parquet", key="id", batch_size=3)))
    # Resume with another batch size, so the skip falls inside a batch.
    rest = list(conn.read("customers.parquet", key="id", since=first.cursor, batch_size=4))
    resumed = [r.key for r in first.records] + keys(rest)
    assert resumed == full
    assert len(set(resumed)) == len(resumed)


def test_missing_key_is_quarantined(tmp_path: Path) -> None:
    data = rows(4)
    data[1]["id"] = None
    write(tmp_path / "c.parquet", data)
    conn = make_connector("parquet", {"path": "c.parquet"}, base_dir=tmp_path)
    batches = list(conn.read("c.parquet", key="id", batch_size=2))
    assert keys(batches) == ["1", "3", "4"]
    bad = [q for b in batches for q in b.quarantined]
    assert [(q.location, q.reason) for q in bad] == [("c.parquet:2", "missing key 'id'")]
    assert "c2@example.com" in bad[0].raw


def test_lookup_and_discover(folder: Path) -> None:
    conn = connector(folder)
    found = conn.lookup("customers.parquet", key="id", keys=["7", "2", "404"])
    assert sorted((r.key, r.data["email"]) for r in found) == [("2", "c2@example.com"), ("7", "c7@example.com")]
    streams = {s.name: s for s in conn.discover()}
    assert sorted(streams) == ["customers.parquet", "leads.parquet"]
    assert [(c.name, c.type) for c in streams["customers.parquet"].columns] == [
        ("id", "int64"),
        ("email", "string"),
        ("signed_up", "timestamp[us, tz=UTC]"),
        ("mrr", "decimal128(10, 2)"),
        ("tags", "list<element: string>"),
    ]


def test_errors_are_terminal_and_name_what_to_fix(folder: Path) -> None:
    conn = connector(folder)
    with pytest.raises(TerminalSourceError, match=r"no stream 'customer\.parquet'.*customers"):
        list(conn.read("customer.parquet", key="id"))
    with pytest.raises(TerminalSourceError, match="has no column 'customer_id'"):
        list(conn.read("customers.parquet", key="customer_id"))
    (folder / "exports" / "broken.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(TerminalSourceError, match="not a readable Parquet file"):
        list(conn.read("broken.parquet", key="id"))
    with pytest.raises(TerminalSourceError, match="no such file or folder"):
        make_connector("parquet", {"path": "nowhere"}, base_dir=folder).check()
