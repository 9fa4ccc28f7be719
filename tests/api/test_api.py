"""The API: each consumer gets its projection and nothing else; clear JSON errors; freshness headers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from c360.api import create_app
from c360.governance.access import granted_fields
from c360.spec.validate import Spec, load_spec
from c360.store import Store
from tests.conftest import BuiltDemo


@dataclass
class Api:
    client: TestClient
    spec: Spec
    store: Store
    keys: dict[str, str]
    ids: list[str]

    def get(self, path: str, consumer: str | None = None, **kw: object) -> object:
        headers = {"Authorization": f"Bearer {self.keys[consumer]}"} if consumer else {}
        return self.client.get(path, headers=headers, **kw)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def api(built_demo: BuiltDemo, serving_mode: str, demo_store: tuple[str, Store]) -> Iterator[Api]:
    """The demo product served from SQLite and from PostgreSQL (``demo_store`` is parametrised)."""
    spec = load_spec(built_demo.spec_path)
    store = demo_store[1]
    keys = {c: store.create_key(c) for c in spec.model.consumers}
    ids = [cid for cid, _ in store.snapshot_rows(built_demo.version)]
    with TestClient(create_app(spec, store, refresh_seconds=0, mask_key=b"k", jwt=None)) as client:
        yield Api(client, spec, store, keys, ids)


def test_finance_sees_revenue_not_tickets(api: Api) -> None:
    r = api.get(f"/v1/customers/{api.ids[0]}", "finance")
    assert r.status_code == 200  # type: ignore[attr-defined]
    body = r.json()  # type: ignore[attr-defined]
    assert "mrr" in body and "ltv" in body and "billing_contact_email" in body
    assert "open_tickets" not in body and "csat" not in body
    assert body["customer_id"] == api.ids[0]


def test_support_sees_tickets_not_revenue(api: Api) -> None:
    body = api.get(f"/v1/customers/{api.ids[0]}", "support").json()  # type: ignore[attr-defined]
    assert "open_tickets" in body and "csat" in body and "last_login" in body
    assert not {"mrr", "ltv", "invoice_status", "billing_contact_email"} & set(body)


@pytest.mark.parametrize("consumer", ["finance", "support", "marketing", "churn_model"])
def test_every_consumer_gets_exactly_its_grant_for_every_customer(api: Api, consumer: str) -> None:
    grant = granted_fields(api.spec.model, consumer)
    for cid in api.ids[:40]:
        body = api.get(f"/v1/customers/{cid}", consumer).json()  # type: ignore[attr-defined]
        assert list(body) == grant


def test_no_key_or_a_bad_key_is_401_with_a_json_error(api: Api) -> None:
    r = api.client.get(f"/v1/customers/{api.ids[0]}")
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "unauthenticated"
    assert r.headers["www-authenticate"].startswith("Bearer")
    r = api.client.get(f"/v1/customers/{api.ids[0]}", headers={"Authorization": "Bearer c360_finance_forged"})
    assert r.status_code == 401
    r = api.client.get(f"/v1/customers/{api.ids[0]}", headers={"Authorization": api.keys["finance"]})
    assert r.status_code == 401


def test_revoked_key_stops_working(api: Api) -> None:
    key = api.store.create_key("marketing")
    state = api.client.app.state.c360  # type: ignore[attr-defined]
    state.refresh()
    headers = {"Authorization": f"Bearer {key}"}
    assert api.client.get(f"/v1/customers/{api.ids[0]}", headers=headers).status_code == 200
    api.store.revoke_keys("marketing")
    state.refresh()
    assert api.client.get(f"/v1/customers/{api.ids[0]}", headers=headers).status_code == 401
    api.keys["marketing"] = api.store.create_key("marketing")
    state.refresh()


def test_unknown_customer_is_404(api: Api) -> None:
    r = api.get("/v1/customers/c_doesnotexist", "finance")
    assert r.status_code == 404  # type: ignore[attr-defined]
    assert r.json() == {"error": {"code": "not_found", "message": "no customer 'c_doesnotexist'"}}  # type: ignore[attr-defined]


def test_freshness_headers_on_every_answer(api: Api, built_demo: BuiltDemo) -> None:
    r = api.get(f"/v1/customers/{api.ids[0]}", "finance")
    assert r.headers["x-c360-snapshot"] == str(built_demo.version)  # type: ignore[attr-defined]
    assert r.headers["x-c360-as-of"] == "2026-06-01T00:00:00Z"  # type: ignore[attr-defined]
    assert r.headers["x-c360-mode"] == "materialised"  # type: ignore[attr-defined]
    # support's delivery is live: its answers carry the read time and the sources read instead.
    r = api.get(f"/v1/customers/{api.ids[0]}", "support")
    assert r.headers["x-c360-mode"] == "live" and r.headers["x-c360-read-at"]  # type: ignore[attr-defined]
    assert r.headers["x-c360-snapshot"] == str(built_demo.version)  # type: ignore[attr-defined]


def test_paging_visits_every_customer_once(api: Api) -> None:
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 25, **({"cursor": cursor} if cursor else {})}
        page = api.get("/v1/customers", "churn_model", params=params).json()  # type: ignore[attr-defined]
        assert all(set(item) == set(granted_fields(api.spec.model, "churn_model")) for item in page["items"])
        seen.extend(item["customer_id"] for item in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == api.ids


def test_bad_paging_parameters_are_400(api: Api) -> None:
    assert api.get("/v1/customers", "finance", params={"limit": 0}).status_code == 400  # type: ignore[attr-defined]
    r = api.get("/v1/customers", "finance", params={"cursor": "not-a-cursor"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_cursor"  # type: ignore[attr-defined]


def test_schema_lists_the_callers_fields_with_lineage(api: Api) -> None:
    body = api.get("/v1/schema", "finance").json()  # type: ignore[attr-defined]
    names = [f["name"] for f in body["fields"]]
    assert names == granted_fields(api.spec.model, "finance")
    mrr = next(f for f in body["fields"] if f["name"] == "mrr")
    assert mrr["type"] == "decimal" and mrr["unit"] == "GBP" and mrr["description"]
    assert {(x["source"], x["column"]) for x in mrr["lineage"]} == {
        ("subscriptions", "amount"),
        ("subscriptions", "quantity"),
        ("subscriptions", "interval"),
        ("subscriptions", "status"),
    }
    name = next(f for f in body["fields"] if f["name"] == "account_name")
    assert {x["source"] for x in name["lineage"]} == {"crm", "billing"}


def test_health_readiness_and_openapi(api: Api) -> None:
    assert api.client.get("/healthz").json()["status"] == "ok"
    assert api.client.get("/readyz").json()["status"] == "ready"
    paths = api.client.get("/openapi.json").json()["paths"]
    assert {
        "/v1/customers/{customer_id}",
        "/v1/customers",
        "/v1/schema",
        "/v1/customers:batchGet",
        "/v1/customers:lookup",
        "/metrics",
        "/healthz",
        "/readyz",
    } <= set(paths)
