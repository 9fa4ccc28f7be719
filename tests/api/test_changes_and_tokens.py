"""Change feeds across snapshot versions, and JWT bearer tokens, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path

import jwt
import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from c360.api import create_app
from c360.api.auth import JwtConfig
from c360.spec.validate import load_spec
from c360.store import Store
from c360.store.schema import snapshots
from tests.api.stores import STORES, copy_store, pg_database
from tests.conftest import BuiltDemo

# Both serving modes: the shared serving file and each process's own memory.
pytestmark = pytest.mark.usefixtures("serving_mode")

SECRET = "a-test-signing-secret-of-some-length"
CONFIG = JwtConfig(issuer="https://idp.example", audience="c360", secret=SECRET)  # type: ignore[arg-type]


@pytest.fixture(scope="module", params=STORES)
def private_store(
    request: pytest.FixtureRequest, built_demo: BuiltDemo, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Store]:
    """A copy of the built demo's store that a test may publish new versions into."""
    if request.param == "sqlite":
        store = copy_store(built_demo.store_url, f"sqlite:///{tmp_path_factory.mktemp('chg')}/store.db")
        yield store
        store.close()
        return
    with pg_database() as url:
        store = copy_store(built_demo.store_url, url)
        yield store
        store.close()


def test_changed_since_lists_exactly_the_changed_customers(private_store: Store, built_demo: BuiltDemo) -> None:
    store = private_store
    v1 = store.current_version()
    assert v1 is not None
    with store.engine.begin() as conn:  # v1 was built well before v2
        conn.execute(
            update(snapshots).where(snapshots.c.version == v1).values(built_at=dt.datetime(2026, 6, 1, tzinfo=dt.UTC))
        )
    records = {cid: orjson.loads(data) for cid, data in store.snapshot_rows(v1)}
    changed = sorted(records)[3:9]
    v2 = store.begin_snapshot("test-run", "1.0.0", dt.datetime(2026, 6, 2, tzinfo=dt.UTC))
    store.write_snapshot(
        v2, ((cid, {**r, "mrr": (r["mrr"] or 0) + 1.0} if cid in changed else r) for cid, r in sorted(records.items()))
    )
    store.publish(v2)
    spec = load_spec(built_demo.spec_path)
    key = store.create_key("finance")
    with TestClient(create_app(spec, store, refresh_seconds=0, mask_key=b"k", jwt=None)) as client:
        headers = {"Authorization": f"Bearer {key}"}
        page = client.get(
            "/v1/customers", headers=headers, params={"changed_since": "2026-06-01T00:00:00Z", "limit": 1000}
        ).json()
        assert page["snapshot"] == v2
        assert [i["customer_id"] for i in page["items"]] == changed
        # Paging through a change feed in small pages visits the same customers.
        seen, cursor = [], None
        while True:
            params = {"changed_since": "2026-06-01T00:00:00Z", "limit": 4, **({"cursor": cursor} if cursor else {})}
            p = client.get("/v1/customers", headers=headers, params=params).json()
            seen += [i["customer_id"] for i in p["items"]]
            cursor = p["next_cursor"]
            if cursor is None:
                break
        assert seen == changed
        # Before anything the store still keeps: everyone (a feed may over-report, never miss).
        everyone = client.get(
            "/v1/customers", headers=headers, params={"changed_since": "2020-01-01T00:00:00Z", "limit": 1000}
        ).json()
        assert len(everyone["items"]) == len(records)
        # After the newest build: nothing.
        none = client.get(
            "/v1/customers", headers=headers, params={"changed_since": page["built_at"], "limit": 1000}
        ).json()
        assert none["items"] == []


def _token(**claims: object) -> str:
    now = int(time.time())
    base = {"iss": "https://idp.example", "aud": "c360", "exp": now + 300, "c360_consumer": "finance"}
    return jwt.encode({**base, **claims}, SECRET, algorithm="HS256")


@pytest.fixture(scope="module")
def jwt_client(built_demo: BuiltDemo) -> Iterator[tuple[TestClient, str]]:
    spec = load_spec(built_demo.spec_path)
    store = Store.open(built_demo.store_url)
    cid = next(cid for cid, _ in store.snapshot_rows(built_demo.version))
    with TestClient(create_app(spec, store, refresh_seconds=0, mask_key=b"k", jwt=CONFIG)) as client:
        yield client, cid
    store.close()


def test_a_valid_jwt_names_the_consumer(jwt_client: tuple[TestClient, str]) -> None:
    client, cid = jwt_client
    r = client.get(f"/v1/customers/{cid}", headers={"Authorization": f"Bearer {_token()}"})
    assert r.status_code == 200 and "mrr" in r.json() and "open_tickets" not in r.json()
    r = client.get(f"/v1/customers/{cid}", headers={"Authorization": f"Bearer {_token(c360_consumer='churn_model')}"})
    assert r.status_code == 200 and "open_tickets" in r.json()


@pytest.mark.parametrize(
    "claims, message",
    [
        ({"exp": int(time.time()) - 3600}, "expired"),
        ({"aud": "someone-else"}, "not valid"),
        ({"iss": "https://evil.example"}, "not valid"),
    ],
)
def test_bad_tokens_are_401(jwt_client: tuple[TestClient, str], claims: dict[str, object], message: str) -> None:
    client, cid = jwt_client
    r = client.get(f"/v1/customers/{cid}", headers={"Authorization": f"Bearer {_token(**claims)}"})
    assert r.status_code == 401 and message in r.json()["error"]["message"]


def test_forged_signature_and_unknown_consumer(jwt_client: tuple[TestClient, str]) -> None:
    client, cid = jwt_client
    forged = jwt.encode(
        {"iss": "https://idp.example", "aud": "c360", "exp": int(time.time()) + 60, "c360_consumer": "finance"},
        "not-the-secret-but-long-enough-1234",
        algorithm="HS256",
    )
    assert client.get(f"/v1/customers/{cid}", headers={"Authorization": f"Bearer {forged}"}).status_code == 401
    stranger = _token(c360_consumer="stranger")
    assert client.get(f"/v1/customers/{cid}", headers={"Authorization": f"Bearer {stranger}"}).status_code == 403


def test_jwt_config_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "auth.yaml"
    path.write_text(f"jwt:\n  issuer: https://idp.example\n  audience: c360\n  secret: {SECRET}\n")
    cfg = JwtConfig.load({"C360_AUTH_CONFIG": str(path)})
    assert cfg is not None and cfg.issuer == "https://idp.example"
    assert SECRET not in repr(cfg)
    assert JwtConfig.load({}) is None
