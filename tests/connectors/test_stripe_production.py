"""Stripe for production: refunds, disputes, complete subscription items, start dates, the
30-day events gap, keys from files."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from c360.connectors.base import Batch
from c360.connectors.stripe import StripeConnector, StripeOptions
from tests.conftest import need_module
from tests.connectors.fakes.stripe import API_KEY, StripeFake
from tests.connectors.httpfake import FakeServer, serve

T0 = 1_700_000_000
DAY = 86_400


def _fake() -> StripeFake:
    fake = StripeFake(items_shown=2)
    for i in range(1, 4):
        fake.add("customers", f"cus_{i}", T0 + i, email=f"c{i}@acme.example")
        fake.add(
            "charges",
            f"ch_{i}",
            T0 + i,
            customer=f"cus_{i}",
            amount=1000 * i,
            currency="eur",
            status="succeeded",
            refunded=False,
        )
        fake.add(
            "refunds", f"re_{i}", T0 + 10 + i, charge=f"ch_{i}", amount=100 * i, currency="eur", status="succeeded"
        )
        fake.add(
            "disputes",
            f"dp_{i}",
            T0 + 20 + i,
            charge=f"ch_{i}",
            amount=1000 * i,
            currency="eur",
            status="needs_response",
            reason="fraudulent",
        )
    fake.subscription(
        "sub_1",
        T0 + 1,
        [("price_a", 900), ("price_b", 100), ("price_c", 50), ("price_d", 25), ("price_e", 5)],
        customer="cus_1",
        status="active",
    )
    fake.subscription("sub_2", T0 + 2, [("price_a", 900)], customer="cus_2", status="active")
    return fake


@pytest.fixture
def server() -> Iterator[FakeServer]:
    need_module("stripe")
    with serve(_fake()) as srv:
        yield srv


def _fake_of(server: FakeServer) -> StripeFake:
    assert isinstance(server.handler, StripeFake)
    return server.handler


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _conn(url: str, *, clock: Clock | None = None, tmp: Path | None = None, **opts: Any) -> StripeConnector:
    if "api_key_file" not in opts:
        opts.setdefault("api_key", API_KEY)
    return StripeConnector(
        StripeOptions.model_validate({"base_url": url, **opts}),
        base_dir=tmp,
        sleep=lambda _s: None,
        clock=clock or Clock(T0 + 100),
    )


def _keys(batches: list[Batch]) -> list[tuple[str, bool]]:
    return [(r.key, r.deleted) for b in batches for r in b.records]


@pytest.mark.parametrize(
    "stream,prefix,event", [("refunds", "re", "updated"), ("disputes", "dp", "closed"), ("charges", "ch", "refunded")]
)
def test_new_streams_read_incrementally_through_their_events(
    server: FakeServer, stream: str, prefix: str, event: str
) -> None:
    fake = _fake_of(server)
    clock = Clock(T0 + 100)
    conn = _conn(server.url, clock=clock)
    assert stream in {s.name for s in conn.discover()}
    cursor = list(conn.read(stream, key="id"))[-1].cursor
    fake.add(stream, f"{prefix}_9", T0 + 200, amount=1, currency="eur", status="pending")
    fake.update(stream, f"{prefix}_2", T0 + 201, event=event, status="changed")
    clock.now = T0 + 300
    batches = list(conn.read(stream, key="id", since=cursor))
    got = {r.key: r.data for b in batches for r in b.records}
    assert list(got) == [f"{prefix}_9", f"{prefix}_2"]
    assert got[f"{prefix}_2"]["status"] == "changed"
    types = {
        v[0] for r in server.requests if r.path == "/v1/events" for k, v in r.query.items() if k.startswith("types")
    }
    assert any(t.endswith(f".{event}") for t in types)
    assert not any(b.notices for b in batches)


def test_subscriptions_carry_every_item_with_its_price(server: FakeServer) -> None:
    conn = _conn(server.url)
    batches = list(conn.read("subscriptions", key="id"))
    subs = {r.key: r.data for b in batches for r in b.records}
    items = subs["sub_1"]["items"]
    assert [i["price"]["id"] for i in items["data"]] == [
        "price_a",
        "price_b",
        "price_c",
        "price_d",
        "price_e",
    ]  # 2 inline, 3 fetched
    assert items["has_more"] is False and items["data"][0]["price"]["unit_amount"] == 900
    fetched = [r for r in server.requests if r.path == "/v1/subscription_items"]
    assert [r.arg("subscription") for r in fetched] == ["sub_1"]  # sub_2 was complete
    looked_up = conn.lookup("subscriptions", key="id", keys=["sub_1"])
    assert len(looked_up[0].data["items"]["data"]) == 5


def test_customer_deletions_are_tombstones(server: FakeServer) -> None:
    fake = _fake_of(server)
    clock = Clock(T0 + 100)
    conn = _conn(server.url, clock=clock)
    cursor = list(conn.read("customers", key="id"))[-1].cursor
    fake.delete("customers", "cus_3", T0 + 150)
    assert _keys(list(conn.read("customers", key="id", since=cursor))) == [("cus_3", True)]


def test_start_date_bounds_the_first_read(server: FakeServer) -> None:
    conn = _conn(server.url, start_date="2023-11-14T22:13:22Z")  # T0 + 2
    assert [k for k, _ in _keys(list(conn.read("customers", key="id")))] == ["cus_3", "cus_2"]
    listing = [r for r in server.requests if r.path == "/v1/customers"][-1]
    assert listing.arg("created[gte]") == str(T0 + 2)


def test_events_cursor_older_than_30_days_reads_everything_again_with_a_notice(server: FakeServer) -> None:
    fake = _fake_of(server)
    clock = Clock(T0 + 100)
    conn = _conn(server.url, clock=clock)
    cursor = list(conn.read("customers", key="id"))[-1].cursor
    assert json.loads(cursor or "")["checked"] == T0 + 100
    fake.update("customers", "cus_1", T0 + 5 * DAY, email="changed@acme.example")
    fake.events.clear()  # 31 days on, Stripe has dropped those events
    clock.now = T0 + 100 + 31 * DAY
    before = len(server.requests)
    batches = list(conn.read("customers", key="id", since=cursor))
    notices = [n for b in batches for n in b.notices]
    assert len(notices) == 1 and notices[0].kind == "events_expired"
    assert "31 days ago" in notices[0].message and "30 days" in notices[0].message
    assert "--full" in notices[0].message
    got = {r.key: r.data for b in batches for r in b.records}
    assert sorted(got) == ["cus_1", "cus_2", "cus_3"]  # all of them, read again
    assert got["cus_1"]["email"] == "changed@acme.example"  # the change the events lost
    listing = [r for r in server.requests[before:] if r.path == "/v1/customers"]
    assert listing[0].arg("created[gte]") is None
    after = json.loads(batches[-1].cursor or "")
    assert after["checked"] == T0 + 100 + 31 * DAY
    # Within 30 days: an ordinary incremental read, no notice.
    clock.now += 29 * DAY
    again = list(conn.read("customers", key="id", since=batches[-1].cursor))
    assert not any(b.notices for b in again) and _keys(again) == []


def test_a_legacy_cursor_without_its_check_time_uses_its_watermarks(server: FakeServer) -> None:
    legacy = json.dumps({"created": T0 + 3, "created_ids": ["cus_3"], "events": None, "event_ids": []})
    fresh = list(_conn(server.url, clock=Clock(T0 + 10 * DAY)).read("customers", key="id", since=legacy))
    assert not any(b.notices for b in fresh) and _keys(fresh) == []
    stale = list(_conn(server.url, clock=Clock(T0 + 40 * DAY)).read("customers", key="id", since=legacy))
    assert [n.kind for b in stale for n in b.notices] == ["events_expired"]
    assert len(_keys(stale)) == 3


def test_api_key_from_a_file(server: FakeServer, tmp_path: Path) -> None:
    (tmp_path / "stripe_key").write_text(API_KEY + "\n")
    conn = _conn(server.url, tmp=tmp_path, api_key_file="stripe_key")
    conn.check()
    assert API_KEY not in repr(conn) and API_KEY not in repr(conn.options)
    with pytest.raises(ValidationError, match="'api_key' or 'api_key_file'"):
        StripeOptions(base_url=server.url)


def test_the_sync_reports_the_events_gap(server: FakeServer, tmp_path: Path, built_demo: Any) -> None:
    """End to end: an old cursor in the store; the sync re-reads and its summary says why."""
    import shutil
    import time

    import yaml

    from c360.pipeline.sync import sync_source
    from c360.spec.validate import load_spec
    from c360.store import Store

    d = tmp_path / "demo"
    shutil.copytree(built_demo.dir, d)
    spec_doc = yaml.safe_load((d / "product.yaml").read_text())
    spec_doc["sources"]["stripe_live"] = {
        "description": "Stripe customers, through the API",
        "connector": "stripe",
        "stream": "customers",
        "base_url": server.url,
        "api_key": API_KEY,
        "key": "id",
        "identity": {"email": "email"},
        "columns": {"id": "string", "email": "string"},
    }
    (d / "product.yaml").write_text(yaml.safe_dump(spec_doc, sort_keys=False))
    spec = load_spec(d / "product.yaml")
    store = Store.open(f"sqlite:///{tmp_path}/gap.db")
    try:
        run_id = store.start_run("sync")
        forty_days_ago = int(time.time()) - 40 * DAY  # relative to now: no wall-clock race
        old = json.dumps(
            {"created": T0 + 3, "created_ids": ["cus_3"], "events": None, "event_ids": [], "checked": forty_days_ago}
        )
        store.stage("stripe_live", [], cursor=old, run_id=run_id)
        out = sync_source(spec, store, "stripe_live", run_id=run_id)
        assert out.notices["events_expired"]["count"] == 1
        assert "40 days ago" in out.notices["events_expired"]["examples"][0]
        assert out.records == 3  # every customer read again, not none
        assert json.loads(store.cursor("stripe_live") or "")["checked"] >= forty_days_ago + 40 * DAY
    finally:
        store.close()
