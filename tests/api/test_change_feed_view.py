"""A change feed per consumer view: a customer is listed when what that consumer is served changed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from c360.api import create_app
from c360.spec.validate import load_spec
from c360.store import Store
from c360.store.schema import snapshots
from tests.api.stores import STORES, copy_store, pg_database
from tests.conftest import BuiltDemo

# Both serving modes: the shared serving file and each process's own memory.
pytestmark = pytest.mark.usefixtures("serving_mode")

SINCE = "2026-06-01T00:00:00Z"


@pytest.fixture(params=STORES)
def store(
    request: pytest.FixtureRequest, built_demo: BuiltDemo, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Store]:
    """A private copy of the built demo's store, its one version built on 2026-06-01."""
    with ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path_factory.mktemp('feed')}/store.db"
        else:
            url = stack.enter_context(pg_database())
        s = copy_store(built_demo.store_url, url)
        stack.callback(s.close)
        v1 = s.current_version()
        with s.engine.begin() as conn:
            conn.execute(
                update(snapshots)
                .where(snapshots.c.version == v1)
                .values(built_at=dt.datetime(2026, 6, 1, tzinfo=dt.UTC))
            )
        yield s


def _publish_v2(store: Store) -> tuple[list[str], list[str]]:
    """A second version in which some customers' open_tickets changed and others' mrr."""
    v1 = store.current_version()
    assert v1 is not None
    records = {cid: orjson.loads(data) for cid, data in store.snapshot_rows(v1)}
    ids = sorted(records)
    tickets, money = ids[2:8], ids[10:13]

    def changed(cid: str, r: dict[str, Any]) -> dict[str, Any]:
        if cid in tickets:
            return {**r, "open_tickets": (r["open_tickets"] or 0) + 5}
        if cid in money:
            return {**r, "mrr": (r["mrr"] or 0) + 1.0}
        return r

    v2 = store.begin_snapshot("test-run", "1.0.0", dt.datetime(2026, 6, 2, tzinfo=dt.UTC))
    store.write_snapshot(v2, ((cid, changed(cid, r)) for cid, r in sorted(records.items())))
    store.publish(v2)
    return tickets, money


def _feed(client: TestClient, key: str) -> list[str]:
    page = client.get(
        "/v1/customers", headers={"Authorization": f"Bearer {key}"}, params={"changed_since": SINCE, "limit": 1000}
    )
    assert page.status_code == 200, page.text
    return [i["customer_id"] for i in page.json()["items"]]


def _expect(client: TestClient, keys: dict[str, str], tickets: list[str], money: list[str]) -> None:
    # finance is not granted open_tickets: a change to it alone is no change to finance.
    assert _feed(client, keys["finance"]) == money
    assert _feed(client, keys["churn_model"]) == sorted(tickets + money)
    # marketing is granted neither field: nothing it is served changed.
    assert _feed(client, keys["marketing"]) == []


def test_feed_of_a_snapshot_loaded_after_the_change(store: Store, built_demo: BuiltDemo) -> None:
    tickets, money = _publish_v2(store)
    keys = {c: store.create_key(c) for c in ("finance", "churn_model", "marketing")}
    spec = load_spec(built_demo.spec_path)
    with TestClient(create_app(spec, store, refresh_seconds=0, mask_key=b"k", jwt=None)) as client:
        _expect(client, keys, tickets, money)


def test_feed_of_a_snapshot_published_while_serving(store: Store, built_demo: BuiltDemo) -> None:
    keys = {c: store.create_key(c) for c in ("finance", "churn_model", "marketing")}
    spec = load_spec(built_demo.spec_path)
    app = create_app(spec, store, refresh_seconds=0, mask_key=b"k", jwt=None)
    with TestClient(app) as client:
        v1 = store.current_version()
        first = sorted(orjson.loads(d)["customer_id"] for _, d in store.snapshot_rows(v1 or 0))[2]
        fin = {"Authorization": f"Bearer {keys['finance']}"}
        before = client.get(f"/v1/customers/{first}", headers=fin)
        tickets, money = _publish_v2(store)
        assert first in tickets
        app.state.c360.refresh()
        _expect(client, keys, tickets, money)
        # The ETag follows what the consumer is served: finance's did not change.
        after = client.get(f"/v1/customers/{first}", headers=fin)
        assert after.headers["x-c360-snapshot"] != before.headers["x-c360-snapshot"]
        assert after.headers["etag"] == before.headers["etag"]
        again = client.get(f"/v1/customers/{first}", headers={**fin, "If-None-Match": before.headers["etag"]})
        assert again.status_code == 304
