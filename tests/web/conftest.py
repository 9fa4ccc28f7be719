"""The web app over a copy of the built demo, with one consumer per web role."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from c360.api import create_app
from c360.spec.validate import Spec, load_spec_text
from c360.store import Store, latency_repo
from tests.conftest import BuiltDemo

MASK_KEY = b"web-test-mask-key-0123456789abcdef"

# The demo's consumers, plus one per web role. `finance` holds no web right: it cannot sign in.
WEB_CONSUMERS = """
  steward_desk:
    description: Data stewards (identity review, customer look-up)
    fields: [customer_id, account_name, segment, billing_contact_email]
    masks: {billing_contact_email: email}
    rights: [steward]
  privacy_office:
    description: The data protection officer
    fields: [customer_id]
    rights: [dpo, erasure]
  analyst:
    description: Reads the product's pages
    fields: [customer_id, account_name, segment, mrr, billing_contact_email]
    rights: [viewer]

subscriptions:"""

ROLES = {"owner": "product_owner", "steward": "steward_desk", "dpo": "privacy_office", "viewer": "analyst"}


def web_spec_text(built: BuiltDemo) -> str:
    text = built.spec_path.read_text()
    return re.sub(r"\nsubscriptions:", WEB_CONSUMERS, text, count=1)


def copy_demo(built: BuiltDemo, dest: Path) -> tuple[Spec, str]:
    """A private copy of the built demo (its store, audit key and sources) with the web consumers."""
    shutil.copytree(built.dir, dest, dirs_exist_ok=True)
    path = dest / "web.yaml"
    path.write_text(web_spec_text(built))
    return load_spec_text(path.read_text(), path), f"sqlite:///{dest}/store.db"


@dataclass
class Site:
    client: TestClient
    spec: Spec
    store: Store
    keys: dict[str, str]
    dir: Path

    def sign_in(self, consumer: str, client: TestClient | None = None) -> TestClient:
        c = client or self.client
        c.cookies.clear()
        page = c.get("/app/login")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert token, page.text
        r = c.post(
            "/app/login",
            data={"credential": self.keys[consumer], "csrf": token.group(1), "next": "/app"},
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text
        return c

    def csrf(self, path: str = "/app") -> str:
        page = self.client.get(path)
        found = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert found, page.text
        return found.group(1)

    def audit_rows(self, kind: str | None = None) -> list[dict[str, Any]]:
        from sqlalchemy import select

        from c360.store.schema import audit_log

        with self.store.engine.connect() as conn:
            q = select(audit_log).order_by(audit_log.c.seq)
            if kind:
                q = q.where(audit_log.c.kind == kind)
            return [dict(r._mapping) for r in conn.execute(q)]


@pytest.fixture
def site(built_demo: BuiltDemo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    monkeypatch.setenv("C360_READ_AUDIT", "in-process")
    spec, url = copy_demo(built_demo, tmp_path / "demo")
    store = Store.open(url)
    # The copy starts with no latency history (other tests' servers may have written some).
    latency_repo.prune(store, dt.datetime.max.replace(tzinfo=dt.UTC))
    keys = {c: store.create_key(c) for c in spec.model.consumers}
    app = create_app(spec, store, refresh_seconds=0, mask_key=MASK_KEY, jwt=None)
    with TestClient(app) as client:
        yield Site(client, spec, store, keys, tmp_path / "demo")
    store.close()
