"""The GraphQL connector against a local server that executes queries with graphql-core."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from c360.connectors import make_connector
from c360.connectors.base import Batch
from c360.connectors.graphql import GraphQLConnector, GraphQLOptions, build_query
from c360.core.errors import TerminalSourceError, TransientSourceError
from tests.conftest import need_module
from tests.connectors.httpfake import Current, FakeServer, need_fake_server, serve_current

if TYPE_CHECKING:
    from tests.connectors.fakes_platform.graphql_api import GraphQLApi

TOKEN = "gql-s3cr3t"
FIELDS = ["id", "name", "email", "updatedAt", "deleted"]
LOOKUP = "query Lookup($ids: [ID!]!) { nodes(ids: $ids) { id name email updatedAt deleted } }"


def _customers(broken_email: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = [
        {
            "id": f"c{i}",
            "name": f"Customer {i}",
            "email": f"c{i}@example.com",
            "updatedAt": f"2024-01-0{i}T00:00:00Z",
            "deleted": False,
        }
        for i in range(1, 8)
    ]
    rows[3]["email"] = broken_email  # c4 cannot be resolved: GraphQL nulls it with an error
    return rows


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[Current, FakeServer]]:
    with serve_current() as pair:
        yield pair


Api = tuple["GraphQLApi", FakeServer]


@pytest.fixture
def api(server: tuple[Current, FakeServer]) -> Api:
    current, srv = server
    need_fake_server("fake GraphQL API", srv)
    need_module("graphql")  # the fake executes queries with graphql-core
    from tests.connectors.fakes_platform.graphql_api import GraphQLApi, broken_email

    current.fake = GraphQLApi(_customers(broken_email), token=TOKEN)
    srv.requests.clear()
    return current.fake, srv


def connector(url: str, sleeps: list[float] | None = None, **extra: Any) -> GraphQLConnector:
    opts: dict[str, Any] = {
        "url": url + "/graphql",
        "connection": "customers",
        "fields": FIELDS,
        "page_size": 2,
        "auth_token": TOKEN,
        "incremental": {"argument": "updatedSince", "cursor_field": "updatedAt"},
        "deleted_field": "deleted",
        "lookup": {"query": LOOKUP},
        "backoff": 0.25,
        **extra,
    }
    waits = sleeps if sleeps is not None else []
    return GraphQLConnector(GraphQLOptions.model_validate(opts), sleep=waits.append)


def read_all(conn: GraphQLConnector, since: str | None = None) -> list[Batch]:
    return list(conn.read("customers", key="id", since=since, batch_size=100))


def test_full_read_pages_through_the_connection(api: Api) -> None:
    fake, _ = api
    batches = read_all(connector(_url(api)))
    records = [r for b in batches for r in b.records]
    assert [r.key for r in records] == ["c1", "c2", "c3", "c5", "c6", "c7"]
    assert records[0].data == {
        "id": "c1",
        "name": "Customer 1",
        "email": "c1@example.com",
        "updatedAt": "2024-01-01T00:00:00Z",
        "deleted": False,
    }
    # four pages of two, each asking after the previous page's endCursor
    afters = [q["variables"]["after"] for q in fake.queries]
    assert len(afters) == 4
    assert afters[0] is None
    assert len(set(afters)) == 4
    assert batches[-1].cursor == "2024-01-07T00:00:00Z"


def test_node_with_a_field_error_is_quarantined_and_the_page_kept(api: Api) -> None:
    batches = read_all(connector(_url(api)))
    bad = [q for b in batches for q in b.quarantined]
    assert len(bad) == 1
    assert bad[0].location == "customers page 2 edge 1"
    assert "email could not be decrypted" in bad[0].reason
    assert sum(len(b.records) for b in batches) == 6


def test_custom_query_and_connection_path(api: Api) -> None:
    query = (
        "query Custom($first: Int!, $after: String, $since: String) {"
        " customers(first: $first, after: $after, updatedSince: $since) {"
        " edges { cursor node { id name updatedAt deleted } }"
        " pageInfo { hasNextPage endCursor } } }"
    )
    conn = connector(
        _url(api),
        connection=None,
        fields=[],
        query=query,
        connection_path="data.customers",
        stream="customers",
        incremental={"cursor_field": "updatedAt"},
    )
    records = [r for b in read_all(conn) for r in b.records]
    assert [r.key for r in records] == [f"c{i}" for i in range(1, 8)]  # no email: c4 is fine


def test_graphql_errors_are_terminal_with_the_message(api: Api) -> None:
    conn = connector(_url(api), fields=["id", "nickname"])
    with pytest.raises(TerminalSourceError, match="Cannot query field 'nickname'"):
        read_all(conn)


def test_throttled_errors_are_retried_then_transient(api: Api) -> None:
    fake, _ = api
    sleeps: list[float] = []
    fake.throttles = 2
    records = [r for b in read_all(connector(_url(api), sleeps)) for r in b.records]
    assert len(records) == 6
    assert sleeps == [0.25, 0.5]
    fake.throttles = 10
    with pytest.raises(TransientSourceError, match="Throttled"):
        read_all(connector(_url(api), max_retries=1))


def test_http_rate_limit_and_server_errors_are_retried(api: Api) -> None:
    fake, _ = api
    sleeps: list[float] = []
    fake.faults.rate_limit("3")
    fake.faults.server_error(502)
    records = [r for b in read_all(connector(_url(api), sleeps)) for r in b.records]
    assert len(records) == 6
    assert sleeps == [3.0, 0.5]


def test_bad_token_is_terminal(api: Api) -> None:
    conn = connector(_url(api), auth_token="not-the-token")
    with pytest.raises(TerminalSourceError) as err:
        read_all(conn)
    assert "401" in str(err.value) and "credentials" in str(err.value)
    assert "not-the-token" not in str(err.value) + repr(conn.options)


def test_incremental_read_returns_changes_and_tombstones(api: Api) -> None:
    fake, _ = api
    conn = connector(_url(api))
    cursor = read_all(conn)[-1].cursor
    assert cursor == "2024-01-07T00:00:00Z"
    by_id = {r["id"]: r for r in fake.customers}
    by_id["c2"].update(name="Renamed", updatedAt="2024-02-01T00:00:00Z")
    by_id["c6"].update(deleted=True, updatedAt="2024-02-03T00:00:00Z")
    batches = read_all(conn, since=cursor)
    records = [r for b in batches for r in b.records]
    assert [(r.key, r.deleted, r.data["name"]) for r in records] == [
        ("c2", False, "Renamed"),
        ("c6", True, "Customer 6"),
    ]
    assert batches[-1].cursor == "2024-02-03T00:00:00Z"
    assert fake.queries[-1]["variables"]["since"] == cursor


def test_lookup_by_keys(api: Api) -> None:
    found = connector(_url(api)).lookup("customers", key="id", keys=["c5", "nope", "c1"])
    assert [(r.key, r.data["email"]) for r in found] == [("c5", "c5@example.com"), ("c1", "c1@example.com")]
    with pytest.raises(TerminalSourceError, match="lookup"):
        connector(_url(api), lookup=None).lookup("customers", key="id", keys=["c1"])


def test_discover_and_check(api: Api) -> None:
    conn = connector(_url(api))
    conn.check()
    [info] = conn.discover()
    assert info.name == "customers"
    assert info.cursor_field == "updatedAt"
    assert [(c.name, c.type) for c in info.columns] == [
        ("id", "string"),
        ("name", "string"),
        ("email", "string"),
        ("updatedAt", "string"),
        ("deleted", "boolean"),
    ]
    with pytest.raises(TerminalSourceError, match="no stream 'orders'"):
        list(conn.read("orders", key="id"))


def test_options_and_registry(api: Api) -> None:
    with pytest.raises(ValueError, match="connection"):
        GraphQLOptions.model_validate({"url": "http://x"})
    assert "updatedSince: $since" in build_query(
        GraphQLOptions(
            url="http://x",
            connection="customers",
            fields=["id"],
            incremental={"argument": "updatedSince", "cursor_field": "updatedAt"},  # type: ignore[arg-type]
        )
    )
    conn = make_connector(
        "graphql",
        {"url": _url(api) + "/graphql", "connection": "customers", "fields": ["id"], "auth_token": TOKEN},
        base_dir=Path("."),
    )
    batches = list(conn.read("customers", key="id"))
    assert sum(len(b.records) for b in batches) == 7
    assert batches[-1].cursor is None


def _url(api: Api) -> str:
    return api[1].url
