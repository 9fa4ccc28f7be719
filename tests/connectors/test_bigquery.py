"""The BigQuery connector: google-cloud-bigquery talking to a local BigQuery REST fake."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from c360.connectors import make_connector
from c360.connectors.base import Batch
from c360.core.errors import TerminalSourceError, TransientSourceError
from tests.conftest import need_module
from tests.connectors.httpfake import Current, FakeServer, need_fake_server, serve_current

if TYPE_CHECKING:
    from c360.connectors.bigquery import BigQueryConnector
    from tests.connectors.fakes_platform.bigquery_api import BigQueryApi

SCHEMA = [
    ("id", "INTEGER"),
    ("name", "STRING"),
    ("mrr", "FLOAT"),
    ("active", "BOOLEAN"),
    ("updated_at", "TIMESTAMP"),
    ("deleted_at", "TIMESTAMP"),
]


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[Current, FakeServer]]:
    need_module("google.cloud.bigquery")
    with serve_current() as pair:
        yield pair


Api = tuple["BigQueryApi", FakeServer]


@pytest.fixture
def api(server: tuple[Current, FakeServer]) -> Api:
    from tests.connectors.fakes_platform.bigquery_api import BigQueryApi

    current, srv = server
    need_fake_server("fake BigQuery API", srv)
    fake = BigQueryApi()
    fake.create_table("accounts", SCHEMA)
    fake.create_table("plans", [("code", "STRING")])
    for i in range(1, 8):
        fake.execute(
            "INSERT INTO accounts VALUES (?, ?, ?, ?, ?, NULL)",
            [i, f"Account {i}", i * 10.5, i % 2 == 0, f"2024-01-0{i} 00:00:00+00"],
        )
    # same updated_at as account 7: keyset paging must neither skip nor repeat it
    fake.execute("INSERT INTO accounts VALUES (8, 'Account 8', 1.0, true, '2024-01-07 00:00:00+00', NULL)")
    fake.execute("INSERT INTO accounts VALUES (NULL, 'No key', 0.0, false, '2024-01-03 12:00:00+00', NULL)")
    current.fake = fake
    srv.requests.clear()
    return fake, srv


def connector(api: Api, **extra: Any) -> BigQueryConnector:
    from c360.connectors.bigquery import BigQueryConnector, BigQueryOptions

    opts = {
        "project": "acme",
        "dataset": "product",
        "cursor_column": "updated_at",
        "deleted_column": "deleted_at",
        "api_endpoint": api[1].url,
        "anonymous": True,
        "retry_initial_delay": 0.01,
        "retry_deadline": 5.0,
        **extra,
    }
    return BigQueryConnector(BigQueryOptions.model_validate(opts), base_dir=Path("."))


def read_all(conn: BigQueryConnector, since: str | None = None, batch_size: int = 3) -> list[Batch]:
    return list(conn.read("accounts", key="id", since=since, batch_size=batch_size))


def test_full_read_pages_through_query_results(api: Api) -> None:
    fake, srv = api
    batches = read_all(connector(api))
    records = [r for b in batches for r in b.records]
    assert [r.key for r in records] == [str(i) for i in range(1, 9)]
    assert records[1].data == {
        "id": 2,
        "name": "Account 2",
        "mrr": 21.0,
        "active": True,
        "updated_at": "2024-01-02T00:00:00+00:00",
        "deleted_at": None,
    }
    [bad] = [q for b in batches for q in b.quarantined]
    assert bad.reason == "missing key 'id'" and "No key" in bad.raw
    assert bad.location == "`acme.product.accounts` row 4"
    assert len(batches) == 3  # 9 rows in pages of 3
    assert json.loads(batches[0].cursor or "") == ["2024-01-03T00:00:00+00:00", 3]
    assert json.loads(batches[-1].cursor or "") == ["2024-01-07T00:00:00+00:00", 8]
    tokens = [r.arg("pageToken") for r in srv.requests if "/queries/" in r.path]
    assert tokens == [None, "3", "6"]
    assert "ORDER BY" in fake.queries[0]


def test_incremental_read_returns_changes_and_tombstones(api: Api) -> None:
    fake, _ = api
    conn = connector(api)
    cursor = read_all(conn)[-1].cursor
    fake.execute("UPDATE accounts SET name = 'Renamed', updated_at = '2024-02-01 00:00:00+00' WHERE id = 2")
    fake.execute(
        "UPDATE accounts SET deleted_at = '2024-02-02 00:00:00+00', updated_at = '2024-02-02 00:00:00+00' WHERE id = 5"
    )
    fake.execute("INSERT INTO accounts VALUES (9, 'Account 9', 1.0, true, '2024-01-07 00:00:00+00', NULL)")
    batches = read_all(conn, since=cursor)
    records = [r for b in batches for r in b.records]
    assert [(r.key, r.deleted) for r in records] == [("9", False), ("2", False), ("5", True)]
    assert records[1].data["name"] == "Renamed"
    assert json.loads(batches[-1].cursor or "") == ["2024-02-02T00:00:00+00:00", 5]
    again = read_all(conn, since=batches[-1].cursor)
    assert [r for b in again for r in b.records] == []


def test_rate_limits_and_server_errors_are_retried(api: Api) -> None:
    fake, _ = api
    fake.rate_limit()
    fake.server_error(503)
    records = [r for b in read_all(connector(api)) for r in b.records]
    assert len(records) == 8
    paths = [(r.method, r.path) for r in api[1].requests]
    # the first call (tables.get for the schema) was answered 429, then 503, then served
    table = ("GET", "/bigquery/v2/projects/acme/datasets/product/tables/accounts")
    assert paths[:3] == [table, table, table]


def test_errors_past_the_retry_deadline_are_transient(api: Api) -> None:
    fake, _ = api
    for _ in range(200):
        fake.server_error(500)
    with pytest.raises(TransientSourceError):
        read_all(connector(api, retry_deadline=0.2))


def test_rejected_credentials_are_terminal(api: Api) -> None:
    fake, _ = api
    fake.reject_credentials = True
    with pytest.raises(TerminalSourceError, match="credentials were rejected"):
        connector(api).check()
    fake.reject_credentials, fake.deny_access = False, True
    with pytest.raises(TerminalSourceError, match=r"403.*grant it BigQuery Data Viewer"):
        read_all(connector(api))


def test_missing_table_and_column_are_terminal(api: Api) -> None:
    conn = connector(api)
    with pytest.raises(TerminalSourceError, match=r"404.*Not found: Table"):
        list(conn.read("nope", key="id"))
    with pytest.raises(TerminalSourceError, match="has no column 'account_id'"):
        list(conn.read("accounts", key="account_id"))


def test_lookup_by_keys(api: Api) -> None:
    fake, _ = api
    found = connector(api).lookup("accounts", key="id", keys=["3", "42", "8"])
    assert sorted((r.key, r.data["name"]) for r in found) == [("3", "Account 3"), ("8", "Account 8")]
    # the keys travelled as an ARRAY<STRING> query parameter, bound by the fake
    assert "['3', '42', '8']" in fake.queries[-1]


def test_discover_and_check(api: Api) -> None:
    conn = connector(api)
    conn.check()
    infos = {s.name: s for s in conn.discover()}
    assert set(infos) == {"accounts", "plans"}
    assert [(c.name, c.type) for c in infos["accounts"].columns] == list(SCHEMA)
    assert infos["accounts"].cursor_field == "updated_at"


def test_full_read_without_cursor_column_and_registry(api: Api) -> None:
    conn = make_connector(
        "bigquery",
        {"project": "acme", "dataset": "product", "api_endpoint": api[1].url, "anonymous": True},
        base_dir=Path("."),
    )
    batches = list(conn.read("accounts", key="id", batch_size=100))
    assert [r.key for b in batches for r in b.records] == [str(i) for i in range(1, 9)]
    assert all(b.cursor is None for b in batches)
    conn.close()
