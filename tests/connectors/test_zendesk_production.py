"""Zendesk for production: OAuth refresh, ratings and ticket metrics, start dates, pacing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from c360.connectors.base import Batch
from c360.connectors.zendesk import ZendeskConnector, ZendeskOptions
from c360.core.errors import TerminalSourceError
from tests.connectors.fakes.oauth import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, TokenIssuer
from tests.connectors.fakes.zendesk import EMAIL, TOKEN, ZendeskFake, iso
from tests.connectors.httpfake import FakeServer, serve

T0 = 1_700_000_000
OAUTH = {
    "grant": "refresh_token",
    "client_id": CLIENT_ID,
    "client_secret": CLIENT_SECRET,
    "refresh_token": REFRESH_TOKEN,
}


def _fake() -> ZendeskFake:
    fake = ZendeskFake(issuer=TokenIssuer(path="/oauth/tokens", expires_in=7200))
    for i in range(1, 6):
        fake.upsert("tickets", {"id": i, "status": "open", "requester_id": 10, "updated_at": iso(T0 + i * 100)})
        fake.metric_sets[i] = {"id": 9000 + i, "ticket_id": i, "replies": i, "updated_at": iso(T0 + i * 100)}
        fake.satisfaction_ratings.append(
            {"id": 700 + i, "ticket_id": i, "score": "good", "updated_at": iso(T0 + i * 100)}
        )
    return fake


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with serve(_fake()) as srv:
        yield srv


def _fake_of(server: FakeServer) -> ZendeskFake:
    assert isinstance(server.handler, ZendeskFake)
    return server.handler


def _conn(url: str, *, sleep: Any = None, tmp: Path | None = None, clock: Any = None, **opts: Any) -> ZendeskConnector:
    if not {"oauth", "api_token", "api_token_file", "oauth_token"} & set(opts):
        opts["oauth"] = OAUTH
    options = ZendeskOptions.model_validate({"base_url": url, **opts})
    return ZendeskConnector(
        options, base_dir=tmp, sleep=sleep or (lambda _s: None), backoff=0.0, clock=clock or (lambda: 5_000.0)
    )


def _keys(batches: list[Batch]) -> list[tuple[str, bool]]:
    return [(r.key, r.deleted) for b in batches for r in b.records]


def test_oauth_token_expiring_mid_sync_is_refreshed(server: FakeServer) -> None:
    fake = _fake_of(server)
    assert fake.issuer is not None
    reader = _conn(server.url).read("tickets", key="id", batch_size=2)
    first = next(reader)
    fake.issuer.expire()
    rest = list(reader)
    assert [k for k, _ in _keys([first, *rest])] == ["1", "2", "3", "4", "5"]
    assert fake.issuer.issued == 2
    grant = fake.issuer.grants[-1]  # Zendesk takes the token request as JSON
    assert grant == {
        "grant_type": "refresh_token",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "refresh_token": REFRESH_TOKEN,
    }


def test_token_is_renewed_before_expires_in_runs_out(server: FakeServer) -> None:
    fake = _fake_of(server)
    assert fake.issuer is not None
    now = [5_000.0]
    conn = _conn(server.url, clock=lambda: now[0])
    conn.check()
    now[0] += 7200 - 30  # within a minute of the token's two hours
    conn.check()
    assert fake.issuer.issued == 2
    assert not any(r.headers.get("authorization") == "Bearer 00Dfake!access-1" for r in server.requests[-1:])


def test_refresh_refused_is_terminal_without_the_secret(server: FakeServer) -> None:
    fake = _fake_of(server)
    assert fake.issuer is not None
    fake.issuer.echo_secret_in_errors = True
    conn = _conn(server.url, oauth={**OAUTH, "refresh_token": "zd-revoked-refresh-s3cret"})
    with pytest.raises(TerminalSourceError) as info:
        list(conn.read("tickets", key="id"))
    message = str(info.value)
    assert "zendesk" in message and "invalid_grant" in message and "/oauth/tokens" in message
    assert "zd-revoked-refresh-s3cret" not in message and CLIENT_SECRET not in message
    assert "zd-revoked-refresh-s3cret" not in repr(conn) + repr(conn.options) + repr(conn.session)


def test_api_token_from_a_file(server: FakeServer, tmp_path: Path) -> None:
    (tmp_path / "zd_token").write_text(TOKEN + "\n")
    conn = _conn(server.url, tmp=tmp_path, email=EMAIL, api_token_file="zd_token")
    conn.check()
    assert server.requests[-1].headers["authorization"].startswith("Basic ")


def test_ticket_metrics_ride_on_the_ticket_export_with_tombstones(server: FakeServer) -> None:
    fake = _fake_of(server)
    conn = _conn(server.url)
    streams = {s.name: s for s in conn.discover()}
    assert streams["ticket_metrics"].key == "ticket_id"
    batches = list(conn.read("ticket_metrics", key="ticket_id", batch_size=2))
    assert [k for k, _ in _keys(batches)] == ["1", "2", "3", "4", "5"]
    assert batches[0].records[0].data["replies"] == 1
    export = [r for r in server.requests if "incremental/tickets" in r.path]
    assert all(r.arg("include") == "metric_sets" for r in export)
    fake.upsert("tickets", {"id": 2, "status": "solved", "requester_id": 10, "updated_at": iso(T0 + 900)})
    fake.metric_sets[2] = {**fake.metric_sets[2], "replies": 7, "updated_at": iso(T0 + 900)}
    fake.upsert("tickets", {"id": 4, "status": "deleted", "requester_id": 10, "updated_at": iso(T0 + 901)})
    again = list(conn.read("ticket_metrics", key="ticket_id", since=batches[-1].cursor))
    assert _keys(again) == [("2", False), ("4", True)]
    assert again[0].records[0].data["replies"] == 7


def test_satisfaction_ratings_incremental_and_resumable(server: FakeServer) -> None:
    fake = _fake_of(server)
    conn = _conn(server.url)
    reader = conn.read("satisfaction_ratings", key="id", batch_size=2)
    first = next(reader)
    del reader  # interrupted after one committed page
    mid = json.loads(first.cursor or "")
    assert mid["start"] == 0 and mid["after"] and mid["newest"] == T0 + 200
    rest = list(conn.read("satisfaction_ratings", key="id", since=first.cursor, batch_size=2))
    assert [k for k, _ in _keys([first, *rest])] == ["701", "702", "703", "704", "705"]
    calls = [r for r in server.requests if r.path == "/api/v2/satisfaction_ratings"]
    assert calls[1].arg("page[after]") == mid["after"]  # resumed, not started over
    done = json.loads(rest[-1].cursor or "")
    assert done == {"start": T0 + 500}
    fake.satisfaction_ratings[1] = {**fake.satisfaction_ratings[1], "score": "bad", "updated_at": iso(T0 + 1000)}
    changed = list(conn.read("satisfaction_ratings", key="id", since=rest[-1].cursor))
    assert [k for k, _ in _keys(changed)] == ["702", "705"]  # the change, and the boundary again
    assert changed[0].records[0].data["score"] == "bad"
    assert [r for r in server.requests if r.path == "/api/v2/satisfaction_ratings"][-1].arg("start_time") == str(
        T0 + 500
    )


@pytest.mark.parametrize("stream", ["tickets", "satisfaction_ratings", "ticket_metrics"])
def test_start_date_bounds_the_first_read(server: FakeServer, stream: str) -> None:
    conn = _conn(server.url, start_date="2023-11-14T22:18:20Z")  # T0 + 300
    key = "ticket_id" if stream == "ticket_metrics" else "id"
    got = [k for k, _ in _keys(list(conn.read(stream, key=key)))]
    assert len(got) == 3 and got[-1] in ("5", "705")
    first = next(r for r in server.requests if "token" not in r.path and "me.json" not in r.path)
    assert first.arg("start_time") == str(T0 + 300)


def test_pacing_by_rate_limit_headers(server: FakeServer) -> None:
    fake = _fake_of(server)
    waits: list[float] = []
    fake.headers = {"x-rate-limit": "700", "x-rate-limit-remaining": "500"}
    _conn(server.url, sleep=waits.append).check()
    assert waits == []
    fake.headers = {"x-rate-limit": "700", "x-rate-limit-remaining": "20"}
    _conn(server.url, sleep=waits.append).check()
    assert waits == [pytest.approx(3.0)]  # a minute shared among the 20 requests left
    waits.clear()
    fake.headers = {"ratelimit-limit": "700", "ratelimit-remaining": "0", "ratelimit-reset": "17"}
    _conn(server.url, sleep=waits.append).check()
    assert waits == [17.0]  # none left: wait for the reset
