"""Every customer a response carries is an audited read: one chained row per customer, whatever the endpoint."""

from __future__ import annotations

import shutil
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import text

from c360.api import create_app
from c360.governance import audit
from c360.spec.validate import load_spec
from c360.store import Store
from tests.conftest import BuiltDemo


def test_gets_batches_pages_and_lookups_audit_each_customer(built_demo: BuiltDemo, tmp_path: Path) -> None:
    d = tmp_path / "demo"
    shutil.copytree(built_demo.dir, d)
    store = Store.open(f"sqlite:///{d}/store.db")
    key = {"Authorization": f"Bearer {store.create_key('finance')}"}
    ids = sorted(cid for cid, _ in store.snapshot_rows(store.current_version() or 0))
    with store.engine.connect() as conn:
        billed, first_key = conn.execute(
            text("SELECT customer_id, key FROM identity_map WHERE source = 'billing' ORDER BY customer_id DESC LIMIT 1")
        ).one()
        start = conn.execute(text("SELECT coalesce(max(seq), 0) FROM audit_log")).scalar_one()  # reads before ours
    with TestClient(create_app(load_spec(d / "product.yaml"), store, refresh_seconds=0)) as c:
        assert c.get(f"/v1/customers/{ids[0]}", headers=key).status_code == 200
        batch = c.post("/v1/customers:batchGet", json={"ids": [ids[1], "c_nobody", ids[2]]}, headers=key)
        assert batch.json()["not_found"] == ["c_nobody"]
        assert len(c.get("/v1/customers?limit=2", headers=key).json()["items"]) == 2
        assert c.get(f"/v1/customers:lookup?source=billing&key={first_key}", headers=key).status_code == 200
    # Leaving the app flushes the auditor.
    with store.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT actor, subject FROM audit_log WHERE kind = 'read' AND seq > :s ORDER BY seq"), {"s": start}
        ).all()
    assert [r.subject for r in rows] == [ids[0], ids[1], ids[2], ids[0], ids[1], billed]
    assert {r.actor for r in rows} == {"consumer:finance"}
    assert audit.verify(store).ok
