"""A GraphQL API executed by graphql-core: a relay ``customers`` connection and ``nodes``.

Queries are parsed, validated and executed for real against the schema below;
failures are GraphQL's own (``errors`` with ``path``), plus injected HTTP faults
and a ``THROTTLED`` error in the style of Shopify's cost-based rate limit.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from graphql import build_schema, graphql_sync

from tests.connectors.fakes_platform.common import Faults
from tests.connectors.httpfake import FakeRequest, FakeResponse

TOKEN = "gql-s3cr3t"

SCHEMA = build_schema(
    """
    type Query {
      customers(first: Int!, after: String, updatedSince: String): CustomerConnection!
      nodes(ids: [ID!]!): [Customer]!
    }
    type CustomerConnection { edges: [CustomerEdge!]!  pageInfo: PageInfo! }
    type CustomerEdge { cursor: String!  node: Customer }
    type PageInfo { hasNextPage: Boolean!  endCursor: String }
    type Customer {
      id: ID!
      name: String
      email: String!
      updatedAt: String!
      deleted: Boolean!
    }
    """
)


def _cursor(n: int) -> str:
    return base64.b64encode(f"arrayconnection:{n}".encode()).decode()


def _offset(cursor: str) -> int:
    return int(base64.b64decode(cursor).decode().split(":")[1])


@dataclass
class GraphQLApi:
    customers: list[dict[str, Any]] = field(default_factory=list)
    token: str = TOKEN
    faults: Faults = field(default_factory=Faults)
    throttles: int = 0  # answer this many requests with a THROTTLED error (HTTP 200)
    queries: list[dict[str, Any]] = field(default_factory=list)

    def _connection(
        self, info: Any, first: int, after: str | None = None, updatedSince: str | None = None
    ) -> dict[str, Any]:
        rows = sorted(self.customers, key=lambda r: r["id"])
        rows = [r for r in rows if updatedSince is None or r["updatedAt"] > updatedSince]
        start = _offset(after) + 1 if after else 0
        chunk = rows[start : start + first]
        edges = [{"cursor": _cursor(start + i), "node": r} for i, r in enumerate(chunk)]
        return {
            "edges": edges,
            "pageInfo": {"hasNextPage": start + first < len(rows), "endCursor": edges[-1]["cursor"] if edges else None},
        }

    def _nodes(self, info: Any, ids: list[str]) -> list[dict[str, Any] | None]:
        by_id = {r["id"]: r for r in self.customers}
        return [by_id.get(i) for i in ids]

    def __call__(self, req: FakeRequest) -> FakeResponse:
        fault = self.faults.take()
        if fault is not None:
            return fault
        if req.headers.get("authorization") != f"Bearer {self.token}":
            return FakeResponse(401, {"errors": [{"message": "Invalid API key or access token"}]})
        if req.method != "POST":
            return FakeResponse(405, {"errors": [{"message": "use POST"}]})
        payload = req.json()
        self.queries.append(payload)
        if self.throttles:
            self.throttles -= 1
            return FakeResponse(200, {"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}]})
        result = graphql_sync(
            SCHEMA,
            payload["query"],
            root_value={"customers": self._connection, "nodes": self._nodes},
            variable_values=payload.get("variables"),
        )
        return FakeResponse(200, result.formatted)


def broken_email(info: Any) -> str:
    """A field resolver that fails, so GraphQL nulls that node and reports its path."""
    raise ValueError("email could not be decrypted")
