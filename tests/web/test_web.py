"""The web app through FastAPI's TestClient: sign-in, roles, CSRF, pages, decisions, erasure, audit."""

from __future__ import annotations

import re

import orjson
from fastapi.testclient import TestClient

from c360.store import identity as idmap
from tests.web.conftest import ROLES, Site

EXTERNAL = re.compile(r"""(?:src|href|url)\s*=?\s*["'(]?\s*(?:https?:)?//""", re.I)


def test_signed_out_pages_go_to_sign_in(site: Site) -> None:
    for path in (
        "/app",
        "/app/fields",
        "/app/fields/mrr",
        "/app/review",
        "/app/customers",
        "/app/audit",
        "/app/erasure",
    ):
        r = site.client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/app/login?next="), path


def test_sign_in_per_role(site: Site) -> None:
    for role, consumer in ROLES.items():
        site.sign_in(consumer)
        cookie = next(c for c in site.client.cookies.jar if c.name == "c360_session")
        assert cookie.has_nonstandard_attr("HttpOnly")
        page = site.client.get("/app")
        assert page.status_code == 200 and f'<b id="who">{consumer}</b>' in page.text
        assert ("/app/review" in page.text) is (role in ("owner", "steward"))
        assert ("/app/audit" in page.text) is (role in ("owner", "dpo"))
    signed = site.audit_rows("web_sign_in")
    assert [r["actor"] for r in signed] == [f"web:{c}" for c in ROLES.values()]
    assert all(key not in r["detail"] for r in signed for key in site.keys.values())


