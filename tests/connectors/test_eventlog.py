"""EventLogConnector: rotated JSONL logs, incremental by event time, tombstones, quarantine."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from c360.connectors.base import Batch
from c360.connectors.eventlog import parse_time
from c360.connectors.registry import make_connector
from c360.core.errors import TerminalSourceError


def log(path: Path, events: list[Any], append: bool = False) -> None:
    lines = [e if isinstance(e, str) else json.dumps(e) for e in events]
    with path.open("a" if append else "w") as f:
        f.write("".join(line + "\n" for line in lines))


def ev(user: str, ts: Any, kind: str = "login", **extra: Any) -> dict[str, Any]:
    return {"user_id": user, "timestamp": ts, "type": kind, **extra}


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    folder = tmp_path / "logs"
    folder.mkdir()
    log(
        folder / "events-2026-05-01.jsonl",
        [
            ev("u1", "2026-05-01T09:00:00Z"),
            ev("u2", "2026-05-01T10:00:00+02:00"),  # 08:00 UTC: out of order within the file
            "{not json",
            ev("u3", 1777633200),  # epoch seconds: 2026-05-01T11:00:00Z
        ],
    )
    log(
        folder / "events-2026-05-02.jsonl",
        [
            ev("u1", "2026-05-02T09:00:00Z", plan="pro"),
            {"timestamp": "2026-05-02T09:30:00Z", "type": "login"},  # no key
            ev("u4", "yesterday"),  # unreadable time
            ev("u2", "2026-05-02T10:00:00Z", "deleted"),
        ],
    )
    log(folder / "events.jsonl", [ev("u5", "2026-05-03T08:00:00.250Z")])
    log(folder / "audit.ndjson", [ev("admin", "2026-05-03T00:00:00Z")])
    return tmp_path


def connector(base: Path, **extra: Any) -> Any:
    return make_connector("eventlog", {"path": "logs", "key_field": "user_id", **extra}, base_dir=base)


def keys(batches: list[Batch]) -> list[str]:
    return [r.key for b in batches for r in b.records]


def test_parse_time_normalises_to_utc() -> None:
    assert parse_time("2026-05-01T12:00:00+02:00") == "2026-05-01T10:00:00.000000Z"
    assert parse_time("2026-05-01 10:00:00") == "2026-05-01T10:00:00.000000Z"
    assert parse_time(1777629600000) == "2026-05-01T10:00:00.000000Z"  # milliseconds
    assert parse_time("soon") is None and parse_time(None) is None and parse_time(True) is None


def test_full_read_in_file_order_with_tombstones_and_quarantine(logs: Path) -> None:
    batches = list(connector(logs).read("events", key="id", batch_size=3))
    assert len(batches) >= 3
    assert keys(batches) == ["u1", "u2", "u3", "u1", "u2", "u5"]
    records = [r for b in batches for r in b.records]
    assert [r.deleted for r in records] == [False, False, False, False, True, False]
    assert records[3].data["plan"] == "pro"
    bad = [(q.location, q.reason.split(":")[0]) for b in batches for q in b.quarantined]
    assert bad == [
        ("events-2026-05-01.jsonl:3", "invalid JSON"),
        ("events-2026-05-02.jsonl:2", "missing key 'user_id'"),
        ("events-2026-05-02.jsonl:3", "unreadable event time timestamp='yesterday' (expected ISO-8601 or epoch)"),
    ]
    # The cursor is the latest event time, in UTC.
    assert batches[-1].cursor == "2026-05-03T08:00:00.250000Z"


def test_incremental_read_returns_only_later_events(logs: Path) -> None:
    conn = connector(logs)
    cursor = list(conn.read("events", key="id"))[-1].cursor
    nothing = list(conn.read("events", key="id", since=cursor))
    assert keys(nothing) == [] and nothing[-1].cursor == cursor
    log(
        logs / "logs" / "events.jsonl",
        [
            ev("u6", "2026-05-03T09:00:00Z"),
            ev("u7", "2026-05-03T07:00:00Z"),  # late, before the cursor: already past
            ev("u5", "2026-05-03T09:30:00Z", "deleted"),
        ],
        append=True,
    )
    later = list(conn.read("events", key="id", since=cursor))
    assert keys(later) == ["u6", "u5"]
    assert [r.deleted for b in later for r in b.records] == [False, True]
    assert later[-1].cursor == "2026-05-03T09:30:00.000000Z"


def test_resume_after_first_batch_reads_the_rest_once(logs: Path) -> None:
    conn = connector(logs)
    full = list(conn.read("events", key="id", batch_size=2))
    first = next(iter(conn.read("events", key="id", batch_size=2)))
    assert first.cursor is not None
    rest = list(conn.read("events", key="id", since=first.cursor, batch_size=2))
    ids = lambda bs: [(r.key, r.data["timestamp"]) for b in bs for r in b.records]  # noqa: E731
    assert ids([first]) + ids(rest) == ids(full)
    assert rest[-1].cursor == full[-1].cursor
    # Resuming inside an incremental read keeps its lower bound.
    cursor = "2026-05-01T10:30:00Z"
    inc = list(conn.read("events", key="id", since=cursor, batch_size=1))
    head = inc[0]
    tail = list(conn.read("events", key="id", since=head.cursor, batch_size=1))
    assert keys([head, *tail]) == keys(inc) == ["u3", "u1", "u2", "u5"]


def test_lookup_returns_latest_event_per_key(logs: Path) -> None:
    conn = connector(logs)
    found = {r.key: r for r in conn.lookup("events", key="id", keys=["u1", "u2", "nobody"])}
    assert sorted(found) == ["u1", "u2"]
    assert found["u1"].data["plan"] == "pro" and not found["u1"].deleted
    assert found["u2"].deleted


def test_discover_streams_and_columns(logs: Path) -> None:
    streams = {s.name: s for s in connector(logs).discover()}
    assert sorted(streams) == ["audit", "events"]
    info = streams["events"]
    assert [c.name for c in info.columns] == ["user_id", "timestamp", "type", "plan"]
    assert info.cursor_field == "timestamp" and info.key == "user_id"


def test_configurable_fields_and_delete_types(tmp_path: Path) -> None:
    log(
        tmp_path / "crm.jsonl",
        [
            {"account": {"id": "a1"}, "at": "2026-01-01T00:00:00Z", "event": "created"},
            {"account": {"id": "a1"}, "at": "2026-01-02T00:00:00Z", "event": "archived"},
        ],
    )
    conn = make_connector(
        "eventlog",
        {"path": "crm.jsonl", "time_field": "at", "type_field": "event", "delete_types": ["archived", "purged"]},
        base_dir=tmp_path,
    )
    batches = list(conn.read("crm", key="account.id"))
    assert [(r.key, r.deleted) for b in batches for r in b.records] == [("a1", False), ("a1", True)]
    assert batches[-1].cursor == "2026-01-02T00:00:00.000000Z"


def test_errors_name_what_to_fix(logs: Path) -> None:
    conn = connector(logs)
    with pytest.raises(TerminalSourceError, match=r"no event log 'event'.*streams: audit, events"):
        list(conn.read("event", key="id"))
    with pytest.raises(TerminalSourceError, match="unreadable cursor"):
        list(conn.read("events", key="id", since="last tuesday"))
    with pytest.raises(TerminalSourceError, match="no such file or folder"):
        make_connector("eventlog", {"path": "gone"}, base_dir=logs).check()
