"""The declarative REST connector against a local customers API (every pagination style)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from c360.connectors import make_connector
from c360.connectors.rest import RestConnector, RestOptions
from c360.core.errors import TerminalSourceError, TransientSourceError
from tests.connectors.fakes_platform.rest_api import TOKEN, RestApi
from tests.connectors.httpfake import Current, FakeServer, need_fake_server, serve_current


def _customers() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = [
        {"id": f"c{i}", "name": f"Customer {i}", "updated_at": f"2024-01-0{i}T00:00:00Z", "deleted": False}
        for i in range(1, 8)
    ]
    rows.insert(3, {"name": "no key here", "updated_at": "2024-01-01T12:00:00Z"})
    return rows


Api = tuple[RestApi, FakeServer]

STYLES: dict[str, dict[str, Any]] = {
    "cursor": {
        "stream": {"path": "/cursor/customers", "records_path": "data"},
        "pagination": {
            "type": "cursor",
            "cursor_param": "cursor",
            "cursor_path": "next_cursor",
            "has_more_path": "has_more",
        },
    },
    "offset": {
        "stream": {"path": "/offset/customers", "records_path": "results.items"},
        "pagination": {"type": "offset", "limit": 3},
    },
    "page": {
        "stream": {"path": "/page/customers"},
        "pagination": {"type": "page", "page_param": "page", "size_param": "per_page", "size": 3},
    },
    "link_header": {"stream": {"path": "/link/customers"}, "pagination": {"type": "link_header"}},
}


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[Current, FakeServer]]:
    with serve_current() as pair:
        yield pair


@pytest.fixture
def api(server: tuple[Current, FakeServer]) -> tuple[RestApi, FakeServer]:
    current, srv = server
    need_fake_server("fake REST API", srv)
    current.fake = RestApi(_customers(), base_url=srv.url)
    srv.requests.clear()
    return current.fake, srv


def connector(url: str, style: str = "cursor", sleeps: list[float] | None = None, **extra: Any) -> RestConnector:
    opts: dict[str, Any] = {
        "base_url": url,
        "streams": {"customers": STYLES[style]["stream"]},
        "pagination": STYLES[style]["pagination"],
        "auth": {"type": "bearer", "token": TOKEN},
        "incremental": {"param": "updated_since", "cursor_field": "updated_at"},
        "deleted_field": "deleted",
        "lookup": {"path": "/customers/{key}", "record_path": "customer"},
        "backoff": 0.25,
        **extra,
    }
    waits = sleeps if sleeps is not None else []
    return RestConnector(RestOptions.model_validate(opts), base_dir=Path("."), sleep=waits.append)


def read_all(
    conn: RestConnector, since: str | None = None, batch_size: int = 100
) -> tuple[list[Any], list[Any], str | None]:
    records, bad, cursor = [], [], None
    for batch in conn.read("customers", key="id", since=since, batch_size=batch_size):
        records += batch.records
        bad += batch.quarantined
        cursor = batch.cursor
    return records, bad, cursor


@pytest.mark.parametrize("style", list(STYLES))
def test_every_pagination_style_reads_all_pages(api: Api, style: str) -> None:
    _, server = api
    records, bad, cursor = read_all(connector(server.url, style))
    assert [r.key for r in records] == [f"c{i}" for i in range(1, 8)]
    assert records[0].data["name"] == "Customer 1"
    assert not any(r.deleted for r in records)
    # the record without its key is quarantined with the page it came from; the rest arrive
    assert len(bad) == 1
    assert "missing key 'id'" in bad[0].reason
    assert bad[0].location.startswith("GET /")
    assert "no key here" in bad[0].raw
    assert cursor == "2024-01-07T00:00:00Z"
    pages = [r for r in server.requests if r.path.endswith("/customers")]
    assert len(pages) >= 3


def test_pages_split_into_batches_and_cursor_moves_with_last(api: Api) -> None:
    _, server = api
    batches = list(connector(server.url, "offset").read("customers", key="id", batch_size=3))
    assert [len(b.records) + len(b.quarantined) for b in batches[:-1]] == [3, 3]
    assert all(b.cursor is None for b in batches[:-1])
    assert batches[-1].cursor == "2024-01-07T00:00:00Z"


def test_rate_limit_is_retried_after_the_advertised_wait(api: Api) -> None:
    fake, server = api
    sleeps: list[float] = []
    conn = connector(server.url, "cursor", sleeps)
    fake.faults.rate_limit("7")
    records, _, _ = read_all(conn)
    assert sleeps == [7.0]
    assert len(records) == 7


def test_server_errors_are_retried_with_backoff(api: Api) -> None:
    fake, server = api
    sleeps: list[float] = []
    fake.faults.server_error(503)
    fake.faults.server_error(502)
    records, _, _ = read_all(connector(server.url, "page", sleeps))
    assert sleeps == [0.25, 0.5]
    assert len(records) == 7


def test_server_errors_past_the_retry_budget_are_transient(api: Api) -> None:
    fake, server = api
    for _ in range(3):
        fake.faults.server_error(500)
    with pytest.raises(TransientSourceError, match="500"):
        read_all(connector(server.url, "page", max_retries=2))


def test_bad_token_is_terminal_and_says_what_to_fix(api: Api) -> None:
    _, server = api
    conn = connector(server.url, auth={"type": "bearer", "token": "wrong-token"})
    with pytest.raises(TerminalSourceError) as err:
        read_all(conn)
    assert "401" in str(err.value)
    assert "credentials" in str(err.value)
    assert "wrong-token" not in str(err.value)
    assert "wrong-token" not in repr(conn.options)
    with pytest.raises(TerminalSourceError, match="401"):
        conn.check()


@pytest.mark.parametrize(
    "auth",
    [
        {"type": "basic", "username": "svc", "password": TOKEN},
        {"type": "api_key_header", "token": TOKEN, "header": "X-API-Key"},
        {"type": "api_key_query", "token": TOKEN, "param": "api_key"},
    ],
)
def test_other_auth_schemes(api: Api, auth: dict[str, Any]) -> None:
    fake, server = api
    fake.auth = auth["type"]
    records, _, _ = read_all(connector(server.url, "link_header", auth=auth))
    assert len(records) == 7
    wrong = {**auth, **({"password": "nope"} if "password" in auth else {"token": "nope"})}
    with pytest.raises(TerminalSourceError, match="401"):
        read_all(connector(server.url, "link_header", auth=wrong))


@pytest.mark.parametrize("style", ["cursor", "link_header"])
def test_incremental_read_returns_changes_and_tombstones(api: Api, style: str) -> None:
    fake, server = api
    conn = connector(server.url, style)
    _, _, cursor = read_all(conn)
    assert cursor == "2024-01-07T00:00:00Z"
    by_id = {r.get("id"): r for r in fake.customers}
    by_id["c2"].update(name="Customer 2 renamed", updated_at="2024-02-01T00:00:00Z")
    by_id["c5"].update(deleted=True, updated_at="2024-02-02T00:00:00Z")
    records, bad, cursor2 = read_all(conn, since=cursor)
    assert [(r.key, r.deleted) for r in records] == [("c2", False), ("c5", True)]
    assert records[0].data["name"] == "Customer 2 renamed"
    assert bad == []
    assert cursor2 == "2024-02-02T00:00:00Z"
    assert server.requests[-1].arg("updated_since") == cursor
    # nothing changed since: no records, and the cursor stays put
    records, _, cursor3 = read_all(conn, since=cursor2)
    assert records == []
    assert cursor3 == cursor2


def test_lookup_reads_just_those_keys(api: Api) -> None:
    _, server = api
    found = connector(server.url).lookup("customers", key="id", keys=["c3", "missing", "c6"])
    assert [(r.key, r.data["name"]) for r in found] == [("c3", "Customer 3"), ("c6", "Customer 6")]
    assert {r.path for r in server.requests} == {"/customers/c3", "/customers/missing", "/customers/c6"}


def test_lookup_needs_a_configured_path(api: Api) -> None:
    _, server = api
    with pytest.raises(TerminalSourceError, match="lookup"):
        connector(server.url, lookup=None).lookup("customers", key="id", keys=["c1"])


def test_discover_lists_streams_with_sampled_columns(api: Api) -> None:
    _, server = api
    [info] = connector(server.url, "offset").discover()
    assert info.name == "customers"
    assert info.cursor_field == "updated_at"
    assert {(c.name, c.type) for c in info.columns} == {
        ("id", "string"),
        ("name", "string"),
        ("updated_at", "string"),
        ("deleted", "boolean"),
    }


def test_unknown_stream_and_bad_records_path(api: Api) -> None:
    _, server = api
    conn = connector(server.url)
    with pytest.raises(TerminalSourceError, match="no stream 'orders'"):
        list(conn.read("orders", key="id"))
    bad = connector(
        server.url, "offset", streams={"customers": {"path": "/offset/customers", "records_path": "results"}}
    )
    with pytest.raises(TerminalSourceError, match="records_path"):
        read_all(bad)


def test_registry_builds_it_and_options_are_strict(api: Api) -> None:
    _, server = api
    conn = make_connector(
        "rest",
        {
            "base_url": server.url,
            "streams": {"customers": {"path": "/page/customers"}},
            "pagination": {"type": "page", "size": 4},
            "auth": {"type": "bearer", "token": TOKEN},
        },
        base_dir=Path("."),
    )
    batches = list(conn.read("customers", key="id"))
    assert sum(len(b.records) for b in batches) == 7
    assert batches[-1].cursor is None  # not incremental
    conn.close()
    with pytest.raises(ValueError, match="token"):
        RestOptions.model_validate({"base_url": "http://x", "streams": {}, "auth": {"type": "bearer"}})
    with pytest.raises(ValueError, match="pagnation"):
        RestOptions.model_validate({"base_url": "http://x", "streams": {}, "pagnation": {}})
