"""Serving fixtures: the built demo in each store, a test spec with every policy kind, a client."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from c360.api import create_app
from c360.spec.validate import Spec, load_spec_text
from c360.store import Store
from tests.api.stores import STORES, store_of
from tests.conftest import BuiltDemo

MASK_KEY = b"test-mask-key"
# How a server holds the snapshot (C360_SERVING): the shared serving file, or its own memory.
MODES = ["file", "memory"]

# Every policy kind over the demo's fields: grants, each mask, row filters, a union, deny by default.
CONSUMERS = """
consumers:
  finance:
    fields: [customer_id, account_name, segment, mrr, ltv, invoice_status, billing_active,
             billing_contact_email, annual_revenue]
  support:
    fields: [customer_id, account_name, segment, open_tickets, csat, last_login, active_seats,
             product_active_30d, billing_contact_email]
    masks: {billing_contact_email: email, last_login: year}
    delivery: live
    allow_stale: true
  churn_model:
    fields: [customer_id, account_name, mrr, ltv, open_tickets, csat, last_login,
             product_active_30d, billing_active, active_seats]
  marketing:
    fields: [customer_id, account_name, segment, marketing_opt_in, billing_contact_email]
    masks: {billing_contact_email: hash}
    row_filter: marketing_opt_in
  analyst:
    fields: [customer_id, segment, billing_contact_email]
    masks: {billing_contact_email: last4}
    rights: [owner]
  emea:
    fields: [customer_id, account_name, segment, annual_revenue]
    masks: {annual_revenue: redact}
    row_filter: "segment = 'enterprise'"
  pseudonymous:
    fields: [customer_id, segment]
    masks: {customer_id: hash}
  limited:
    fields: [customer_id, segment]
    rate_limit: 2/h
  nobody:
    fields: []

policies:
  - name: paying_accounts
    consumers: [emea]
    fields: [customer_id, mrr, annual_revenue]
    row_filter: "mrr > 0"

subscriptions:"""


def policy_spec(built: BuiltDemo) -> Spec:
    """The demo product with the consumers above (same sources, so live reads work)."""
    text = built.spec_path.read_text()
    text = re.sub(r"\nconsumers:\n.*?\nsubscriptions:", CONSUMERS, text, flags=re.S)
    return load_spec_text(text, built.dir / "policies.yaml")


@dataclass
class Served:
    client: TestClient
    spec: Spec
    store: Store
    keys: dict[str, str]
    records: dict[str, dict[str, Any]]  # the stored (unprojected) snapshot records
    kind: str
    extra: dict[str, Any] = field(default_factory=dict)

    def headers(self, consumer: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[consumer]}"}

    def get(self, path: str, consumer: str, **kw: Any) -> Any:
        return self.client.get(path, headers={**self.headers(consumer), **kw.pop("headers", {})}, **kw)

    def post(self, path: str, consumer: str, **kw: Any) -> Any:
        return self.client.post(path, headers=self.headers(consumer), **kw)


def serve(spec: Spec, store: Store, kind: str) -> Iterator[Served]:
    keys = {c: store.create_key(c) for c in spec.model.consumers}
    version = store.current_version()
    assert version is not None
    records = {cid: orjson.loads(data) for cid, data in store.snapshot_rows(version)}
    app = create_app(spec, store, refresh_seconds=0, mask_key=MASK_KEY, jwt=None)
    with TestClient(app) as client:
        yield Served(client, spec, store, keys, records, kind)


@pytest.fixture(scope="module", params=MODES)
def serving_mode(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Each serving mode in turn (apps made meanwhile, and servers started, use it).

    Serving files go to a temporary directory, not the user's cache (PostgreSQL stores).
    """
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("C360_SERVING", request.param)
        mp.setenv("C360_SERVING_DIR", str(tmp_path_factory.mktemp("serving")))
        yield request.param


@pytest.fixture(scope="module", params=STORES)
def demo_store(request: pytest.FixtureRequest, built_demo: BuiltDemo) -> Iterator[tuple[str, Store]]:
    """The built demo's store: the SQLite file, or a PostgreSQL database holding a copy of it."""
    with store_of(request.param, built_demo.store_url) as store:
        yield request.param, store


@pytest.fixture(scope="module")
def served(built_demo: BuiltDemo, serving_mode: str, demo_store: tuple[str, Store]) -> Iterator[Served]:
    kind, store = demo_store
    yield from serve(policy_spec(built_demo), store, kind)
