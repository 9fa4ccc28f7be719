"""Access policies over HTTP, on SQLite and PostgreSQL: grants, masks, row filters, unions, deny by default."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import pytest

from tests.api.conftest import MASK_KEY, Served


def _first(served: Served, pred: Any) -> str:
    return next(cid for cid, r in sorted(served.records.items()) if pred(r))


def test_grants_are_exact_and_in_product_order(served: Served) -> None:
    cid = _first(served, lambda r: r["billing_contact_email"])
    body = served.get(f"/v1/customers/{cid}", "finance").json()
    assert list(body) == [
        "customer_id",
        "account_name",
        "segment",
        "annual_revenue",
        "mrr",
        "ltv",
        "invoice_status",
        "billing_active",
        "billing_contact_email",
    ]
    assert body["billing_contact_email"] == served.records[cid]["billing_contact_email"]
    assert body["mrr"] == served.records[cid]["mrr"]


def test_email_and_year_masks(served: Served) -> None:
    cid = _first(served, lambda r: r["billing_contact_email"] and r["last_login"])
    record = served.records[cid]
    body = served.get(f"/v1/customers/{cid}?mode=materialised", "support").json()
    local, domain = record["billing_contact_email"].split("@")
    assert body["billing_contact_email"] == f"{local[0]}***@{domain}"
    assert body["last_login"] == int(record["last_login"][:4])
    assert "mrr" not in body


def test_hash_mask_is_keyed_and_stable(served: Served) -> None:
    cid = _first(served, lambda r: r["billing_contact_email"] and r["marketing_opt_in"])
    email = served.records[cid]["billing_contact_email"]
    body = served.get(f"/v1/customers/{cid}", "marketing").json()
    assert body["billing_contact_email"] == hmac.new(MASK_KEY, email.encode(), hashlib.sha256).hexdigest()[:32]
    assert body["billing_contact_email"] != hashlib.sha256(email.encode()).hexdigest()[:32]


def test_last4_mask(served: Served) -> None:
    cid = _first(served, lambda r: r["billing_contact_email"])
    body = served.get(f"/v1/customers/{cid}", "analyst").json()
    assert body == {
        "customer_id": cid,
        "segment": served.records[cid]["segment"],
        "billing_contact_email": served.records[cid]["billing_contact_email"][-4:],
    }


def test_row_filter_hides_customers_exactly_like_unknown_ones(served: Served) -> None:
    hidden = _first(served, lambda r: not r["marketing_opt_in"])
    shown = _first(served, lambda r: r["marketing_opt_in"])
    assert served.get(f"/v1/customers/{shown}", "marketing").status_code == 200
    r_hidden = served.get(f"/v1/customers/{hidden}", "marketing")
    unknown = "c_" + "z" * 12
    r_unknown = served.get(f"/v1/customers/{unknown}", "marketing")
    assert r_hidden.status_code == r_unknown.status_code == 404
    assert r_hidden.json() == {"error": {"code": "not_found", "message": f"no customer '{hidden}'"}}
    assert r_unknown.json() == {"error": {"code": "not_found", "message": f"no customer '{unknown}'"}}
    assert set(r_hidden.headers) == set(r_unknown.headers)
    # The same dict miss answers both: the hidden customer is not in the consumer's view at all.
    view = served.client.app.state.c360.snapshot.views["marketing"]
    assert view.get(hidden) is None and view.get(unknown) is None


def test_listing_shows_only_rows_the_filter_lets_through(served: Served) -> None:
    page = served.get("/v1/customers", "marketing", params={"limit": 1000}).json()
    expected = sorted(cid for cid, r in served.records.items() if r["marketing_opt_in"] is True)
    assert [item["customer_id"] for item in page["items"]] == expected
    assert page["next_cursor"] is None


def test_union_of_policies_per_row(served: Served) -> None:
    """emea: enterprise rows (annual revenue redacted) ∪ paying rows (mrr and annual revenue in the clear)."""
    page = served.get("/v1/customers", "emea", params={"limit": 1000}).json()
    got = {item["customer_id"]: item for item in page["items"]}
    expected: dict[str, dict[str, Any]] = {}
    for cid, r in served.records.items():
        enterprise, paying = r["segment"] == "enterprise", (r["mrr"] or 0) > 0
        if enterprise and paying:
            expected[cid] = {
                "customer_id": cid,
                "account_name": r["account_name"],
                "segment": r["segment"],
                "annual_revenue": r["annual_revenue"],
                "mrr": r["mrr"],
            }
        elif enterprise:
            expected[cid] = {
                "customer_id": cid,
                "account_name": r["account_name"],
                "segment": r["segment"],
                "annual_revenue": None,
            }
        elif paying:
            expected[cid] = {"customer_id": cid, "annual_revenue": r["annual_revenue"], "mrr": r["mrr"]}
    assert got == expected
    assert any(r["segment"] == "enterprise" and not (r["mrr"] or 0) > 0 for r in served.records.values())
    assert any(r["segment"] != "enterprise" and (r["mrr"] or 0) > 0 for r in served.records.values())


def test_deny_by_default(served: Served) -> None:
    cid = next(iter(served.records))
    for r in (
        served.get(f"/v1/customers/{cid}", "nobody"),
        served.get("/v1/customers", "nobody"),
        served.get("/v1/schema", "nobody"),
        served.post("/v1/customers:batchGet", "nobody", json={"ids": [cid]}),
        served.get("/v1/customers:lookup", "nobody", params={"email": "a@b.c"}),
    ):
        assert r.status_code == 403
        assert r.json()["error"]["code"] == "forbidden"
    # A key whose consumer left the spec is denied the same way.
    key = served.store.create_key("departed")
    served.client.app.state.c360.refresh()
    r = served.client.get(f"/v1/customers/{cid}", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 403


def test_a_masked_customer_id_cannot_be_used_to_read_page_or_batch(served: Served) -> None:
    cid = next(iter(served.records))
    assert served.get(f"/v1/customers/{cid}", "pseudonymous").status_code == 403
    assert served.get(f"/v1/customers/c_{'z' * 12}", "pseudonymous").status_code == 403
    assert served.get("/v1/customers", "pseudonymous").status_code == 403
    assert served.post("/v1/customers:batchGet", "pseudonymous", json={"ids": [cid]}).status_code == 403


@pytest.mark.parametrize("consumer", ["support", "marketing", "analyst", "churn_model"])
def test_lookup_by_email_needs_an_email_field_in_the_clear(served: Served, consumer: str) -> None:
    email = next(r["billing_contact_email"] for r in served.records.values() if r["billing_contact_email"])
    known = served.get("/v1/customers:lookup", consumer, params={"email": email})
    unknown = served.get("/v1/customers:lookup", consumer, params={"email": "nobody@nowhere.invalid"})
    assert known.status_code == unknown.status_code == 403
    assert known.json() == unknown.json()


def test_lookup_by_email_and_by_source_key(served: Served) -> None:
    from c360.store import identity as idmap

    cid, record = next((c, r) for c, r in sorted(served.records.items()) if r["billing_contact_email"])
    found = served.get("/v1/customers:lookup", "finance", params={"email": record["billing_contact_email"].upper()})
    assert found.status_code == 200
    assert cid in [item["customer_id"] for item in found.json()["items"]]
    billing_key = next(r.key for r in idmap.customer_records(served.store, cid) if r.source == "billing")
    by_key = served.get("/v1/customers:lookup", "finance", params={"source": "billing", "key": billing_key})
    assert by_key.status_code == 200 and by_key.json()["items"][0]["customer_id"] == cid
    # analyst sees billing's email only masked, and no other billing field: no lookups by billing keys,
    # refused alike for a key that exists and one that does not.
    refused = [
        served.get("/v1/customers:lookup", "analyst", params={"source": "billing", "key": k})
        for k in (billing_key, "cus_nope")
    ]
    assert [r.status_code for r in refused] == [403, 403] and refused[0].json() == refused[1].json()
    # support's account_name reads billing.name in the clear: it may look up by billing keys.
    assert (
        served.get("/v1/customers:lookup", "support", params={"source": "billing", "key": billing_key}).status_code
        == 200
    )
    missing = served.get("/v1/customers:lookup", "finance", params={"source": "billing", "key": "cus_nope"})
    assert missing.status_code == 404


def test_lookup_of_a_customer_hidden_by_a_row_filter_is_a_plain_404(served: Served) -> None:
    from c360.store import identity as idmap

    def crm_keys(cid: str) -> list[str]:
        return [m.key for m in idmap.customer_records(served.store, cid) if m.source == "crm"]

    hidden = _first(served, lambda r: r["marketing_opt_in"] is False and crm_keys(r["customer_id"]))
    shown = _first(served, lambda r: r["marketing_opt_in"] is True and crm_keys(r["customer_id"]))
    ok = served.get("/v1/customers:lookup", "marketing", params={"source": "crm", "key": crm_keys(shown)[0]})
    assert ok.status_code == 200 and ok.json()["items"][0]["customer_id"] == shown
    r = served.get("/v1/customers:lookup", "marketing", params={"source": "crm", "key": crm_keys(hidden)[0]})
    r_none = served.get("/v1/customers:lookup", "marketing", params={"source": "crm", "key": "001-not-a-key"})
    assert r.status_code == r_none.status_code == 404
    assert r.json() == r_none.json()
    # emea's two policies share no source-reading field in the clear: no source-key lookups at all.
    assert (
        served.get("/v1/customers:lookup", "emea", params={"source": "crm", "key": crm_keys(shown)[0]}).status_code
        == 403
    )


def test_filters_by_any_field_are_refused_alike(served: Served) -> None:
    # No filtering by fields at all: every unknown parameter is the same 400, whether or not the
    # consumer is granted that field, and whether or not a customer would match.
    granted = served.get("/v1/customers", "marketing", params={"segment": "smb"})
    ungranted = served.get("/v1/customers", "marketing", params={"mrr": "0"})
    assert granted.status_code == ungranted.status_code == 400
    assert granted.json()["error"]["code"] == ungranted.json()["error"]["code"] == "invalid_request"


def test_schema_shows_masks_and_row_filters(served: Served) -> None:
    body = served.get("/v1/schema", "support").json()
    masking = {f["name"]: f["masking"] for f in body["fields"]}
    assert masking["billing_contact_email"] == ["email"] and masking["last_login"] == ["year"]
    assert masking["open_tickets"] == []
    assert body["delivery"] == "live" and body["allow_stale"] is True
    emea = served.get("/v1/schema", "emea").json()
    assert [f["name"] for f in emea["fields"]] == ["customer_id", "account_name", "segment", "annual_revenue", "mrr"]
    assert {p["row_filter"] for p in emea["row_filters"]} == {"segment = 'enterprise'", "mrr > 0"}
    assert next(f for f in emea["fields"] if f["name"] == "annual_revenue")["masking"] == ["redact"]


def test_rate_limit_answers_429_with_retry_after(served: Served) -> None:
    cid = next(iter(served.records))
    codes = [served.get(f"/v1/customers/{cid}", "limited").status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    r = served.get("/v1/customers", "limited")
    assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited"
    assert int(r.headers["retry-after"]) >= 1
    # Other consumers are not affected.
    assert served.get(f"/v1/customers/{cid}", "finance").status_code == 200


def test_batch_get(served: Served) -> None:
    ids = sorted(served.records)
    hidden = [c for c in ids if not served.records[c]["marketing_opt_in"]][:3]
    shown = [c for c in ids if served.records[c]["marketing_opt_in"]][:3]
    r = served.post("/v1/customers:batchGet", "marketing", json={"ids": shown + hidden + ["c_unknown"]})
    assert r.status_code == 200
    body = r.json()
    assert [i["customer_id"] for i in body["items"]] == shown
    assert body["not_found"] == [*hidden, "c_unknown"]
    big = served.post("/v1/customers:batchGet", "finance", json={"ids": ids[:1] * 501})
    assert big.status_code == 400 and big.json()["error"]["code"] == "batch_too_large"
    bad = served.post("/v1/customers:batchGet", "finance", json={"ids": ["ok", "no/slash"]})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_id"
    hundred = served.post("/v1/customers:batchGet", "finance", json={"ids": ids[:100]})
    assert [i["customer_id"] for i in hundred.json()["items"]] == ids[:100]


def test_etag_and_304(served: Served) -> None:
    cid = next(iter(sorted(served.records)))
    first = served.get(f"/v1/customers/{cid}", "finance")
    etag = first.headers["etag"]
    again = served.get(f"/v1/customers/{cid}", "finance", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    other = served.get(f"/v1/customers/{cid}", "churn_model", headers={"If-None-Match": etag})
    assert other.status_code == 200  # another projection, another tag


def test_malformed_ids_and_unknown_parameters_are_400(served: Served) -> None:
    r = served.get("/v1/customers/" + "x" * 65, "finance")
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_id"
    r = served.get(f"/v1/customers/{next(iter(served.records))}", "finance", params={"fields": "mrr"})
    assert r.status_code == 400 and "fields" in r.json()["error"]["message"]
    r = served.get("/v1/customers", "finance", params={"changed_since": "yesterday-ish"})
    assert r.status_code == 400


def test_metrics_count_per_consumer_and_mode(served: Served) -> None:
    cid = next(iter(served.records))
    served.get(f"/v1/customers/{cid}", "churn_model")
    served.get(f"/v1/customers/{cid}", "nobody")
    text = served.get("/metrics", "analyst").text  # analyst holds the owner right
    assert 'c360_request_duration_seconds_count{consumer="churn_model",mode="materialised",route="get"}' in text
    assert 'c360_request_errors_total{consumer="nobody",route="get",status="403"}' in text
    assert "c360_snapshot_age_seconds" in text
