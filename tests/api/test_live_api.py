"""Live reads over HTTP: the consumer's default delivery or ?mode=live; a source down is a 503 or stale."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from c360.spec.validate import load_spec_text
from c360.store import Store
from c360.store import identity as idmap
from tests.api.conftest import Served, policy_spec, serve
from tests.conftest import BuiltDemo


def _with_product(served: Served) -> str:
    return next(r.customer_id for r in idmap.all_rows(served.store) if r.source == "product")


def test_live_is_the_default_for_a_live_consumer(served: Served) -> None:
    cid = _with_product(served)
    r = served.get(f"/v1/customers/{cid}", "support")
    assert r.status_code == 200
    assert r.headers["x-c360-mode"] == "live" and r.headers["x-c360-read-at"].endswith("Z")
    assert set(r.headers["x-c360-live-sources"].split(",")) >= {"product"}
    body = r.json()
    record = served.records[cid]
    # The same masks apply to live values.
    assert body["last_login"] == (int(record["last_login"][:4]) if record["last_login"] else None)
    assert body["open_tickets"] == record["open_tickets"]
    assert served.get(f"/v1/customers/{cid}?mode=materialised", "support").headers["x-c360-mode"] == "materialised"


def test_mode_live_on_request_and_etag(served: Served) -> None:
    cid = _with_product(served)
    r = served.get(f"/v1/customers/{cid}", "churn_model", params={"mode": "live"})
    assert r.status_code == 200 and r.headers["x-c360-mode"] == "live"
    assert r.json()["active_seats"] == served.records[cid]["active_seats"]
    again = served.get(
        f"/v1/customers/{cid}", "churn_model", params={"mode": "live"}, headers={"If-None-Match": r.headers["etag"]}
    )
    assert again.status_code == 304
    bad = served.get(f"/v1/customers/{cid}", "churn_model", params={"mode": "psychic"})
    assert bad.status_code == 400


def test_live_row_filter_is_applied_to_live_values(served: Served) -> None:
    hidden = next(c for c, r in sorted(served.records.items()) if r["marketing_opt_in"] is False)
    r = served.get(f"/v1/customers/{hidden}", "marketing", params={"mode": "live"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


@pytest.fixture(scope="module")
def broken(built_demo: BuiltDemo, demo_store: tuple[str, Store]) -> Iterator[Served]:
    """The same product, with its product database gone."""
    kind, store = demo_store
    good = policy_spec(built_demo)
    spec = load_spec_text(
        good.text.replace("path: product.db", "path: gone/product.db"), built_demo.dir / "broken.yaml"
    )
    yield from serve(spec, store, kind)


def test_source_down_is_a_503_naming_it(broken: Served) -> None:
    cid = _with_product(broken)
    r = broken.get(f"/v1/customers/{cid}", "churn_model", params={"mode": "live"})
    assert r.status_code == 503
    err = r.json()["error"]
    assert err["code"] == "source_unavailable" and "'product'" in err["message"]
    assert "mrr" not in r.text


def test_source_down_falls_back_to_the_materialised_value_marked_stale(broken: Served) -> None:
    cid = _with_product(broken)
    r = broken.get(f"/v1/customers/{cid}", "support")
    assert r.status_code == 200
    assert r.headers["x-c360-stale"] == "true"
    assert r.headers["x-c360-unavailable-sources"] == "product"
    assert r.headers["x-c360-mode"] == "materialised"
    materialised = broken.get(f"/v1/customers/{cid}", "support", params={"mode": "materialised"})
    assert r.json() == materialised.json()


def test_a_live_read_needing_no_broken_source_still_answers(broken: Served) -> None:
    cid = next(r.customer_id for r in idmap.all_rows(broken.store) if r.source == "billing")
    r = broken.get(f"/v1/customers/{cid}", "finance", params={"mode": "live"})
    assert r.status_code == 200 and "product" not in r.headers["x-c360-live-sources"]


@pytest.fixture(scope="module")
def crm_gone(built_demo: BuiltDemo, demo_store: tuple[str, Store]) -> Iterator[Served]:
    """The same product, with its CRM export gone: the source of the marketing row filter."""
    kind, store = demo_store
    good = policy_spec(built_demo)
    spec = load_spec_text(
        good.text.replace("path: crm_accounts.csv", "path: gone/crm_accounts.csv"), built_demo.dir / "crm_gone.yaml"
    )
    yield from serve(spec, store, kind)


def test_a_hidden_customer_and_an_absent_one_answer_alike_with_a_source_down(crm_gone: Served) -> None:
    hidden = next(c for c, r in sorted(crm_gone.records.items()) if r["marketing_opt_in"] is False)
    shown = next(c for c, r in sorted(crm_gone.records.items()) if r["marketing_opt_in"] is True)
    answers = [
        crm_gone.get(f"/v1/customers/{cid}", "marketing", params={"mode": "live"})
        for cid in (hidden, "c_absent0000000000")
    ]
    assert [r.status_code for r in answers] == [404, 404]
    errors = [r.json()["error"] for r in answers]
    assert errors[0]["code"] == errors[1]["code"] == "not_found"
    assert errors[0]["message"].replace(hidden, "ID") == errors[1]["message"].replace("c_absent0000000000", "ID")
    assert answers[0].headers.keys() == answers[1].headers.keys()
    # A customer the caller may see still learns that the source is down.
    assert crm_gone.get(f"/v1/customers/{shown}", "marketing", params={"mode": "live"}).status_code == 503