def test_session_cookie_is_httponly_and_strict(site: Site) -> None:
    page = site.client.get("/app/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token
    r = site.client.post(
        "/app/login", data={"credential": site.keys["analyst"], "csrf": token.group(1)}, follow_redirects=False
    )
    header = r.headers["set-cookie"].lower()
    assert "c360_session=" in header and "httponly" in header and "samesite=strict" in header


def test_a_wrong_key_or_a_consumer_without_a_role_cannot_sign_in(site: Site) -> None:
    page = site.client.get("/app/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token
    bad = site.client.post("/app/login", data={"credential": "c360_nope", "csrf": token.group(1)})
    assert bad.status_code == 401 and "unknown, revoked or expired" in bad.text
    page = site.client.get("/app/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token
    norole = site.client.post("/app/login", data={"credential": site.keys["finance"], "csrf": token.group(1)})
    assert norole.status_code == 403 and "holds no web-app role" in norole.text
    assert site.client.get("/app", follow_redirects=False).status_code == 303
    refused = site.audit_rows("web_sign_in_refused")
    assert [r["actor"] for r in refused] == ["web:anonymous", "web:finance"]


def test_a_revoked_key_ends_its_sessions(site: Site) -> None:
    site.sign_in("analyst")
    assert site.client.get("/app").status_code == 200
    site.store.revoke_keys("analyst")
    assert site.client.get("/app", follow_redirects=False).status_code == 303


def test_a_tampered_cookie_is_not_a_session(site: Site) -> None:
    site.sign_in("analyst")
    value = site.client.cookies["c360_session"]
    body, _, mac = value.partition(".")
    import base64

    data = orjson.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    data["c"] = "product_owner"
    forged = base64.urlsafe_b64encode(orjson.dumps(data)).rstrip(b"=").decode() + "." + mac
    fresh = TestClient(site.client.app)
    fresh.cookies.set("c360_session", forged)
    assert fresh.get("/app", follow_redirects=False).status_code == 303


def test_a_viewer_is_refused_steward_actions_and_the_refusal_is_audited(site: Site) -> None:
    site.sign_in("analyst")
    csrf = site.csrf()
    assert site.client.get("/app/review").status_code == 403
    a, b, _, _ = idmap.review_pairs(site.store)[0]
    r = site.client.post("/app/review/decide", data={"csrf": csrf, "a": a, "b": b, "decision": "accept"})
    assert r.status_code == 403 and "needs the <b>steward</b> role" in r.text
    assert idmap.pins(site.store) == []
    refused = site.audit_rows("web_refused")
    assert [orjson.loads(x["detail"])["needs"] for x in refused] == ["steward", "steward"]
    assert all(x["actor"] == "web:analyst" for x in refused)
    assert site.client.get("/app/audit").status_code == 403
    assert site.client.get("/app/erasure").status_code == 403
    # Another consumer's view of a customer, or a look-up by e-mail, is a steward's.
    assert site.client.get("/app/customers", params={"q": "x@example.com", "by": "email"}).status_code == 403


def test_posts_without_the_csrf_token_are_refused(site: Site) -> None:
    site.sign_in("steward_desk")
    a, b, _, _ = idmap.review_pairs(site.store)[0]
    for token in (None, "forged-token"):
        data = {"a": a, "b": b, "decision": "accept", **({"csrf": token} if token else {})}
        r = site.client.post("/app/review/decide", data=data)
        assert r.status_code == 403 and "security token" in r.text
    assert idmap.pins(site.store) == []
    assert len(site.audit_rows("web_csrf_refused")) == 2
    # The sign-in form carries one too, bound to a cookie of its own.
    site.client.cookies.clear()
    r = site.client.post("/app/login", data={"credential": site.keys["analyst"], "csrf": "x"})
    assert r.status_code == 403


def test_field_search(site: Site) -> None:
    site.sign_in("analyst")
    by_name = site.client.get("/app/fields", params={"q": "mrr"}).text
    assert 'href="/app/fields/mrr"' in by_name and 'href="/app/fields/csat"' not in by_name
    by_column = site.client.get("/app/fields", params={"q": "amount_paid"}).text  # a source column
    assert 'href="/app/fields/ltv"' in by_column and 'href="/app/fields/mrr"' not in by_column
    by_tag = site.client.get("/app/fields", params={"q": "pii"}).text
    assert 'href="/app/fields/billing_contact_email"' in by_tag and 'href="/app/fields/ltv"' not in by_tag
    by_words = site.client.get("/app/fields", params={"q": "tickets solved"}).text  # the description
    assert 'href="/app/fields/open_tickets"' in by_words
    nothing = site.client.get("/app/fields", params={"q": "no such thing"}).text
    assert "No field matches" in nothing


def test_a_field_page(site: Site) -> None:
    site.sign_in("steward_desk")
    page = site.client.get("/app/fields/billing_contact_email").text
    assert "<svg" in page and "billing.email" in page and "PII" in page
    # The access matrix is the compiled policy: every consumer, and how each is served the field.
    from c360.governance.policy import served_view

    for consumer in site.spec.model.consumers:
        assert f"<code>{consumer}</code>" in page
    view = served_view(site.spec.model, "steward_desk", {})
    assert view.mask("billing_contact_email") == "email" and "masked: email" in page
    assert site.client.get("/app/fields/nope").status_code == 404
    # A viewer sees only its own consumer's access.
    site.sign_in("analyst")
    page = site.client.get("/app/fields/billing_contact_email").text
    assert "<code>analyst</code>" in page and "<code>steward_desk</code>" not in page


def test_review_accept_stores_a_pin_and_leaves_the_queue(site: Site) -> None:
    site.sign_in("steward_desk")
    page = site.client.get("/app/review").text
    pairs = idmap.review_pairs(site.store)
    a, b, _, ev = pairs[0]
    assert f"<code>{a}</code>" in page and f"<code>{b}</code>" in page
    assert all(k in page for k in ev["weights"])  # the weights per comparison
    from c360.web.steward import side

    left = side(site.store, site.spec.model, a)
    assert left.exists and any(f"<td>{v}</td>" in page for v in left.identity.values())  # the records' values
    r = site.client.post(
        "/app/review/decide", data={"csrf": site.csrf("/app/review"), "a": a, "b": b, "decision": "accept"}
    )
    assert r.status_code == 200 and "a pin every later build honours" in r.text
    assert [(p.kind, p.left, p.right) for p in idmap.pins(site.store)] == [("link", *sorted((a, b)))]
    from c360.web.steward import pair_id

    assert f'data-pair="{pair_id(a, b)}"' not in r.text  # the decided pair left the queue
    assert f'<b id="remaining">{len(pairs) - 1}</b>' in r.text
    pin_rows = site.audit_rows("identity_pin")
    assert len(pin_rows) == 1 and pin_rows[0]["actor"] == "web:steward_desk"
    assert a not in pin_rows[0]["detail"]  # record ids are hashed in the audit


def test_review_refuses_records_that_do_not_exist(site: Site) -> None:
    site.sign_in("steward_desk")
    csrf = site.csrf("/app/review")
    a = idmap.review_pairs(site.store)[0][0]
    r = site.client.post(
        "/app/review/decide", data={"csrf": csrf, "a": a, "b": "crm:does-not-exist", "decision": "link"}
    )
    assert r.status_code == 409 and "there is no record &#39;crm:does-not-exist&#39;" in r.text
    r = site.client.post("/app/review/decide", data={"csrf": csrf, "a": a, "b": "nosuch:1", "decision": "link"})
    assert r.status_code == 409 and "unknown source" in r.text
    assert idmap.pins(site.store) == []
    assert len(site.audit_rows("web_refused")) == 2


def test_review_skip_and_reject(site: Site) -> None:
    site.sign_in("steward_desk")
    pairs = idmap.review_pairs(site.store)
    a, b, _, _ = pairs[0]
    r = site.client.post(
        "/app/review/decide", data={"csrf": site.csrf("/app/review"), "a": a, "b": b, "decision": "skip"}
    )
    assert r.status_code == 200 and f'<b id="remaining">{len(pairs) - 1}</b>' in r.text
    assert idmap.pins(site.store) == []
    c, d, _, _ = pairs[1]
    r = site.client.post(
        "/app/review/decide", data={"csrf": site.csrf("/app/review"), "a": c, "b": d, "decision": "reject"}
    )
    assert [(p.kind, p.left, p.right) for p in idmap.pins(site.store)] == [("unlink", *sorted((c, d)))]


def test_customer_page_for_a_steward_switches_consumer(site: Site) -> None:
    site.sign_in("steward_desk")
    version = site.store.current_version()
    assert version is not None
    records = {cid: orjson.loads(data) for cid, data in site.store.snapshot_rows(version)}
    cid = next(c for c, r in records.items() if r.get("billing_contact_email") and r.get("mrr"))
    email = records[cid]["billing_contact_email"]
    finance = site.client.get("/app/customers", params={"q": cid, "by": "id", "as": "finance"}).text
    assert f'<code id="customer-id">{cid}</code>' in finance and 'data-field="mrr"' in finance
    assert email in finance  # finance is granted the e-mail in the clear
    support = site.client.get("/app/customers", params={"q": cid, "as": "support"}).text
    assert 'data-field="open_tickets"' in support and 'data-field="mrr"' not in support
    masked = site.client.get("/app/customers", params={"q": cid, "as": "steward_desk"}).text
    golden = masked.split('id="sources"')[0]  # the source records behind it hold the raw values
    assert email not in golden and "masked: email" in golden
    assert "Source records behind it" in finance
    by_email = site.client.get("/app/customers", params={"q": email, "by": "email", "as": "finance"}).text
    assert cid in by_email
    reads = site.audit_rows("web_customer_read")
    assert reads and all(r["subject"] == cid for r in reads) and email not in "".join(r["detail"] for r in reads)


def test_a_viewer_sees_its_own_projection_with_personal_data_hidden(site: Site) -> None:
    site.sign_in("analyst")
    version = site.store.current_version()
    assert version is not None
    records = {cid: orjson.loads(data) for cid, data in site.store.snapshot_rows(version)}
    cid, rec = next((c, r) for c, r in records.items() if r.get("billing_contact_email"))
    page = site.client.get("/app/customers", params={"q": cid}).text
    assert f'<code id="customer-id">{cid}</code>' in page
    assert rec["billing_contact_email"] not in page and "personal data" in page
    assert "Source records behind it" not in page and 'data-field="open_tickets"' not in page


def test_erasure_dry_run_then_real(site: Site) -> None:
    site.sign_in("privacy_office")
    version = site.store.current_version()
    assert version is not None
    cid = next(cid for cid, _ in site.store.snapshot_rows(version))
    csrf = site.csrf("/app/erasure")
    form = {"csrf": csrf, "by": "customer", "value": cid, "reason": "Art. 17 request, ticket 1"}
    dry = site.client.post("/app/erasure", data={**form, "step": "preview"})
    assert dry.status_code == 200 and "Dry run: nothing changed yet" in dry.text and cid in dry.text
    assert cid in dict(site.store.snapshot_rows(version))
    assert len(site.audit_rows("erasure_dry_run")) == 1
    unconfirmed = site.client.post("/app/erasure", data={**form, "step": "execute"})
    assert unconfirmed.status_code == 400 and cid in dict(site.store.snapshot_rows(version))
    done = site.client.post("/app/erasure", data={**form, "step": "execute", "confirm": "yes"})
    assert done.status_code == 200 and "committed" in done.text
    assert cid not in dict(site.store.snapshot_rows(version))
    erased = site.audit_rows("erasure")
    assert len(erased) == 1 and erased[0]["actor"] == "web:privacy_office"
    # The API no longer serves it either (this worker applied the erasure before answering).
    r = site.client.get(f"/v1/customers/{cid}", headers={"Authorization": f"Bearer {site.keys['finance']}"})
    assert r.status_code == 404
    missing = site.client.post("/app/erasure", data={**form, "value": "c_nosuchcustomer", "step": "preview"})
    assert missing.status_code == 404 and 'id="erasure-error"' in missing.text


def test_audit_log_filters_and_verify_chain(site: Site) -> None:
    site.sign_in("privacy_office")
    page = site.client.get("/app/audit", params={"kind": "web_sign_in"}).text
    assert "web:privacy_office" in page
    by_actor = site.client.get("/app/audit", params={"actor": "web:privacy"}).text
    assert "web_sign_in" in by_actor
    future = site.client.get("/app/audit", params={"since": "2999-01-01"}).text
    assert "No row matches" in future
    bad = site.client.get("/app/audit", params={"since": "yesterday"})
    assert "is not a date or time" in bad.text
    r = site.client.post("/app/audit/verify", data={"csrf": site.csrf("/app/audit")})
    assert r.status_code == 200 and 'id="verify-result">Chain intact' in r.text
    assert orjson.loads(site.audit_rows("web_audit_verify")[0]["detail"])["ok"] is True
    # Tampering shows.
    with site.store.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE audit_log SET actor = 'someone' WHERE seq = 1")
    r = site.client.post("/app/audit/verify", data={"csrf": site.csrf("/app/audit")})
    assert 'id="verify-result">Chain broken at row 1' in r.text


def test_offline_docs(site: Site) -> None:
    for path in ("/docs", "/redoc"):
        page = site.client.get(path)
        assert page.status_code == 200
        assert not EXTERNAL.search(page.text), page.text  # nothing from another host
        for ref in re.findall(r'(?:src|href)="(/[^"]+)"', page.text):
            asset = site.client.get(ref)
            assert asset.status_code == 200 and len(asset.content) > 100, ref
    assert (
        site.client.get("/app/static/vendor/swagger-ui/swagger-ui-bundle.js")
        .headers["content-type"]
        .startswith(("application/javascript", "text/javascript"))
    )
    assert "/app/static/vendor/redoc/redoc.standalone.js" in site.client.get("/redoc").text


def test_the_openapi_document_declares_bearer_auth(site: Site) -> None:
    doc = site.client.get("/openapi.json").json()
    assert doc["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": doc["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    assert doc["security"] == [{"bearerAuth": []}]
    assert doc["paths"]["/healthz"]["get"]["security"] == []
    assert not any(p.startswith("/app") for p in doc["paths"])


def test_pages_reference_no_external_host(site: Site) -> None:
    site.sign_in("product_owner")
    for path in (
        "/app",
        "/app/fields",
        "/app/fields/mrr",
        "/app/review",
        "/app/customers",
        "/app/audit",
        "/app/erasure",
        "/app/login",
    ):
        page = site.client.get(path)
        assert page.status_code == 200, path
        assert not EXTERNAL.search(page.text), path
        assert "default-src 'self'" in page.headers["content-security-policy"]


def test_sign_in_with_a_jwt_when_the_api_accepts_them(site: Site) -> None:
    import time

    import jwt

    from c360.api import create_app
    from c360.api.auth import JwtConfig
    from tests.web.conftest import MASK_KEY

    secret = "s" * 40
    config = JwtConfig.model_validate({"issuer": "https://idp.test", "audience": "c360", "secret": secret})
    app = create_app(site.spec, site.store, refresh_seconds=0, mask_key=MASK_KEY, jwt=config)
    claims = {"iss": "https://idp.test", "aud": "c360", "exp": int(time.time()) + 600, "c360_consumer": "steward_desk"}
    with TestClient(app) as client:
        page = client.get("/app/login")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert token
        r = client.post(
            "/app/login",
            data={"credential": jwt.encode(claims, secret, algorithm="HS256"), "csrf": token.group(1)},
            follow_redirects=False,
        )
        assert r.status_code == 303
        assert client.get("/app/review").status_code == 200
        client.cookies.delete("c360_session")
        page = client.get("/app/login")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert token
        forged = jwt.encode({**claims, "c360_consumer": "product_owner"}, "x" * 40, algorithm="HS256")
        bad = client.post("/app/login", data={"credential": forged, "csrf": token.group(1)})
        assert bad.status_code == 401


def test_an_accepted_pair_is_one_customer_after_the_next_build(site: Site) -> None:
    import datetime as dt

    from c360.pipeline.build import build

    site.sign_in("steward_desk")
    a, b, _, _ = idmap.review_pairs(site.store)[0]
    owners = {r.customer_id for r in idmap.all_rows(site.store) if f"{r.source}:{r.key}" in (a, b)}
    assert len(owners) == 2  # apart before the decision
    r = site.client.post(
        "/app/review/decide", data={"csrf": site.csrf("/app/review"), "a": a, "b": b, "decision": "accept"}
    )
    assert r.status_code == 200
    report = build(site.spec, site.store, as_of=dt.datetime(2026, 6, 1, tzinfo=dt.UTC))
    assert report.version is not None
    owners = {r.customer_id for r in idmap.all_rows(site.store) if f"{r.source}:{r.key}" in (a, b)}
    assert len(owners) == 1
    from c360.web.steward import queue

    assert all({x, y} != {a, b} for x, y, _, _ in queue(site.store, set()))  # decided: not asked again


def test_sign_in_attempts_are_limited(site: Site) -> None:
    from c360.web.core import SIGN_INS_PER_MINUTE

    codes = []
    for _ in range(SIGN_INS_PER_MINUTE + 1):
        page = site.client.get("/app/login")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert token
        codes.append(
            site.client.post("/app/login", data={"credential": "c360_guess", "csrf": token.group(1)}).status_code
        )
    assert codes[:-1] == [401] * SIGN_INS_PER_MINUTE and codes[-1] == 429
    assert len(site.audit_rows("web_sign_in_refused")) == SIGN_INS_PER_MINUTE
