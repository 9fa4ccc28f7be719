"""Salesforce connector against a local fake of the REST API's SOQL resources."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from c360.connectors.base import Batch
from c360.connectors.registry import make_connector
from c360.connectors.salesforce import SalesforceConnector, SalesforceOptions
from c360.core.errors import TerminalSourceError, TransientSourceError
from tests.connectors.fakes.salesforce import TOKEN, SalesforceFake, stamp
from tests.connectors.httpfake import FakeServer, serve


def _fake() -> SalesforceFake:
    fake = SalesforceFake(page_size=2)
    for i in range(1, 7):
        fake.put(
            "Account",
            f"001A{i:011d}",
            i,
            Name=f"Account {i}",
            Website=f"https://a{i}.example",
            BillingPostalCode=f"SW1A {i}AA",
        )
    # Same SystemModstamp as Account 6: keyset order must keep both.
    fake.put("Account", "001A00000000007", 6, Name="Account 7")
    fake.put("Account", None, 7, Name="No Id")
    fake.put(
        "Contact", "003C00000000001", 1, Email="ada@acme.example", LastName="Lovelace", AccountId="001A00000000001"
    )
    return fake


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with serve(_fake()) as srv:
        yield srv


def _fake_of(server: FakeServer) -> SalesforceFake:
    assert isinstance(server.handler, SalesforceFake)
    return server.handler


def _conn(url: str, **kw: Any) -> SalesforceConnector:
    http = {"sleep": kw.pop("sleep", lambda _s: None), "backoff": kw.pop("backoff", 0.0)}
    if "max_retries" in kw:
        http["max_retries"] = kw.pop("max_retries")
    return SalesforceConnector(SalesforceOptions(instance_url=url, access_token=TOKEN, **kw), **http)


def _keys(batches: list[Batch]) -> list[tuple[str, bool]]:
    return [(r.key, r.deleted) for b in batches for r in b.records]


def test_full_read_pages_with_next_records_url(server: FakeServer) -> None:
    conn = _conn(server.url)
    batches = list(conn.read("Account", key="Id"))
    assert len(batches) == 4  # 8 rows, 2 per page
    assert _keys(batches) == [(f"001A{i:011d}", False) for i in range(1, 8)]
    assert _fake_of(server).queries[0] == ("query", "SELECT COUNT() FROM Account")  # bulk: auto
    resource, soql = _fake_of(server).queries[1]
    assert resource == "query"
    assert soql.startswith(
        "SELECT Id, IsDeleted, Name, Website, BillingPostalCode, SystemModstamp FROM Account"
    )  # base64 Logo left out
    assert soql.endswith("ORDER BY SystemModstamp, Id")
    more = [r.path for r in server.requests if re.search(r"/query/\w+-\d+$", r.path)]
    assert len(more) == 3
    data = batches[0].records[0].data
    assert data["attributes"]["type"] == "Account" and data["Name"] == "Account 1"
    bad = [q for b in batches for q in b.quarantined]
    assert len(bad) == 1 and "missing key 'Id'" in bad[0].reason and "No Id" in bad[0].raw
    assert json.loads(batches[-1].cursor or "") == [stamp(6), "001A00000000007"]
    assert json.loads(batches[0].cursor or "") == [stamp(2), "001A00000000002"]


def test_incremental_uses_query_all_and_emits_tombstones(server: FakeServer) -> None:
    fake = _fake_of(server)
    conn = _conn(server.url)
    cursor = list(conn.read("Account", key="Id"))[-1].cursor
    fake.put("Account", "001A00000000002", 20, Name="Account 2 renamed")
    fake.delete("Account", "001A00000000004", 21)
    fake.put("Account", "001A00000000009", 22, Name="Account 9")
    batches = list(conn.read("Account", key="Id", since=cursor))
    assert _keys(batches) == [("001A00000000002", False), ("001A00000000004", True), ("001A00000000009", False)]
    resource, soql = fake.queries[-1]
    assert resource == "queryAll"
    assert (f"WHERE SystemModstamp > {stamp(6)} OR (SystemModstamp = {stamp(6)} AND Id > '001A00000000007')") in soql
    assert batches[0].records[0].data["Name"] == "Account 2 renamed"
    # Resuming from a mid-read cursor neither skips nor repeats rows that share a stamp.
    mid = json.dumps([stamp(6), "001A00000000006"])
    assert [k for k, _ in _keys(list(conn.read("Account", key="Id", since=mid)))][:1] == ["001A00000000007"]


def test_429_with_retry_after_is_retried(server: FakeServer) -> None:
    waits: list[float] = []
    _fake_of(server).fail_next(
        429,
        [{"message": "slow down", "errorCode": "REQUEST_LIMIT"}],
        headers={"Retry-After": "4"},
        path_contains="/query",
    )
    assert len(_keys(list(_conn(server.url, sleep=waits.append).read("Account", key="Id")))) == 7
    assert waits == [4.0]


def test_request_limit_exceeded_403_is_transient(server: FakeServer) -> None:
    fake = _fake_of(server)
    waits: list[float] = []
    fake.fail_next(
        403,
        [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}],
        path_contains="/query",
    )
    conn = _conn(server.url, sleep=waits.append, backoff=1.0)
    assert len(_keys(list(conn.read("Account", key="Id")))) == 7
    assert waits == [1.0]
    fake.fail_next(403, [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}], times=5)
    with pytest.raises(TransientSourceError, match="REQUEST_LIMIT_EXCEEDED"):
        _conn(server.url, max_retries=2).check()


def test_request_limit_exceeded_honours_retry_after(server: FakeServer) -> None:
    """Issue #17: a 429 REQUEST_LIMIT_EXCEEDED asking for 10 s was retried after 0.5 s."""
    fake = _fake_of(server)
    waits: list[float] = []
    limit = [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
    fake.fail_next(429, limit, headers={"Retry-After": "10"}, path_contains="/query")
    fake.fail_next(403, limit, headers={"Retry-After": "7"}, path_contains="/query")
    conn = _conn(server.url, sleep=waits.append, backoff=0.5)
    assert len(_keys(list(conn.read("Account", key="Id")))) == 7
    assert waits == [10.0, 7.0]
    # A day-long Retry-After is capped by the client's max_wait, not slept in full.
    fake.fail_next(429, limit, headers={"Retry-After": "86400"}, path_contains="/query")
    waits.clear()
    list(_conn(server.url, sleep=waits.append).read("Account", key="Id"))
    assert waits == [60.0]


def test_final_request_limit_error_says_it_gave_up_and_what_next(server: FakeServer) -> None:
    limit = [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
    _fake_of(server).fail_next(403, limit, times=10)
    waits: list[float] = []
    with pytest.raises(TransientSourceError) as info:
        _conn(server.url, max_retries=2, sleep=waits.append).check()
    message = str(info.value)
    assert len(waits) == 2
    assert "will retry" not in message
    assert "REQUEST_LIMIT_EXCEEDED" in message and "gave up after 3 attempts" in message
    assert "wait for the limit window" in message and "lower concurrency" in message


def test_final_server_error_says_it_gave_up_and_what_next(server: FakeServer) -> None:
    _fake_of(server).fail_next(503, "Service Unavailable", times=10)
    with pytest.raises(TransientSourceError) as info:
        _conn(server.url, max_retries=1).check()
    assert "answered 503" in str(info.value) and "gave up after 2 attempts" in str(info.value)
    assert "status page" in str(info.value)


def test_5xx_is_retried(server: FakeServer) -> None:
    waits: list[float] = []
    _fake_of(server).fail_next(503, "Service Unavailable", path_contains="/query", times=2)
    conn = _conn(server.url, sleep=waits.append, backoff=0.5)
    assert len(_keys(list(conn.read("Account", key="Id")))) == 7
    assert waits == [0.5, 1.0]


def test_401_invalid_session_is_terminal(server: FakeServer) -> None:
    conn = SalesforceConnector(SalesforceOptions(instance_url=server.url, access_token="00Dbad!expired"))
    with pytest.raises(TerminalSourceError) as info:
        conn.check()
    message = str(info.value)
    assert "INVALID_SESSION_ID" in message and "fresh" in message and "401" in message
    assert "00Dbad!expired" not in message and "00Dbad!expired" not in repr(conn.options)


def test_unknown_field_is_terminal_with_hint(server: FakeServer) -> None:
    conn = _conn(server.url, fields=["Name", "Nmae"])
    with pytest.raises(TerminalSourceError, match=r"INVALID_FIELD.*'fields' option"):
        list(conn.read("Account", key="Id"))


def test_lookup_by_ids(server: FakeServer) -> None:
    conn = _conn(server.url, fields=["Name"])
    found = conn.lookup("Account", key="Id", keys=["001A00000000003", "001A00000000005", "001Xmissing", "o'brien"])
    assert sorted(r.key for r in found) == ["001A00000000003", "001A00000000005"]
    soql = _fake_of(server).queries[-1][1]
    assert soql.startswith("SELECT Name, Id FROM Account WHERE Id IN (")
    assert "'o\\'brien'" in soql
    assert conn.lookup("Account", key="Id", keys=[]) == []


def test_discover(server: FakeServer, tmp_path: Path) -> None:
    conn = make_connector("salesforce", {"instance_url": server.url, "access_token": TOKEN}, base_dir=tmp_path)
    assert [s.name for s in conn.discover()] == ["Account", "Contact", "Opportunity", "Case"]
    described = _conn(server.url, objects=["Contact"]).discover()
    assert [c.name for c in described[0].columns] == [
        "Id",
        "IsDeleted",
        "AccountId",
        "Email",
        "LastName",
        "SystemModstamp",
    ]
    assert described[0].cursor_field == "SystemModstamp" and described[0].key == "Id"


def test_options_and_bad_cursor(server: FakeServer) -> None:
    with pytest.raises(ValidationError, match="API version"):
        SalesforceOptions(instance_url=server.url, access_token=TOKEN, api_version="latest")
    assert SalesforceOptions(instance_url="x", access_token=TOKEN, api_version="v60.0").api_version == "60.0"
    with pytest.raises(TerminalSourceError, match="cannot resume"):
        list(_conn(server.url).read("Account", key="Id", since="yesterday"))
    with pytest.raises(TerminalSourceError, match="not a valid object"):
        list(_conn(server.url).read("Account; DROP", key="Id"))
