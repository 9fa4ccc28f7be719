"""What only the product's owners see (the product page, metrics), one credential per request,
and query values out of range answered 400, never 500."""

from __future__ import annotations

import base64

import pytest
from fastapi.testclient import TestClient

from c360.api import create_app
from tests.api.conftest import MASK_KEY, Served


def _basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"anyone:{key}".encode()).decode()}


def test_the_product_page_needs_an_owner(served: Served) -> None:
    anonymous = served.client.get("/")
    assert anonymous.status_code == 401
    # Browsers prompt for the key as the password of HTTP Basic.
    assert anonymous.headers["www-authenticate"].startswith("Basic")
    assert "finance" not in anonymous.text and "row_filter" not in anonymous.text
    assert served.get("/", "finance").status_code == 403  # a consumer without the owner right
    assert served.client.get("/", headers=_basic(served.keys["finance"])).status_code == 403
    assert served.client.get("/", headers=_basic("c360_wrong")).status_code == 401
    page = served.client.get("/", headers=_basic(served.keys["analyst"]))
    assert page.status_code == 200 and "marketing" in page.text
    assert served.get("/", "analyst").status_code == 200


def test_metrics_need_an_owner_or_the_scrape_token(served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    assert served.client.get("/metrics").status_code == 401
    assert served.get("/metrics", "finance").status_code == 403
    assert "c360_request_duration_seconds" in served.get("/metrics", "analyst").text
    monkeypatch.setenv("C360_METRICS_TOKEN", "scrape-token-0123456789abcdef")
    app = create_app(served.spec, served.store, refresh_seconds=0, mask_key=MASK_KEY, jwt=None)
    with TestClient(app) as client:
        ok = client.get("/metrics", headers={"Authorization": "Bearer scrape-token-0123456789abcdef"})
        assert ok.status_code == 200 and "c360_snapshot_age_seconds" in ok.text
        assert client.get("/metrics", headers={"Authorization": "Bearer scrape-token-wrong"}).status_code == 401
        assert client.get("/metrics").status_code == 401


def test_two_authorization_headers_are_refused_on_every_path(served: Served) -> None:
    cid = next(iter(served.records))
    both = [("Authorization", f"Bearer {served.keys['nobody']}"), ("Authorization", f"Bearer {served.keys['finance']}")]
    reversed_ = list(reversed(both))
    for headers in (both, reversed_):
        one = served.client.get(f"/v1/customers/{cid}", headers=headers)  # the fast path
        many = served.client.post("/v1/customers:batchGet", headers=headers, json={"ids": [cid]})  # FastAPI's
        page = served.client.get("/v1/customers", headers=headers)
        assert [r.status_code for r in (one, many, page)] == [400, 400, 400]
        assert one.json()["error"]["code"] == many.json()["error"]["code"] == "invalid_request"


@pytest.mark.parametrize("value", ["1e100", "Inf", "-inf", "nan", "1e20", "99999-01-01", "-1e300"])
def test_changed_since_out_of_range_is_a_400(served: Served, value: str) -> None:
    r = served.get("/v1/customers", "finance", params={"changed_since": value})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "invalid_request" and "changed_since" in r.json()["error"]["message"]


@pytest.mark.parametrize("secret, warned", [("a", True), ("x" * 31, True), ("s" * 32, False)])
def test_a_short_jwt_secret_is_warned_of(caplog: pytest.LogCaptureFixture, secret: str, warned: bool) -> None:
    from c360.api.auth import JwtConfig

    with caplog.at_level("WARNING", logger="c360.api"):
        cfg = JwtConfig.load({"C360_JWT_ISSUER": "https://idp", "C360_JWT_AUDIENCE": "c360", "C360_JWT_SECRET": secret})
    assert cfg is not None
    assert ("C360_JWT_SECRET" in caplog.text) is warned
    if len(secret) > 1:
        assert secret not in caplog.text  # never the secret itself


def test_a_short_mask_key_is_warned_of(
    served: Served, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from c360.api.app import mask_key_for

    monkeypatch.setenv("C360_MASK_KEY", "k")
    with caplog.at_level("WARNING", logger="c360.api"):
        assert mask_key_for(served.spec) == b"k"
    assert "C360_MASK_KEY" in caplog.text and "1 byte" in caplog.text
