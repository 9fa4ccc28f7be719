"""Stripe connector (official SDK) against a local fake of the Stripe API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from c360.connectors.base import Batch
from c360.connectors.registry import make_connector
from c360.connectors.stripe import StripeConnector, StripeOptions
from c360.core.errors import TerminalSourceError, TransientSourceError
from tests.conftest import need_module
from tests.connectors.fakes.stripe import API_KEY, StripeFake
from tests.connectors.httpfake import FakeRequest, FakeResponse, FakeServer, serve

T0 = 1_700_000_000


def _fake() -> StripeFake:
    fake = StripeFake()
    for i in range(1, 8):
        fake.add(
            "customers",
            f"cus_{i:04d}",
            T0 + i * 10,
            email=f"c{i}@acme.example",
            name=f"Customer {i}",
            metadata={"crm_account_id": f"001A{i}"},
        )
    fake.add("customers", "cus_0008", T0 + 70, email="c8@acme.example")  # same second as 7
    fake.add("customers", None, T0 + 5, email="no-id@acme.example")
    fake.add("subscriptions", "sub_1", T0, customer="cus_0001", status="active")
    fake.add("subscriptions", "sub_2", T0 + 1, customer="cus_0002", status="canceled")
    return fake


@pytest.fixture
def server() -> Iterator[FakeServer]:
    need_module("stripe")  # the connector drives the official SDK
    with serve(_fake()) as srv:
        yield srv


def _fake_of(server: FakeServer) -> StripeFake:
    assert isinstance(server.handler, StripeFake)
    return server.handler


def _conn(url: str, key: str = API_KEY, **kw: Any) -> StripeConnector:
    kw.setdefault("sleep", lambda _s: None)
    max_retries = kw.pop("max_retries", 5)
    return StripeConnector(StripeOptions(api_key=key, base_url=url, max_retries=max_retries), **kw)


def _keys(batches: list[Batch]) -> list[tuple[str, bool]]:
    return [(r.key, r.deleted) for b in batches for r in b.records]


def test_full_read_pages_newest_first_and_quarantines(server: FakeServer) -> None:
    batches = list(_conn(server.url).read("customers", key="id", batch_size=3))
    assert len(batches) == 3  # 9 customers, 3 per page
    assert _keys(batches) == [(f"cus_{i:04d}", False) for i in (8, 7, 6, 5, 4, 3, 2, 1)]
    data = batches[0].records[1].data
    assert data["metadata"] == {"crm_account_id": "001A7"}  # nested objects kept
    assert isinstance(data, dict) and data["object"] == "customer"
    bad = [q for b in batches for q in b.quarantined]
    assert len(bad) == 1 and "missing key 'id'" in bad[0].reason and "no-id@" in bad[0].raw
    # Only the last batch may advance the watermark (the read is newest first); the batches
    # before it save the listing's progress, so an interrupted read resumes there.
    progress = [json.loads(b.cursor or "") for b in batches[:-1]]
    assert [(c["created"], c["after"]) for c in progress] == [(None, "cus_0006"), (None, "cus_0003")]
    assert progress[1]["newest"] == T0 + 70
    cursor = json.loads(batches[-1].cursor or "")
    assert cursor["created"] == T0 + 70 and sorted(cursor["created_ids"]) == ["cus_0007", "cus_0008"]
    assert "after" not in cursor
    lists = [r for r in server.requests if r.path == "/v1/customers"]
    assert [r.arg("starting_after") for r in lists] == [None, "cus_0006", "cus_0003"]
    assert all(r.arg("limit") == "3" for r in lists)


def test_incremental_reads_new_objects_and_events(server: FakeServer) -> None:
    fake = _fake_of(server)
    conn = _conn(server.url)
    fake.update("customers", "cus_0001", T0 + 80, email="old@acme.example")  # before the sync
    cursor = list(conn.read("customers", key="id", batch_size=100))[-1].cursor
    assert json.loads(cursor or "")["event_ids"] == ["evt_000001"]
    fake.add("customers", "cus_0009", T0 + 100, email="c9@acme.example")
    fake.update("customers", "cus_0002", T0 + 101, email="first@acme.example")
    fake.update("customers", "cus_0002", T0 + 102, email="second@acme.example")
    fake.delete("customers", "cus_0003", T0 + 103)
    batches = list(conn.read("customers", key="id", since=cursor, batch_size=2))
    got = {(r.key, r.deleted): r.data for b in batches for r in b.records}
    assert list(got) == [("cus_0009", False), ("cus_0003", True), ("cus_0002", False)]
    assert got[("cus_0002", False)]["email"] == "second@acme.example"  # the newest state wins
    objects_call = [r for r in server.requests if r.path == "/v1/customers"][-1]
    assert objects_call.arg("created[gte]") == str(T0 + 70)
    events_call = [r for r in server.requests if r.path == "/v1/events"][-1]
    assert {v[0] for k, v in events_call.query.items() if k.startswith("types")} == {
        "customer.updated",
        "customer.deleted",
    }
    # Nothing since: nothing returned, cursor stable.
    final = batches[-1].cursor
    again = list(conn.read("customers", key="id", since=final))

    def watermarks(cursor: str | None) -> dict[str, Any]:
        return {k: v for k, v in json.loads(cursor or "").items() if k != "checked"}

    assert _keys(again) == [] and watermarks(again[-1].cursor) == watermarks(final)


def test_429_with_retry_after_is_retried(server: FakeServer) -> None:
    waits: list[float] = []
    _fake_of(server).fail_next(
        429,
        {"error": {"type": "invalid_request_error", "code": "rate_limit", "message": "Request rate limit exceeded."}},
        headers={"Retry-After": "3"},
        path_contains="/v1/customers",
    )
    batches = list(_conn(server.url, sleep=waits.append).read("customers", key="id"))
    assert len(_keys(batches)) == 8
    assert waits == [3.0]


def test_5xx_is_retried_then_transient(server: FakeServer) -> None:
    fake = _fake_of(server)
    waits: list[float] = []
    fake.fail_next(
        500, {"error": {"type": "api_error", "message": "Something went wrong"}}, path_contains="/v1/customers", times=2
    )
    conn = _conn(server.url, sleep=waits.append, backoff=0.5)
    assert len(_keys(list(conn.read("customers", key="id")))) == 8
    assert waits == [0.5, 1.0]
    fake.fail_next(503, "Service Unavailable", times=10)
    with pytest.raises(TransientSourceError, match="answered 503"):
        _conn(server.url, max_retries=2).check()


def test_401_bad_key_is_terminal_without_the_key(server: FakeServer) -> None:
    bad_key = "sk_test_wrongwrongwrong9999"
    conn = _conn(server.url, key=bad_key)
    with pytest.raises(TerminalSourceError) as info:
        conn.check()
    message = str(info.value)
    assert "401" in message and "api_key" in message and "stripe" in message
    assert bad_key not in message and bad_key not in repr(conn.options)


def test_lookup_retrieves_by_id(server: FakeServer) -> None:
    fake = _fake_of(server)
    conn = _conn(server.url)
    fake.delete("customers", "cus_0004", T0 + 200)
    found = conn.lookup("customers", key="id", keys=["cus_0002", "cus_missing", "cus_0004"])
    assert [(r.key, r.deleted) for r in found] == [("cus_0002", False), ("cus_0004", True)]
    assert found[0].data["metadata"]["crm_account_id"] == "001A2"


def test_subscriptions_include_every_status(server: FakeServer) -> None:
    batches = list(_conn(server.url).read("subscriptions", key="id"))
    assert sorted(k for k, _ in _keys(batches)) == ["sub_1", "sub_2"]
    first = next(r for r in server.requests if r.path == "/v1/subscriptions")
    assert first.arg("status") == "all"


def test_discover_and_registry(server: FakeServer, tmp_path: Path) -> None:
    conn = make_connector("stripe", {"api_key": API_KEY, "base_url": server.url}, base_dir=tmp_path)
    streams = {s.name: s for s in conn.discover()}
    assert set(streams) == {"customers", "subscriptions", "invoices", "charges", "refunds", "disputes"}
    assert streams["customers"].cursor_field == "created" and streams["customers"].key == "id"
    with pytest.raises(TerminalSourceError, match="unknown stream 'customer'"):
        list(conn.read("customer", key="id"))
    with pytest.raises(TerminalSourceError, match="not a Stripe cursor"):
        list(conn.read("customers", key="id", since="yesterday"))


class BreaksMidway:
    """The Stripe fake, with the customer list failing from its ``from_page``-th request on."""

    def __init__(self, fake: StripeFake, from_page: int) -> None:
        self.fake, self.from_page, self.broken, self.lists = fake, from_page, True, 0

    def __call__(self, req: FakeRequest) -> FakeResponse:
        if req.path == "/v1/customers":
            self.lists += 1
            if self.broken and self.lists >= self.from_page:
                return FakeResponse(500, {"error": {"type": "api_error", "message": "boom"}})
        return self.fake(req)


def _sync_until_failure(conn: StripeConnector, since: str | None) -> tuple[str | None, list[str]]:
    """Read like a sync: keep each batch's cursor once its records are 'committed'."""
    keys: list[str] = []
    cursor = since
    with pytest.raises(TransientSourceError, match="gave up after 1 attempt"):
        for batch in conn.read("customers", key="id", since=since, batch_size=3):
            keys += [r.key for r in batch.records]
            cursor = batch.cursor
    return cursor, keys


