"""HubSpot for production: OAuth refresh, deals, v4 associations, start dates, pacing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from c360.connectors.base import Batch
from c360.connectors.hubspot import HubSpotConnector, HubSpotOptions
from c360.core.errors import TerminalSourceError
from tests.connectors.fakes.hubspot import TOKEN, HubSpotFake, iso_ms
from tests.connectors.fakes.oauth import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, TokenIssuer
from tests.connectors.httpfake import FakeServer, serve

T0 = 1_700_000_000_000
OAUTH = {
    "grant": "refresh_token",
    "client_id": CLIENT_ID,
    "client_secret": CLIENT_SECRET,
    "refresh_token": REFRESH_TOKEN,
}


def _fake() -> HubSpotFake:
    fake = HubSpotFake(issuer=TokenIssuer(path="/oauth/v1/token", expires_in=1800))
    for i in range(1, 4):
        fake.put("companies", str(100 + i), T0 + i, name=f"Company {i}")
        fake.put("contacts", str(500 + i), T0 + i, email=f"p{i}@acme.example")
        fake.put(
            "deals",
            str(900 + i),
            T0 + i * 1000,
            dealname=f"Deal {i}",
            amount=str(i * 100),
            dealstage="closedwon" if i == 1 else "appointmentscheduled",
        )
    fake.associate("contacts", "501", "companies", "101")
    fake.associate("contacts", "502", "companies", "101")
    fake.associate("deals", "901", "companies", "101")
    fake.associate("deals", "901", "contacts", "501")
    fake.associate("deals", "902", "companies", "102")
    return fake


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with serve(_fake()) as srv:
        yield srv


def _fake_of(server: FakeServer) -> HubSpotFake:
    assert isinstance(server.handler, HubSpotFake)
    return server.handler


def _conn(url: str, *, sleep: Any = None, tmp: Path | None = None, **opts: Any) -> HubSpotConnector:
    if not {"oauth", "access_token", "access_token_file"} & set(opts):
        opts["oauth"] = OAUTH
    options = HubSpotOptions.model_validate({"base_url": url, **opts})
    return HubSpotConnector(options, base_dir=tmp, sleep=sleep or (lambda _s: None), clock=lambda: 10_000.0)


def _keys(batches: list[Batch]) -> list[tuple[str, bool]]:
    return [(r.key, r.deleted) for b in batches for r in b.records]


def test_oauth_token_expiring_mid_sync_is_refreshed(server: FakeServer) -> None:
    fake = _fake_of(server)
    assert fake.issuer is not None
    reader = _conn(server.url, associations={}).read("companies", key="id", batch_size=1)
    first = next(reader)
    fake.issuer.expire()
    rest = list(reader)
    assert [k for k, _ in _keys([first, *rest])] == ["101", "102", "103"]
    assert fake.issuer.issued == 2
    assert fake.issuer.grants[-1]["grant_type"] == "refresh_token"  # form-encoded, RFC 6749


def test_refresh_refused_is_terminal_without_the_secret(server: FakeServer) -> None:
    fake = _fake_of(server)
    assert fake.issuer is not None
    fake.issuer.echo_secret_in_errors = True
    conn = _conn(server.url, oauth={**OAUTH, "refresh_token": "hs-stale-refresh-s3cret"})
    with pytest.raises(TerminalSourceError) as info:
        conn.check()
    message = str(info.value)
    assert "hubspot" in message and "invalid_grant" in message and "/oauth/v1/token" in message
    assert "hs-stale-refresh-s3cret" not in message and CLIENT_SECRET not in message
    assert "hs-stale-refresh-s3cret" not in repr(conn) + repr(conn.options) + repr(conn.session)


def test_access_token_from_a_file_and_one_credential(server: FakeServer, tmp_path: Path) -> None:
    (tmp_path / "hs").write_text(TOKEN + "\n")
    _conn(server.url, tmp=tmp_path, access_token_file="hs").check()
    assert server.requests[-1].headers["authorization"] == f"Bearer {TOKEN}"
    with pytest.raises(ValidationError, match="exactly one of"):
        HubSpotOptions(base_url=server.url)


def test_deals_incremental_with_associations_and_tombstones(server: FakeServer) -> None:
    fake = _fake_of(server)
    conn = _conn(server.url)
    streams = {s.name: s for s in conn.discover()}
    assert "dealstage" in {c.name for c in streams["deals"].columns}
    batches = list(conn.read("deals", key="id"))
    assert [k for k, _ in _keys(batches)] == ["901", "902", "903"]
    deal = {r.key: r.data for b in batches for r in b.records}
    assert deal["901"]["associations"]["companies"] == [
        {"toObjectId": 101, "associationTypes": [{"category": "HUBSPOT_DEFINED", "typeId": 341, "label": None}]}
    ]
    assert [a["toObjectId"] for a in deal["901"]["associations"]["contacts"]] == [501]
    assert deal["903"]["associations"] == {"companies": [], "contacts": []}  # 207, none found
    assert deal["901"]["properties"]["dealstage"] == "closedwon"
    fake.put("deals", "902", T0 + 50_000, dealname="Deal 2", dealstage="closedlost")
    fake.archive("deals", "903", T0 + 51_000)
    again = list(conn.read("deals", key="id", since=batches[-1].cursor))
    assert _keys(again) == [("902", False), ("903", True)]
    assert again[0].records[0].data["properties"]["dealstage"] == "closedlost"


def test_contacts_carry_their_companies_across_association_pages(server: FakeServer) -> None:
    fake = _fake_of(server)
    fake.assoc_page = 2
    for c in ("102", "103"):
        fake.associate("contacts", "501", "companies", c)
    batches = list(_conn(server.url).read("contacts", key="id"))
    contact = {r.key: r.data for b in batches for r in b.records}
    assert [a["toObjectId"] for a in contact["501"]["associations"]["companies"]] == [
        101,
        102,
        103,
    ]  # the third from GET /crm/v4/objects/contacts/501/associations/companies
    assert any(r.path == "/crm/v4/objects/contacts/501/associations/companies" for r in server.requests)
    batch_reads = [r for r in server.requests if r.path.endswith("/batch/read")]
    assert [i["id"] for i in batch_reads[0].json()["inputs"]] == ["501", "502", "503"]
    assert (
        "associations" not in next(iter(_conn(server.url, associations={}).read("contacts", key="id"))).records[0].data
    )


def test_start_date_bounds_the_first_read(server: FakeServer) -> None:
    fake = _fake_of(server)
    conn = _conn(server.url, start_date=iso_ms(T0 + 2000), associations={})
    batches = list(conn.read("deals", key="id"))
    assert [k for k, _ in _keys(batches)] == ["902", "903"]
    flt = fake.searches[-1]["filterGroups"][0]["filters"][0]
    assert flt == {"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": str(T0 + 2000)}
    assert json.loads(batches[-1].cursor or "")["archived"] == T0 + 2000


def test_pacing_by_rate_limit_headers(server: FakeServer) -> None:
    fake = _fake_of(server)
    waits: list[float] = []
    fake.headers = {
        "X-HubSpot-RateLimit-Max": "190",
        "X-HubSpot-RateLimit-Remaining": "150",
        "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
    }
    _conn(server.url, sleep=waits.append).check()
    assert waits == []
    fake.headers = {
        "X-HubSpot-RateLimit-Max": "190",
        "X-HubSpot-RateLimit-Remaining": "5",
        "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
        "X-HubSpot-RateLimit-Secondly": "19",
        "X-HubSpot-RateLimit-Secondly-Remaining": "10",
    }
    _conn(server.url, sleep=waits.append).check()
    assert waits == [pytest.approx(2.0)]  # ten seconds shared among the five left
