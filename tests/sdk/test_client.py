"""``c360.Client`` against a real ``c360 serve`` of the demo, and its retry logic against a mock."""

from __future__ import annotations

import datetime as dt
import typing
from decimal import Decimal

import httpx
import pytest

from c360 import Client
from c360.client import BadRequest, ClientError, Customer, NotFound, RateLimited, ServerError, Unauthorized
from c360.core.errors import C360Error
from tests.sdk.conftest import MERGED, Demo


def finance(demo: Demo, **kw: typing.Any) -> Client:
    return Client(demo.url, api_key=demo.keys["finance"], **kw)


def test_get_is_typed_by_the_callers_schema(served_demo: Demo) -> None:
    with finance(served_demo) as c360:
        first = next(iter(c360.customers(limit=5)))
        customer = c360.get(first.id or "")
        assert isinstance(customer, Customer)
        assert customer.id == first.id and customer["customer_id"] == customer.customer_id
        assert set(customer) == set(c360.schema().fields)
        assert "open_tickets" not in customer  # finance is never served support's fields
        with pytest.raises(AttributeError):
            _ = customer.open_tickets
        assert customer.mrr is None or isinstance(customer.mrr, Decimal)
        assert customer.billing_active is None or isinstance(customer.billing_active, bool)
        assert customer.raw["customer_id"] == customer.id
        hints = typing.get_type_hints(c360.schema().typed_dict())
        assert hints["mrr"] == Decimal | None and hints["account_name"] == str | None


def test_timestamps_are_datetimes(served_demo: Demo) -> None:
    with Client(served_demo.url, api_key=served_demo.keys["churn_model"]) as c360:
        logins = [c.last_login for c in c360.customers(limit=200) if c.last_login is not None]
        assert logins and all(isinstance(t, dt.datetime) for t in logins)


def test_batch_get_and_not_found(served_demo: Demo) -> None:
    with finance(served_demo) as c360:
        ids = [c.id or "" for c in c360.page(limit=3)]
        result = c360.batch_get([*ids, "c_doesnotexist"])
        assert [c.id for c in result.items] == ids
        assert result.not_found == ["c_doesnotexist"]
        with pytest.raises(NotFound) as caught:
            c360.get("c_doesnotexist")
        assert isinstance(caught.value, C360Error) and caught.value.status == 404
        with pytest.raises(BadRequest):
            c360.get("not an id!")


def test_lookup_by_email_and_source_key(served_demo: Demo) -> None:
    with finance(served_demo) as c360:
        with_email = next(c for c in c360.customers(limit=200) if c.billing_contact_email)
        found = c360.lookup(email=with_email.billing_contact_email)
        assert with_email.id in [c.id for c in found]
        assert c360.lookup_one(email=with_email.billing_contact_email).id in [c.id for c in found]
        with pytest.raises(ValueError):
            c360.lookup(source="billing")
        with pytest.raises(ClientError) as caught:  # a source not in the spec, or not granted
            c360.lookup(source="nosuchsource", key="x")
        assert caught.value.status in (400, 403, 404)


def test_changes_pages_through_everyone_once(served_demo: Demo) -> None:
    with finance(served_demo) as c360:
        pages = list(c360.changes(limit=25))
        assert len(pages) > 1 and all(len(p) <= 25 for p in pages)
        ids = [c.id or "" for p in pages for c in p]
        assert len(ids) == len(set(ids)) and ids == sorted(ids)  # keyset order, no repeats
        built_at = pages[-1].built_at
        assert built_at
        assert sum(len(p) for p in c360.changes(since=built_at)) == 0  # nothing changed since


def test_merged_id_follows_the_redirect(served_demo: Demo) -> None:
    with finance(served_demo) as c360:
        assert c360.get(MERGED).id == served_demo.survivor


