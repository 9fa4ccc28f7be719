"""Zendesk connector against a local fake of the Support API's incremental exports."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import ValidationError

from c360.connectors.base import Batch
from c360.connectors.registry import make_connector
from c360.connectors.zendesk import ZendeskConnector, ZendeskOptions
from c360.core.errors import TerminalSourceError, TransientSourceError
from tests.connectors.fakes.zendesk import EMAIL, TOKEN, ZendeskFake, iso
from tests.connectors.httpfake import FakeServer, serve

T0 = 1_700_000_000


def _ticket(i: int, *, requester: int, org: int | None = None, status: str = "open", at: int = 0) -> dict[str, Any]:
    return {
        "id": i,
        "subject": f"ticket {i}",
        "status": status,
        "requester_id": requester,
        "organization_id": org,
        "created_at": iso(T0),
        "updated_at": iso(T0 + at),
    }


def _fake() -> ZendeskFake:
    fake = ZendeskFake()
    fake.upsert("users", {"id": 10, "name": "Ada", "email": "ada@acme.example", "active": True, "updated_at": iso(T0)})
    fake.upsert(
        "users", {"id": 11, "name": "Bob", "email": "bob@globex.example", "active": True, "updated_at": iso(T0 + 1)}
    )
    fake.upsert("organizations", {"id": 90, "name": "Acme", "updated_at": iso(T0), "deleted_at": None})
    for i in range(1, 7):
        fake.upsert("tickets", _ticket(i, requester=10 if i % 2 else 11, org=90 if i % 2 else None, at=i))
    fake.upsert("tickets", {"subject": "no id", "status": "open", "updated_at": iso(T0 + 7)})
    return fake


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with serve(_fake()) as srv:
        yield srv


def _conn(url: str, **opts: Any) -> ZendeskConnector:
    options = ZendeskOptions(base_url=url, email=EMAIL, api_token=TOKEN, **opts)
    return ZendeskConnector(options, sleep=lambda _s: None, backoff=0.0)


def _fake_of(server: FakeServer) -> ZendeskFake:
    assert isinstance(server.handler, ZendeskFake)
    return server.handler


def _all(batches: Iterator[Batch]) -> list[Batch]:
    return list(batches)


def test_full_read_pages_sideloads_and_quarantines(server: FakeServer) -> None:
    conn = _conn(server.url)
    batches = _all(conn.read("tickets", key="id", batch_size=2))
    assert len(batches) == 4  # 7 items, 2 per page
    records = [r for b in batches for r in b.records]
    assert [r.key for r in records] == ["1", "2", "3", "4", "5", "6"]
    first = records[0].data
    assert first["requester"] == {"id": 10, "name": "Ada", "email": "ada@acme.example"}
    assert first["organization"] == {"id": 90, "name": "Acme"}
    assert records[1].data["requester"]["email"] == "bob@globex.example"
    assert "organization" not in records[1].data  # no organization_id on the ticket
    bad = [q for b in batches for q in b.quarantined]
    assert len(bad) == 1 and "missing key 'id'" in bad[0].reason
    assert "no id" in bad[0].raw and "page 4" in bad[0].location
    assert all(b.cursor for b in batches)
    paths = [r for r in server.requests if "incremental" in r.path]
    assert paths[0].arg("start_time") == "0" and paths[0].arg("include") == "users,organizations"
    assert all(r.arg("cursor") for r in paths[1:])


def test_incremental_returns_changes_and_tombstones(server: FakeServer) -> None:
    fake = _fake_of(server)
    conn = _conn(server.url)
    cursor = _all(conn.read("tickets", key="id", batch_size=3))[-1].cursor
    assert cursor is not None
    fake.upsert("tickets", _ticket(2, requester=10, status="solved", at=20))
    fake.upsert("tickets", _ticket(4, requester=11, status="deleted", at=21))
    fake.upsert("tickets", _ticket(8, requester=11, at=22))
    batches = _all(conn.read("tickets", key="id", since=cursor, batch_size=10))
    records = [r for b in batches for r in b.records]
    assert [(r.key, r.deleted) for r in records] == [("2", False), ("4", True), ("8", False)]
    assert records[0].data["status"] == "solved"
    assert records[0].data["requester"]["email"] == "ada@acme.example"
    assert server.requests[-1].arg("cursor") == cursor
    # Nothing changed since: an empty page that keeps a usable cursor.
    again = _all(conn.read("tickets", key="id", since=batches[-1].cursor))
    assert [r for b in again for r in b.records] == []
    assert again[-1].cursor == batches[-1].cursor


def test_429_with_retry_after_is_retried(server: FakeServer) -> None:
    fake = _fake_of(server)
    waits: list[float] = []
    fake.fail_next(429, {"error": "TooManyRequests"}, headers={"Retry-After": "7"}, path_contains="/incremental/")
    conn = ZendeskConnector(ZendeskOptions(base_url=server.url, email=EMAIL, api_token=TOKEN), sleep=waits.append)
    records = [r for b in conn.read("tickets", key="id") for r in b.records]
    assert len(records) == 6
    assert waits == [7.0]


def test_5xx_is_retried_then_gives_up(server: FakeServer) -> None:
    fake = _fake_of(server)
    fake.fail_next(503, "upstream unavailable", times=2)
    conn = _conn(server.url)
    assert len([r for b in conn.read("tickets", key="id") for r in b.records]) == 6
    fake.fail_next(500, "boom", times=10)
    with pytest.raises(TransientSourceError, match="answered 500"):
        _all(_conn(server.url, max_retries=2).read("tickets", key="id"))


def test_401_is_terminal_and_hides_the_token(server: FakeServer) -> None:
    conn = ZendeskConnector(ZendeskOptions(base_url=server.url, email=EMAIL, api_token="wrong-token-value"))
    with pytest.raises(TerminalSourceError) as info:
        conn.check()
    message = str(info.value)
    assert "401" in message and "credentials" in message and "zendesk" in message
    assert "wrong-token-value" not in message
    assert "wrong-token-value" not in repr(conn.options)


def test_oauth_bearer_is_accepted(server: FakeServer) -> None:
    conn = ZendeskConnector(ZendeskOptions(base_url=server.url, oauth_token=TOKEN))
    conn.check()
    assert server.requests[-1].headers["authorization"] == f"Bearer {TOKEN}"


def test_lookup_by_ids_sideloads_requester(server: FakeServer) -> None:
    conn = _conn(server.url)
    found = conn.lookup("tickets", key="id", keys=["3", "2", "404"])
    assert sorted(r.key for r in found) == ["2", "3"]
    by_key = {r.key: r for r in found}
    assert by_key["3"].data["requester"]["email"] == "ada@acme.example"
    assert server.requests[-1].path == "/api/v2/tickets/show_many.json"
    assert conn.lookup("tickets", key="id", keys=[]) == []


def test_users_and_organizations_streams(server: FakeServer) -> None:
    fake = _fake_of(server)
    conn = _conn(server.url)
    users = _all(conn.read("users", key="id", batch_size=1))
    assert [r.key for b in users for r in b.records] == ["10", "11"]
    orgs = _all(conn.read("organizations", key="id"))
    assert [r.key for b in orgs for r in b.records] == ["90"]
    assert orgs[-1].cursor == str(T0)
    fake.upsert("organizations", {"id": 90, "name": "Acme", "updated_at": iso(T0 + 50), "deleted_at": iso(T0 + 50)})
    fake.upsert(
        "users", {"id": 11, "name": "Bob", "email": "bob@globex.example", "active": False, "updated_at": iso(T0 + 50)}
    )
    gone = [r for b in conn.read("organizations", key="id", since=orgs[-1].cursor) for r in b.records]
    assert [(r.key, r.deleted) for r in gone] == [("90", True)]
    left = [r for b in conn.read("users", key="id", since=users[-1].cursor) for r in b.records]
    assert [(r.key, r.deleted) for r in left] == [("11", True)]


def test_discover_and_registry(server: FakeServer, tmp_path: Any) -> None:
    conn = make_connector("zendesk", {"base_url": server.url, "email": EMAIL, "api_token": TOKEN}, base_dir=tmp_path)
    streams = {s.name: s for s in conn.discover()}
    assert set(streams) == {"tickets", "users", "organizations", "satisfaction_ratings", "ticket_metrics"}
    assert "requester" in {c.name for c in streams["tickets"].columns}
    with pytest.raises(TerminalSourceError, match="unknown stream 'ticket'"):
        _all(conn.read("ticket", key="id"))


def test_options_need_a_place_and_credentials() -> None:
    with pytest.raises(ValidationError, match="subdomain"):
        ZendeskOptions(email=EMAIL, api_token=TOKEN)
    with pytest.raises(ValidationError, match="oauth_token"):
        ZendeskOptions(subdomain="acme", email=EMAIL)