def test_interrupted_first_read_resumes_after_the_last_committed_page() -> None:
    """Issue #17: a first full read that fails midway used to restart from zero."""
    need_module("stripe")
    handler = BreaksMidway(_fake(), from_page=3)
    with serve(handler) as server:
        conn = _conn(server.url, max_retries=0)
        cursor, first = _sync_until_failure(conn, None)
        assert first == ["cus_0008", "cus_0007", "cus_0006", "cus_0005", "cus_0004", "cus_0003"]
        assert json.loads(cursor or "")["after"] == "cus_0003"
        handler.broken = False
        before = len([r for r in server.requests if r.path == "/v1/customers"])
        batches = list(conn.read("customers", key="id", since=cursor, batch_size=3))
        lists = [r for r in server.requests if r.path == "/v1/customers"][before:]
        assert [r.arg("starting_after") for r in lists] == ["cus_0003"]  # one page, not three
        rest = [k for k, _ in _keys(batches)]
        assert rest == ["cus_0002", "cus_0001"]
        assert sorted(first + rest) == [f"cus_{i:04d}" for i in range(1, 9)]  # none twice
        done = json.loads(batches[-1].cursor or "")
        assert done["created"] == T0 + 70 and sorted(done["created_ids"]) == ["cus_0007", "cus_0008"]
        assert "after" not in done
        # The next read is an ordinary incremental one: nothing new.
        assert _keys(list(conn.read("customers", key="id", since=batches[-1].cursor))) == []


def test_resume_from_a_deleted_page_marker_starts_the_listing_over(server: FakeServer) -> None:
    fake = _fake_of(server)
    conn = _conn(server.url)
    first = next(iter(conn.read("customers", key="id", batch_size=3)))
    fake.delete("customers", "cus_0006", T0 + 200)  # the object the cursor resumes after
    batches = list(conn.read("customers", key="id", since=first.cursor, batch_size=3))
    lists = [r.arg("starting_after") for r in server.requests if r.path == "/v1/customers"]
    assert lists[1:3] == ["cus_0006", None]  # refused, so listed again from the top
    assert {k for k, _ in _keys(batches)} >= {"cus_0001", "cus_0005"}
    assert json.loads(batches[-1].cursor or "")["created"] == T0 + 70
