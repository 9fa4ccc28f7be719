"""Salesforce for production: OAuth sessions that renew, Bulk API 2.0, start dates, pacing."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from c360.connectors.base import Batch
from c360.connectors.salesforce import SalesforceConnector, SalesforceOptions
from c360.core.errors import TerminalSourceError
from tests.connectors.fakes.oauth import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, USERNAME, TokenIssuer, rsa_pair
from tests.connectors.fakes.salesforce import SalesforceFake, stamp
from tests.connectors.httpfake import FakeServer, serve

T_BASE = 1_700_000_000


def _fake(n: int = 7) -> SalesforceFake:
    fake = SalesforceFake(page_size=2, issuer=TokenIssuer())
    for i in range(1, n + 1):
        fake.put("Account", f"001A{i:011d}", i, Name=f"Account {i}", Website=None)
    return fake


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with serve(_fake()) as srv:
        yield srv


def _fake_of(server: FakeServer) -> SalesforceFake:
    assert isinstance(server.handler, SalesforceFake)
    return server.handler


def _conn(url: str, *, sleep: Any = None, tmp: Path | None = None, **opts: Any) -> SalesforceConnector:
    if "oauth" not in opts and "access_token_file" not in opts:
        opts.setdefault(
            "oauth",
            {
                "grant": "refresh_token",
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "refresh_token": REFRESH_TOKEN,
            },
        )
    opts.setdefault("bulk", False)
    options = SalesforceOptions.model_validate({"instance_url": url, **opts})
    return SalesforceConnector(
        options, base_dir=tmp, sleep=sleep or (lambda _s: None), backoff=0.0, clock=lambda: 1_000_000.0
    )


def _keys(batches: list[Batch]) -> list[tuple[str, bool]]:
    return [(r.key, r.deleted) for b in batches for r in b.records]


# -- sessions that renew themselves ---------------------------------------------------


def test_token_expiring_mid_sync_is_renewed_once_and_the_request_resent(server: FakeServer) -> None:
    fake = _fake_of(server)
    assert fake.issuer is not None
    conn = _conn(server.url, fields=["Name"])
    reader = conn.read("Account", key="Id")
    first = next(reader)
    assert [r.key for r in first.records] == ["001A00000000001", "001A00000000002"]
    fake.issuer.expire()  # the session times out between two pages
    rest = list(reader)
    assert _keys([first, *rest]) == [(f"001A{i:011d}", False) for i in range(1, 8)]
    assert fake.issuer.issued == 2  # the first token, then one renewal
    assert [g["grant_type"] for g in fake.issuer.grants] == ["refresh_token"] * 2
    refused = [r for r in server.requests if "/query/" in r.path]
    tokens = [r.headers["authorization"] for r in refused]
    assert "Bearer 00Dfake!access-1" in tokens and tokens[-1] == "Bearer 00Dfake!access-2"
    assert conn.session is not None and conn.session.renewals == 2


def test_refresh_refused_is_terminal_and_never_shows_the_secret(server: FakeServer) -> None:
    fake = _fake_of(server)
    assert fake.issuer is not None
    fake.issuer.echo_secret_in_errors = True  # the server puts the refused token in its error
    stale = "5Aep861-revoked-refresh-token-s3cret"
    conn = _conn(
        server.url,
        oauth={
            "grant": "refresh_token",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "refresh_token": stale,
        },
    )
    with pytest.raises(TerminalSourceError) as info:
        conn.check()
    message = str(info.value)
    assert "invalid_grant" in message and "refresh_token" in message and "400" in message
    assert "authorise the app again" in message
    assert stale not in message and CLIENT_SECRET not in message
    for shown in (repr(conn), repr(conn.options), repr(conn.session), repr(conn.http.client.auth)):
        assert stale not in shown and CLIENT_SECRET not in shown
    assert len(fake.issuer.grants) == 1  # a refused grant is not retried


def test_client_credentials_flow(server: FakeServer) -> None:
    fake = _fake_of(server)
    assert fake.issuer is not None
    conn = _conn(
        server.url, oauth={"grant": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    )
    conn.check()
    assert fake.issuer.grants == [
        {"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    ]
    bad = _conn(
        server.url, oauth={"grant": "client_credentials", "client_id": CLIENT_ID, "client_secret": "wrong-secret-value"}
    )
    with pytest.raises(TerminalSourceError, match="client credentials flow") as info:
        bad.check()
    assert "wrong-secret-value" not in str(info.value)


def test_jwt_bearer_assertion_is_verified_with_the_public_key(server: FakeServer, tmp_path: Path) -> None:
    fake = _fake_of(server)
    assert fake.issuer is not None
    private, public = rsa_pair()
    fake.issuer.public_key = public
    (tmp_path / "server.key").write_bytes(private)
    oauth = {"grant": "jwt_bearer", "client_id": CLIENT_ID, "username": USERNAME, "private_key_file": "server.key"}
    conn = _conn(server.url, tmp=tmp_path, oauth=oauth)
    conn.check()
    grant = fake.issuer.grants[-1]
    assert grant["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    claims = fake.issuer.claims
    assert claims["iss"] == CLIENT_ID and claims["sub"] == USERNAME
    assert claims["aud"] == "https://login.salesforce.com"
    assert claims["exp"] == 1_000_000 + 180  # three minutes on the injected clock
    # Signed with another key: the fake's verification refuses it, and the error says what to fix.
    other, _ = rsa_pair()
    (tmp_path / "other.key").write_bytes(other)
    wrong = _conn(server.url, tmp=tmp_path, oauth={**oauth, "private_key_file": "other.key"})
    with pytest.raises(TerminalSourceError, match=r"InvalidSignatureError.*certificate") as info:
        wrong.check()
    assert other.decode().splitlines()[1] not in str(info.value)
    (tmp_path / "junk.key").write_text("not a key")
    with pytest.raises(TerminalSourceError, match=r"junk\.key is not a PEM RSA private key"):
        _conn(server.url, tmp=tmp_path, oauth={**oauth, "private_key_file": "junk.key"}).check()


def test_secrets_from_files(server: FakeServer, tmp_path: Path) -> None:
    fake = _fake_of(server)
    (tmp_path / "secret").write_text(CLIENT_SECRET + "\n")
    (tmp_path / "refresh").write_text(REFRESH_TOKEN + "\n")
    conn = _conn(
        server.url,
        tmp=tmp_path,
        oauth={
            "grant": "refresh_token",
            "client_id": CLIENT_ID,
            "client_secret_file": "secret",
            "refresh_token_file": "refresh",
        },
    )
    conn.check()
    assert fake.issuer is not None and fake.issuer.grants[-1]["client_secret"] == CLIENT_SECRET
    (tmp_path / "token").write_text(fake.token)
    _conn(server.url, tmp=tmp_path, access_token_file="token").check()
    with pytest.raises(TerminalSourceError, match=r"'access_token_file': cannot read .*missing"):
        _conn(server.url, tmp=tmp_path, access_token_file="missing")
    with pytest.raises(ValidationError, match="exactly one of"):
        SalesforceOptions(instance_url=server.url)
    with pytest.raises(ValidationError, match="'refresh_token' or 'refresh_token_file'"):
        SalesforceOptions.model_validate(
            {"instance_url": server.url, "oauth": {"grant": "refresh_token", "client_id": CLIENT_ID}}
        )


def test_rotated_refresh_token_is_written_back_to_its_file(server: FakeServer, tmp_path: Path) -> None:
    fake = _fake_of(server)
    assert fake.issuer is not None
    fake.issuer.rotate = True
    (tmp_path / "refresh").write_text(REFRESH_TOKEN)
    conn = _conn(
        server.url,
        tmp=tmp_path,
        oauth={
            "grant": "refresh_token",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "refresh_token_file": "refresh",
        },
    )
    conn.check()
    fake.issuer.expire()
    conn.check()  # renews with the rotated token, not the spent one
    assert fake.issuer.grants[-1]["refresh_token"] == f"{REFRESH_TOKEN}-r1"
    assert (tmp_path / "refresh").read_text().strip() == f"{REFRESH_TOKEN}-r2"
    assert (tmp_path / "refresh").stat().st_mode & 0o077 == 0


def test_a_renewed_token_refused_again_is_terminal(server: FakeServer) -> None:
    fake = _fake_of(server)
    fake.fail_next(
        401,
        [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}],
        path_contains="/limits",
        times=2,
    )
    with pytest.raises(TerminalSourceError, match="freshly renewed access token was refused"):
        _conn(server.url).check()
    assert fake.issuer is not None and fake.issuer.issued == 2


# -- Bulk API 2.0 -----------------------------------------------------------------------


def test_bulk_job_completes_over_several_csv_pages(server: FakeServer) -> None:
    fake = _fake_of(server)
    fake.polls_before_done = 2
    fake.put("Account", "001A00000000099", 30, Name='Quote "and", comma', Website="x.example")
    waits: list[float] = []
    conn = _conn(
        server.url, bulk=True, bulk_page_size=3, bulk_poll_interval=1.5, sleep=waits.append, fields=["Name", "Website"]
    )
    batches = list(conn.read("Account", key="Id", batch_size=2))
    keys = [k for k, _ in _keys(batches)]
    assert keys == [f"001A{i:011d}" for i in range(1, 8)] + ["001A00000000099"]
    assert waits == [1.5, 3.0, 6.0]  # polled until JobComplete, the wait doubling
    results = [r for r in server.requests if r.path.endswith("/results")]
    assert [r.arg("locator") for r in results] == [None, "3", "6"]
    assert all(r.arg("maxRecords") == "3" for r in results)
    last = batches[-1].records[-1].data
    assert last["Name"] == 'Quote "and", comma' and last["IsDeleted"] is False
    assert batches[0].records[0].data["Website"] is None  # empty CSV value: null
    assert last["attributes"] == {"type": "Account", "url": "/services/data/v59.0/sobjects/Account/001A00000000099"}
    # Results come in no order: the keyset moves at the end of the job; until then each
    # batch names the job and the results page to go on from.
    mid = [json.loads(b.cursor or "") for b in batches[:-1]]
    assert all(c["bulk_job"] == conn.bulk_jobs[0] and c["from"] is None for c in mid)
    assert [c["locator"] for c in mid] == [None, "3", "3", "6"]
    assert json.loads(batches[-1].cursor or "") == [stamp(30), "001A00000000099"]
    job = next(r for r in server.requests if r.path.endswith("/jobs/query"))
    spec = job.json()
    assert spec["operation"] == "query" and spec["contentType"] == "CSV"
    assert spec["query"].endswith("FROM Account") and "ORDER BY" not in spec["query"]


def test_bulk_keyset_is_the_newest_record_of_the_job_not_the_last(server: FakeServer) -> None:
    fake = _fake_of(server)
    fake.put("Account", "001A00000000001", 90, Name="Account 1 renamed")  # first in the CSV
    conn = _conn(server.url, bulk=True, bulk_page_size=3, fields=["Name"])
    batches = list(conn.read("Account", key="Id"))
    assert json.loads(batches[-1].cursor or "") == [stamp(90), "001A00000000001"]


def test_interrupted_bulk_read_resumes_with_the_same_job(server: FakeServer) -> None:
    fake = _fake_of(server)
    conn = _conn(server.url, bulk=True, bulk_page_size=3, fields=["Name"])
    reader = conn.read("Account", key="Id", batch_size=3)
    committed = [next(reader), next(reader)]
    del reader  # the sync stopped after two pages
    before = len(server.requests)
    rest = list(conn.read("Account", key="Id", since=committed[-1].cursor, batch_size=3))
    assert [k for k, _ in _keys(committed + rest)] == [f"001A{i:011d}" for i in range(1, 8)]
    again = server.requests[before:]
    assert [r.path.rsplit("/", 1)[-1] for r in again] == ["results"]  # no new job
    assert again[0].arg("locator") == "6" and len(fake.jobs) == 1
    assert json.loads(rest[-1].cursor or "") == [stamp(7), "001A00000000007"]
    # The job's results gone (deleted, or kept past their days): a new job from the origin.
    fake.jobs.clear()
    redo = list(conn.read("Account", key="Id", since=committed[-1].cursor, batch_size=3))
    assert len(_keys(redo)) == 7 and len(fake.jobs) == 1


def test_bulk_incremental_uses_query_all_and_types_tombstones(server: FakeServer) -> None:
    fake = _fake_of(server)
    conn = _conn(server.url, bulk=True, fields=["Name"])
    cursor = list(conn.read("Account", key="Id"))[-1].cursor
    fake.delete("Account", "001A00000000003", 40)
    fake.put("Account", "001A00000000008", 41, Name="Account 8")
    batches = list(conn.read("Account", key="Id", since=cursor))
    assert _keys(batches) == [("001A00000000003", True), ("001A00000000008", False)]
    assert fake.queries[-1][0] == "bulk queryAll"


def test_bulk_job_that_fails_names_the_job_and_the_error(server: FakeServer) -> None:
    fake = _fake_of(server)
    fake.fail_jobs = "InvalidBatch : Failed to process query: FUNCTIONALITY_NOT_ENABLED"
    conn = _conn(server.url, bulk=True, fields=["Name"])
    with pytest.raises(TerminalSourceError) as info:
        list(conn.read("Account", key="Id"))
    message = str(info.value)
    job_id = conn.bulk_jobs[-1]
    assert f"Bulk API query job {job_id} on Account ended Failed" in message
    assert "FUNCTIONALITY_NOT_ENABLED" in message and "bulk: false" in message


def test_bulk_job_that_never_ends_times_out_on_the_injected_clock(server: FakeServer) -> None:
    fake = _fake_of(server)
    fake.polls_before_done = 10**6
    waits: list[float] = []
    conn = _conn(server.url, bulk=True, fields=["Name"], bulk_timeout=60, sleep=waits.append)
    with pytest.raises(TerminalSourceError, match=r"still InProgress after 60 s.*bulk_timeout"):
        list(conn.read("Account", key="Id"))
    assert waits == [2.0, 4.0, 8.0, 16.0, 30.0]  # doubling, capped at 30 s: 60 s in all


def test_bulk_auto_counts_first_and_picks_the_path(server: FakeServer) -> None:
    fake = _fake_of(server)
    small = _conn(server.url, bulk="auto", bulk_threshold=7, fields=["Name"])
    list(small.read("Account", key="Id"))
    assert [q[0] for q in fake.queries] == ["query", "query"]  # 7 is not over 7: REST
    assert fake.queries[0][1] == "SELECT COUNT() FROM Account"
    fake.queries.clear()
    big = _conn(server.url, bulk="auto", bulk_threshold=6, fields=["Name"])
    assert len(_keys(list(big.read("Account", key="Id")))) == 7
    assert [q[0] for q in fake.queries] == ["query", "bulk query"]
    # An incremental read counts only what it would return.
    fake.queries.clear()
    since = json.dumps([stamp(6), "001A00000000006"])
    assert len(_keys(list(big.read("Account", key="Id", since=since)))) == 1
    assert fake.queries[0][0] == "queryAll" and "COUNT()" in fake.queries[0][1]
    assert "WHERE SystemModstamp > " in fake.queries[0][1]
    assert fake.queries[1][0] == "queryAll"


# -- streams, start dates, pacing ----------------------------------------------------------


@pytest.mark.parametrize(
    "obj,fields",
    [
        (
            "Opportunity",
            {
                "Name": "Renewal",
                "StageName": "Prospecting",
                "Amount": 1200.5,
                "AccountId": "001A00000000001",
                "IsWon": False,
            },
        ),
        (
            "Case",
            {
                "Subject": "Login broken",
                "Status": "New",
                "AccountId": "001A00000000001",
                "ContactId": "003C00000000001",
            },
        ),
        ("Contact", {"LastName": "Lovelace", "Email": "ada@acme.example"}),
    ],
)
def test_customer_360_objects_read_incrementally_with_tombstones(
    server: FakeServer, obj: str, fields: dict[str, Any]
) -> None:
    fake = _fake_of(server)
    prefix = {"Opportunity": "006", "Case": "500", "Contact": "003"}[obj]
    for i in range(1, 4):
        fake.put(obj, f"{prefix}X{i:011d}", i, **fields)
    streams = {s.name: s for s in _conn(server.url, objects=[obj]).discover()}
    assert set(fields) <= {c.name for c in streams[obj].columns}
    assert streams[obj].cursor_field == "SystemModstamp"
    conn = _conn(server.url)
    cursor = list(conn.read(obj, key="Id"))[-1].cursor
    fake.put(obj, f"{prefix}X00000000002", 50, **fields)
    fake.delete(obj, f"{prefix}X00000000003", 51)
    batches = list(conn.read(obj, key="Id", since=cursor))
    assert _keys(batches) == [(f"{prefix}X00000000002", False), (f"{prefix}X00000000003", True)]
    assert {k: batches[0].records[0].data[k] for k in fields} == fields


def test_start_date_bounds_the_first_read(server: FakeServer) -> None:
    fake = _fake_of(server)
    start = dt.datetime.fromtimestamp(T_BASE + 5, dt.UTC)
    conn = _conn(server.url, fields=["Name"], start_date=start.isoformat())
    batches = list(conn.read("Account", key="Id"))
    assert [k for k, _ in _keys(batches)] == ["001A00000000005", "001A00000000006", "001A00000000007"]
    assert f"WHERE SystemModstamp >= {start.strftime('%Y-%m-%dT%H:%M:%SZ')} ORDER BY" in (fake.queries[-1][1])
    # A date alone is midnight UTC; later reads go on from the cursor, not the start date.
    day = _conn(server.url, fields=["Name"], start_date="2023-11-14")
    assert len(_keys(list(day.read("Account", key="Id")))) == 7
    assert "SystemModstamp >= 2023-11-14T00:00:00Z" in fake.queries[-1][1]
    list(conn.read("Account", key="Id", since=batches[-1].cursor))
    assert ">=" not in fake.queries[-1][1]


def test_interrupted_first_read_resumes_from_the_last_committed_page(server: FakeServer) -> None:
    fake = _fake_of(server)
    conn = _conn(server.url, fields=["Name"])
    reader = conn.read("Account", key="Id")
    committed = [next(reader), next(reader)]
    del reader  # the sync stopped here
    rest = list(conn.read("Account", key="Id", since=committed[-1].cursor))
    assert [k for k, _ in _keys(committed + rest)] == [f"001A{i:011d}" for i in range(1, 8)]
    assert "Id > '001A00000000004'" in fake.queries[-1][1]


def test_pacing_slows_down_when_the_daily_limit_runs_low(server: FakeServer) -> None:
    fake = _fake_of(server)
    waits: list[float] = []
    fake.headers = {"Sforce-Limit-Info": "api-usage=13000/15000"}
    _conn(server.url, sleep=waits.append).check()
    assert waits == []  # 2,000 of 15,000 left: more than a tenth, no pacing
    fake.headers = {"Sforce-Limit-Info": "api-usage=136000/150000"}
    _conn(server.url, sleep=waits.append).check()
    assert waits == [pytest.approx(86_400 / 14_000)]  # what is left, spread over the day
    waits.clear()
    fake.headers = {"Sforce-Limit-Info": "api-usage=14999/15000"}
    _conn(server.url, sleep=waits.append, max_retries=0).check()
    assert waits == [60.0]  # a whole day is capped at max_wait per request
    waits.clear()
    _conn(server.url, sleep=waits.append, pace_below=0).check()
    assert waits == []


def test_bulk_csv_values_are_typed_by_describe_and_bad_ones_quarantined(server: FakeServer) -> None:
    fake = _fake_of(server)
    fake.put("Opportunity", "006X00000000001", 1, Name="Big", Amount=1200.5, IsWon=True)
    fake.put("Opportunity", "006X00000000002", 2, Name="Odd", Amount="n/a", IsWon=False)
    conn = _conn(server.url, bulk=True, fields=["Name", "Amount", "IsWon"])
    batches = list(conn.read("Opportunity", key="Id"))
    records = [r for b in batches for r in b.records]
    assert [r.key for r in records] == ["006X00000000001"]
    assert records[0].data["Amount"] == 1200.5 and records[0].data["IsWon"] is True
    bad = [q for b in batches for q in b.quarantined]
    assert len(bad) == 1 and "'Amount' is not a currency: 'n/a'" in bad[0].reason
    assert "results page 1 row 2" in bad[0].location and "006X00000000002" in bad[0].raw
