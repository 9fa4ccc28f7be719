"""A store that does not answer is said to be down, never taken for "nothing found"."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from c360.api.app import create_app
from c360.core.errors import StoreUnavailable
from c360.governance.subject import export_subject
from c360.store import db
from tests.api.test_erasure_dry_run import bearer
from tests.governance.test_erasure import Case, case, pg_demo_template, pick_person  # noqa: F401

DEAD = {
    "postgresql": "postgresql+psycopg://postgres@127.0.0.1:1/test",
    "mysql": "mysql+pymysql://root@127.0.0.1:1/test",
}


@pytest.mark.parametrize("dialect", sorted(DEAD))
def test_a_server_that_refuses_the_connection_is_store_unavailable(dialect: str) -> None:
    engine = db.create(DEAD[dialect])
    with pytest.raises(StoreUnavailable, match="did not answer") as info, engine.connect():
        pass
    assert "127.0.0.1:1" in str(info.value) or "127.0.0.1" in str(info.value)


def test_an_erasure_while_the_store_is_down_is_503_not_404(case: Case, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    person = pick_person(case.store, case.spec)
    auth = bearer(case, "finance")
    with TestClient(create_app(case.spec, case.store, refresh_seconds=0, mask_key=b"k", jwt=None)) as client:
        dialect = case.store.dialect if case.store.dialect in DEAD else "postgresql"
        monkeypatch.setattr(case.store, "engine", db.create(DEAD[dialect]))
        for dry_run in (True, False):
            body = {"email": person.email, "reason": "Art. 17", "dry_run": dry_run}
            got = client.post("/v1/erasures", headers=auth, json=body)
            assert got.status_code == 503, got.text
            assert got.json()["error"]["code"] == "store_unavailable" and "did not answer" in got.text


def test_a_subject_access_export_while_the_store_is_down_raises(case: Case, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    person = pick_person(case.store, case.spec)
    assert export_subject(case.store, case.spec, email=person.email)["records"]
    dialect = case.store.dialect if case.store.dialect in DEAD else "postgresql"
    monkeypatch.setattr(case.store, "engine", db.create(DEAD[dialect]))
    with pytest.raises(StoreUnavailable):
        export_subject(case.store, case.spec, email=person.email)