def test_etag_revalidation_returns_the_cached_answer(served_demo: Demo) -> None:
    statuses: list[int] = []
    http = httpx.Client(event_hooks={"response": [lambda r: statuses.append(r.status_code)]})
    with finance(served_demo, http=http) as c360:
        c360.schema()
        one = c360.get(served_demo.survivor)
        again = c360.get(served_demo.survivor)
    http.close()
    assert again == one
    assert statuses[-2:] == [200, 304]


def test_bad_key_is_unauthorized(served_demo: Demo) -> None:
    with Client(served_demo.url, api_key="wrong") as c360, pytest.raises(Unauthorized):
        c360.get(served_demo.survivor)


# --------------------------------------------------------------------------- retries, against a mock


def mock_client(answers: list[httpx.Response], sleeps: list[float], **kw: typing.Any) -> Client:
    queue = list(answers)
    schema = httpx.Response(200, json={"consumer": "x", "fields": [{"name": "customer_id", "type": "string"}]})

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/schema":
            return schema
        return queue.pop(0)

    return Client(
        "http://c360.test",
        api_key="k",
        http=httpx.Client(transport=httpx.MockTransport(handler)),
        sleep=sleeps.append,
        **kw,
    )


def _error(status: int, code: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": code, "message": code}}, headers=headers)


def test_429_waits_for_retry_after() -> None:
    sleeps: list[float] = []
    c360 = mock_client(
        [_error(429, "rate_limited", {"Retry-After": "3"}), httpx.Response(200, json={"customer_id": "c_1"})], sleeps
    )
    assert c360.get("c_1").id == "c_1"
    assert sleeps == [3.0]


def test_retry_after_as_an_http_date() -> None:
    sleeps: list[float] = []
    when = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=20)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    c360 = mock_client(
        [_error(503, "not_ready", {"Retry-After": when}), httpx.Response(200, json={"customer_id": "c_1"})], sleeps
    )
    c360.get("c_1")
    assert len(sleeps) == 1 and 15 <= sleeps[0] <= 21


def test_5xx_backs_off_exponentially_then_raises() -> None:
    sleeps: list[float] = []
    c360 = mock_client([_error(503, "source_unavailable")] * 4, sleeps, max_retries=3, backoff=0.5)
    with pytest.raises(ServerError) as caught:
        c360.get("c_1")
    assert caught.value.code == "source_unavailable" and isinstance(caught.value, C360Error)
    assert sleeps == [0.5, 1.0, 2.0]


def test_429_after_every_retry_is_rate_limited() -> None:
    sleeps: list[float] = []
    c360 = mock_client([_error(429, "rate_limited", {"Retry-After": "1"})] * 2, sleeps, max_retries=1)
    with pytest.raises(RateLimited) as caught:
        c360.get("c_1")
    assert caught.value.retry_after == 1.0 and sleeps == [1.0]


def test_4xx_is_not_retried() -> None:
    sleeps: list[float] = []
    c360 = mock_client([_error(404, "not_found")], sleeps)
    with pytest.raises(NotFound):
        c360.get("c_1")
    assert sleeps == []


def test_transport_errors_are_retried() -> None:
    sleeps: list[float] = []
    calls = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/schema":
            return httpx.Response(200, json={"fields": []})
        calls["n"] += 1
        if calls["n"] == 1:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, json={"customer_id": "c_1"})

    c360 = Client(
        "http://c360.test", token="jwt", http=httpx.Client(transport=httpx.MockTransport(handler)), sleep=sleeps.append
    )
    assert c360.get("c_1").id == "c_1" and len(sleeps) == 1


def test_api_key_and_token_are_exclusive() -> None:
    with pytest.raises(ValueError):
        Client("http://x", api_key="a", token="b")


def test_import_c360_is_cheap() -> None:
    import subprocess
    import sys

    code = (
        "import sys, c360; heavy = [m for m in ('fastapi', 'splink', 'duckdb', 'sqlalchemy', 'typer') "
        "if m in sys.modules]; print(heavy); assert not heavy, heavy; c360.Client; c360.Product"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
