"""HubSpot connector against a local fake of the CRM v3 objects API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from c360.connectors.base import Batch
from c360.connectors.hubspot import HubSpotConnector, HubSpotOptions
from c360.connectors.registry import make_connector
from c360.core.errors import TerminalSourceError, TransientSourceError
from tests.connectors.fakes.hubspot import TOKEN, HubSpotFake
from tests.connectors.httpfake import FakeServer, serve

T0 = 1_700_000_000_000  # epoch ms


def _fake() -> HubSpotFake:
    fake = HubSpotFake()
    for i in range(1, 8):
        fake.put("companies", str(100 + i), T0 + i * 1000, name=f"Company {i}", domain=f"c{i}.example")
    # Two companies modified in the same millisecond: neither may be lost at a page edge.
    fake.put("companies", "109", T0 + 7000, name="Company 9", domain="c9.example")
    fake.put("companies", None, T0 + 8000, name="No id")
    fake.put("contacts", "501", T0, email="ada@acme.example", firstname="Ada")
    return fake


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with serve(_fake()) as srv:
        yield srv


def _fake_of(server: FakeServer) -> HubSpotFake:
    assert isinstance(server.handler, HubSpotFake)
    return server.handler


def _conn(url: str, **http: Any) -> HubSpotConnector:
    http.setdefault("sleep", lambda _s: None)
    return HubSpotConnector(HubSpotOptions(access_token=TOKEN, base_url=url), **http)


def _records(batches: list[Batch]) -> list[tuple[str, bool]]:
    return [(r.key, r.deleted) for b in batches for r in b.records]


def test_full_read_pages_and_quarantines(server: FakeServer) -> None:
    conn = _conn(server.url)
    batches = list(conn.read("companies", key="id", batch_size=3))
    search_pages = [b for b in batches if not any(r.deleted for r in b.records)]
    assert len(server.handler.searches) == 3  # type: ignore[attr-defined]
    assert _records(batches) == [(str(100 + i), False) for i in range(1, 8)] + [("109", False)]
    first = batches[0].records[0].data
    assert first["properties"]["name"] == "Company 1"  # the API's own nested shape
    assert first["properties"]["domain"] == "c1.example"
    bad = [q for b in batches for q in b.quarantined]
    assert len(bad) == 1 and "missing key 'id'" in bad[0].reason and "page 3" in bad[0].location
    assert search_pages and all(b.cursor for b in batches)
    cursor = json.loads(batches[-1].cursor or "")
    assert cursor["ts"] == T0 + 7000 and sorted(cursor["ids"]) == ["107", "109"]
    search = _fake_of(server).searches[0]
    assert search["sorts"] == [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}]
    assert "filterGroups" not in search
    assert "domain" in search["properties"]


def test_incremental_changes_and_archived_tombstones(server: FakeServer) -> None:
    fake = _fake_of(server)
    conn = _conn(server.url)
    cursor = list(conn.read("companies", key="id", batch_size=100))[-1].cursor
    fake.put("companies", "103", T0 + 60_000, name="Company 3 renamed")
    fake.put("companies", "120", T0 + 61_000, name="Company 20")
    fake.archive("companies", "105", T0 + 62_000)
    batches = list(conn.read("companies", key="id", since=cursor, batch_size=100))
    assert _records(batches) == [("103", False), ("120", False), ("105", True)]
    assert batches[0].records[0].data["properties"]["name"] == "Company 3 renamed"
    flt = fake.searches[-1]["filterGroups"][0]["filters"][0]
    assert flt == {"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": str(T0 + 7000)}
    # The next sync sees nothing new: the archived watermark moved too.
    again = list(conn.read("companies", key="id", since=batches[-1].cursor))
    assert _records(again) == []


def test_429_with_retry_after_is_retried(server: FakeServer) -> None:
    waits: list[float] = []
    _fake_of(server).fail_next(
        429,
        {
            "status": "error",
            "errorType": "RATE_LIMIT",
            "message": "You have reached your secondly limit.",
            "policyName": "SECONDLY",
        },
        headers={"Retry-After": "2"},
        path_contains="/search",
    )
    conn = _conn(server.url, sleep=waits.append)
    assert len(_records(list(conn.read("companies", key="id")))) == 8
    assert waits == [2.0]


def test_5xx_is_retried(server: FakeServer) -> None:
    waits: list[float] = []
    _fake_of(server).fail_next(502, "Bad Gateway", path_contains="/search", times=2)
    conn = _conn(server.url, sleep=waits.append, backoff=0.1)
    assert len(_records(list(conn.read("companies", key="id")))) == 8
    assert waits == [0.1, 0.2]
    _fake_of(server).fail_next(500, "boom", times=5)
    with pytest.raises(TransientSourceError, match="answered 500"):
        list(_conn(server.url, max_retries=1).read("companies", key="id"))


def test_401_is_terminal_with_a_helpful_message(server: FakeServer) -> None:
    conn = HubSpotConnector(HubSpotOptions(access_token="pat-wrong-123", base_url=server.url))
    with pytest.raises(TerminalSourceError) as info:
        conn.check()
    message = str(info.value)
    assert "hubspot" in message and "401" in message and "credentials" in message
    assert "INVALID_AUTHENTICATION" in message
    assert "pat-wrong-123" not in message and "pat-wrong-123" not in repr(conn.options)


def test_lookup_by_id_and_by_property(server: FakeServer) -> None:
    conn = _conn(server.url)
    found = conn.lookup("companies", key="id", keys=["102", "104", "999"])
    assert sorted(r.key for r in found) == ["102", "104"]
    assert {r.data["properties"]["name"] for r in found} == {"Company 2", "Company 4"}
    by_email = conn.lookup("contacts", key="properties.email", keys=["ada@acme.example"])
    assert [r.key for r in by_email] == ["ada@acme.example"]
    assert server.requests[-1].json()["idProperty"] == "email"
    assert conn.lookup("contacts", key="id", keys=[]) == []


def test_contacts_use_lastmodifieddate(server: FakeServer) -> None:
    conn = _conn(server.url)
    batches = list(conn.read("contacts", key="id"))
    assert _records(batches) == [("501", False)]
    assert json.loads(batches[-1].cursor or "")["ts"] == T0
    assert _fake_of(server).searches[-1]["sorts"][0]["propertyName"] == "lastmodifieddate"


def test_discover_lists_properties(server: FakeServer, tmp_path: Path) -> None:
    conn = make_connector("hubspot", {"access_token": TOKEN, "base_url": server.url}, base_dir=tmp_path)
    streams = {s.name: s for s in conn.discover()}
    assert set(streams) == {"companies", "contacts", "deals"}
    assert "domain" in {c.name for c in streams["companies"].columns}
    assert streams["contacts"].cursor_field == "lastmodifieddate"


def test_bad_cursor_is_terminal(server: FakeServer) -> None:
    with pytest.raises(TerminalSourceError, match="not a HubSpot cursor"):
        list(_conn(server.url).read("companies", key="id", since="2024-01-01"))


def test_search_window_limit_restarts_from_the_watermark(server: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    import c360.connectors.hubspot as hubspot

    monkeypatch.setattr(hubspot, "_SEARCH_WINDOW", 4)  # HubSpot's is 10,000
    batches = list(_conn(server.url).read("companies", key="id", batch_size=2))
    keys = [k for k, _ in _records(batches)]
    assert keys == [str(100 + i) for i in range(1, 8)] + ["109"]  # none lost, none repeated
    restarts = [s for s in _fake_of(server).searches if "filterGroups" in s and "after" not in s]
    assert restarts and restarts[0]["filterGroups"][0]["filters"][0]["operator"] == "GTE"
