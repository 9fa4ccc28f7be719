"""Contract lifecycle in the API: pinned majors get Deprecation/Sunset headers, then a clear 410;
owners see subscriptions' live compliance; /metrics exports it."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from c360.api import create_app
from c360.governance import sla
from c360.spec.validate import load_spec
from c360.store import Store
from tests.conftest import BuiltDemo

SUNSET = (dt.date.today() + dt.timedelta(days=30)).isoformat()


@pytest.fixture()
def client(built_demo: BuiltDemo, tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str], list[str]]]:
    d = tmp_path / "demo"
    shutil.copytree(built_demo.dir, d)
    text = (d / "product.yaml").read_text()
    text = text.replace("version: 1.0.0", "version: 2.0.0")
    text = text.replace(
        "purpose: revenue reporting, freshness: 24h}", "purpose: revenue reporting, freshness: 24h, major: 1}"
    )
    text = text.replace(
        "    description: Revenue reporting and billing reconciliation\n",
        "    description: Revenue reporting and billing reconciliation\n    rights: [owner]\n",
    )
    text += f"\nlifecycle:\n  sunset: {{1: {SUNSET}}}\n"
    (d / "product.yaml").write_text(text)
    spec = load_spec(d / "product.yaml")
    store = Store.open(f"sqlite:///{d}/store.db")
    keys = {c: store.create_key(c) for c in ("finance", "support", "marketing")}
    ids = [cid for cid, _ in store.snapshot_rows(store.current_version() or 0)]
    with TestClient(create_app(spec, store, refresh_seconds=0)) as c:
        yield c, keys, ids


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


Client = tuple[TestClient, dict[str, str], list[str]]


def test_a_pinned_consumer_is_told_its_major_is_deprecated(client: Client) -> None:
    c, keys, ids = client
    r = c.get(f"/v1/customers/{ids[0]}", headers=auth(keys["finance"]))
    assert r.status_code == 200
    assert r.headers["deprecation"] == "true"
    assert r.headers["x-c360-major"] == "1"
    assert r.headers["sunset"].endswith("GMT")
    assert 'rel="successor-version"' in r.headers["link"]
    # The FastAPI routes carry them too.
    assert c.get("/v1/customers", headers=auth(keys["finance"])).headers["deprecation"] == "true"
    # A consumer on the current major gets none.
    assert "deprecation" not in c.get(f"/v1/customers/{ids[0]}", headers=auth(keys["marketing"])).headers


def test_after_the_sunset_the_pinned_consumer_gets_a_clear_410(
    client: tuple[TestClient, dict[str, str], list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    c, keys, ids = client
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=60)
    monkeypatch.setattr(sla, "utcnow", lambda: later)
    r = c.get(f"/v1/customers/{ids[0]}", headers=auth(keys["finance"]))
    assert r.status_code == 410
    body = r.json()["error"]
    assert body["code"] == "sunset" and "2" in body["message"]
    assert c.get(f"/v1/customers/{ids[0]}", headers=auth(keys["marketing"])).status_code == 200


def test_owners_see_subscriptions_compliance_and_others_do_not(
    client: tuple[TestClient, dict[str, str], list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    c, keys, ids = client
    for cid in ids[:5]:
        assert c.get(f"/v1/customers/{cid}", headers=auth(keys["support"])).status_code == 200
    assert c.get("/v1/subscriptions", headers=auth(keys["support"])).status_code == 403
    body = c.get("/v1/subscriptions", headers=auth(keys["finance"])).json()
    finance = next(s for s in body["subscriptions"] if s["consumer"] == "finance")
    assert finance["freshness_ok"] is True and finance["compliant"] is True
    support = next(s for s in body["subscriptions"] if s["consumer"] == "support")
    assert support["samples"] >= 5 and support["observed_p99_ms"] is not None
    # A day later, nothing rebuilt: the 24h and 15m freshness SLAs are broken.
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
    monkeypatch.setattr(sla, "utcnow", lambda: later)
    stale = c.get("/v1/subscriptions", headers=auth(keys["finance"])).json()["subscriptions"]
    assert not next(s for s in stale if s["consumer"] == "finance")["compliant"]
    metrics = c.get("/metrics", headers=auth(keys["finance"])).text
    assert 'c360_subscription_compliant{consumer="finance",purpose="revenue reporting"} 0.0' in metrics


def test_reads_outside_subscriptions_count_as_purpose_drift(
    client: tuple[TestClient, dict[str, str], list[str]],
) -> None:
    c, keys, ids = client
    c.get(f"/v1/customers/{ids[0]}", headers=auth(keys["finance"]))
    subs = c.get("/v1/subscriptions", headers=auth(keys["finance"])).json()["subscriptions"]
    # finance reads account_name, segment, ... but subscribed only to mrr, ltv, invoice_status.
    assert next(s for s in subs if s["consumer"] == "finance")["purpose_drift"] > 0


def test_the_product_page(client: Client) -> None:
    c, keys, _ = client
    r = c.get("/", headers=auth(keys["finance"]))  # finance holds the owner right
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = r.text
    assert "customer_360" in page and "customer-data@example.com" in page
    assert "mrr" in page and "Monthly recurring revenue" in page
    assert "finance" in page and "revenue reporting" in page
    assert "invoices@" not in page  # metadata only, never a customer's data
