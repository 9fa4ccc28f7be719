"""GraphQL sources read through relay-style cursor connections (edges, pageInfo).

::

    connector: graphql
    url: https://api.example.com/graphql
    auth_token: "${EXAMPLE_TOKEN}"
    connection: customers            # or a full `query` using $first, $after (and $since)
    fields: [id, name, email, updatedAt, deleted]
    incremental: {argument: updatedSince, cursor_field: updatedAt}
    deleted_field: deleted
    lookup: {query: "query($ids: [ID!]!) { nodes(ids: $ids) { ... on Customer { id name } } }"}

A page is ``connection_path`` (``data.<connection>`` by default) holding
``edges { cursor node {...} }`` and ``pageInfo { hasNextPage endCursor }``.
GraphQL reports failures in an ``errors`` array, often with HTTP 200: errors
whose ``path`` points inside one edge quarantine that record and the rest of
the page is kept; any other error stops the read, as a Transient error when
the server says it is throttled (retried here with backoff first) and a
Terminal one otherwise. The cursor is the largest ``cursor_field`` seen, handed
out with the last batch (servers need not sort by it).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field, SecretStr, model_validator

from c360.connectors.base import (
    DEFAULT_BATCH_SIZE,
    Batch,
    ConnectorOptions,
    OptionGroup,
    Quarantined,
    Record,
    StreamInfo,
    get_path,
    record_key,
)
from c360.connectors.http import HttpOptions, bearer, source_http
from c360.connectors.rest import HighWater, infer_columns
from c360.core.errors import TerminalSourceError, TransientSourceError
from c360.core.jsonutil import dumps
from c360.core.retry import Backoff, retry

THROTTLED_CODES = frozenset({"THROTTLED", "RATE_LIMITED", "TOO_MANY_REQUESTS"})


class GraphQLIncremental(OptionGroup):
    cursor_field: str
    variable: str = "since"  # the query's variable that receives the cursor
    argument: str | None = None  # generated queries: the connection argument, e.g. updatedSince
    type: str = "String"  # the variable's GraphQL type in generated queries


class GraphQLLookup(OptionGroup):
    query: str  # takes a list of keys in `ids_variable` and returns a list of nodes
    ids_variable: str = "ids"
    path: str = "data.nodes"


class GraphQLOptions(HttpOptions):
    url: str
    stream: str | None = None  # the stream's name; defaults to `connection`
    query: str | None = None
    connection: str | None = None
    fields: list[str] = Field(default_factory=list)
    connection_path: str | None = None
    variables: dict[str, Any] = Field(default_factory=dict)
    page_size: int = 100
    auth_token: SecretStr | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    incremental: GraphQLIncremental | None = None
    deleted_field: str | None = None
    lookup: GraphQLLookup | None = None
    backoff: float = 0.5

    @model_validator(mode="after")
    def _shape(self) -> GraphQLOptions:
        if self.query is None and (self.connection is None or not self.fields):
            raise ValueError("give either 'query', or 'connection' with its 'fields'")
        if self.query is not None and self.connection_path is None and self.connection is None:
            raise ValueError("with a custom 'query', give the connection's 'connection_path'")
        return self


def build_query(options: GraphQLOptions) -> str:
    """The paging query for ``connection`` + ``fields`` (and the incremental argument)."""
    variables = ["$first: Int!", "$after: String"]
    arguments = ["first: $first", "after: $after"]
    inc = options.incremental
    if inc is not None and inc.argument:
        variables.append(f"${inc.variable}: {inc.type}")
        arguments.append(f"{inc.argument}: ${inc.variable}")
    fields = " ".join(options.fields)
    return (
        f"query Page({', '.join(variables)}) {{ {options.connection}({', '.join(arguments)}) "
        f"{{ edges {{ cursor node {{ {fields} }} }} pageInfo {{ hasNextPage endCursor }} }} }}"
    )


class GraphQLConnector:
    """Pages through one relay connection; see the module docstring for the options."""

    name: ClassVar[str] = "graphql"
    Options: ClassVar[type[ConnectorOptions]] = GraphQLOptions

    def __init__(
        self, options: ConnectorOptions, *, base_dir: Path = Path("."), sleep: Callable[[float], None] = time.sleep
    ) -> None:
        assert isinstance(options, GraphQLOptions)
        self.options = options
        self.stream = options.stream or options.connection or "default"
        self.query = options.query or build_query(options)
        self.connection_path = options.connection_path or f"data.{options.connection}"
        headers = dict(options.headers)
        if options.auth_token is not None:
            headers.update(bearer(options.auth_token))
        self._sleep = sleep
        self.http = source_http(self.name, options.url, options, headers=headers, backoff=options.backoff, sleep=sleep)

    # -- protocol ---------------------------------------------------------------
    def check(self) -> None:
        self._execute(self.query, self._variables(None, None, first=1), "check")

    def discover(self) -> list[StreamInfo]:
        _, edges = self._connection(self._variables(None, None, first=50), "discover")
        rows = [e["node"] for e in edges if isinstance(e, dict) and isinstance(e.get("node"), dict)]
        inc = self.options.incremental
        cursor_field = inc.cursor_field if inc else None
        return [StreamInfo(self.stream, infer_columns(rows), None, cursor_field)]

    def read(
        self, stream: str, *, key: str, since: str | None = None, batch_size: int = DEFAULT_BATCH_SIZE
    ) -> Iterator[Batch]:
        self._check_stream(stream)
        inc = self.options.incremental
        mark = HighWater(since)
        records: list[Record] = []
        bad: list[Quarantined] = []
        after: str | None = None
        page = 1
        while True:
            where = f"{self.stream} page {page}"
            (info, edges), broken = self._page(self._variables(after, since), where)
            for i, edge in enumerate(edges):
                at = f"{where} edge {i}"
                node = edge.get("node") if isinstance(edge, dict) else None
                if i in broken or not isinstance(node, dict):
                    reason = broken.get(i, "the edge has no node object")
                    bad.append(Quarantined(at, reason, dumps(edge).decode()[:500]))
                    continue
                k = record_key(node, key)
                if k is None:
                    bad.append(Quarantined(at, f"missing key '{key}'", dumps(node).decode()[:500]))
                    continue
                df = self.options.deleted_field
                records.append(Record(k, node, bool(df and get_path(node, df))))
                if inc is not None:
                    mark.see(get_path(node, inc.cursor_field))
                if len(records) + len(bad) >= batch_size:
                    yield Batch(records, since if inc else None, bad)
                    records, bad = [], []
            end = info.get("endCursor")
            if not info.get("hasNextPage") or not end:
                break
            if end == after:
                raise TerminalSourceError(self.name, f"{where}: pageInfo.endCursor did not advance; the server loops")
            after, page = end, page + 1
        yield Batch(records, mark.cursor() if inc is not None else None, bad)

    def lookup(self, stream: str, *, key: str, keys: Sequence[str]) -> list[Record]:
        self._check_stream(stream)
        lk = self.options.lookup
        if lk is None:
            raise TerminalSourceError(
                self.name,
                "no live lookup configured; set 'lookup: {query: ...}' with a query "
                "taking the keys as $ids, e.g. 'query($ids: [ID!]!) { nodes(ids: $ids) { ... } }'",
            )
        if not keys:
            return []
        body = self._execute(lk.query, {**self.options.variables, lk.ids_variable: list(keys)}, "lookup")
        nodes = get_path(body, lk.path)
        if not isinstance(nodes, list):
            raise TerminalSourceError(self.name, f"lookup: no list at '{lk.path}'; check lookup.path")
        df = self.options.deleted_field
        return [
            Record(k, n, bool(df and get_path(n, df)))
            for n in nodes
            if isinstance(n, dict) and (k := record_key(n, key)) is not None
        ]

    def close(self) -> None:
        self.http.close()

    # -- helpers ----------------------------------------------------------------
    def _check_stream(self, stream: str) -> None:
        if stream not in (self.stream, "default"):
            raise TerminalSourceError(self.name, f"no stream '{stream}'; this source reads '{self.stream}'")

    def _variables(self, after: str | None, since: str | None, first: int | None = None) -> dict[str, Any]:
        variables: dict[str, Any] = {**self.options.variables, "first": first or self.options.page_size, "after": after}
        inc = self.options.incremental
        if inc is not None:
            variables[inc.variable] = since
        return variables

    def _connection(self, variables: dict[str, Any], where: str) -> tuple[dict[str, Any], list[Any]]:
        conn, _ = self._page(variables, where)
        return conn

    def _page(self, variables: dict[str, Any], where: str) -> tuple[tuple[dict[str, Any], list[Any]], dict[int, str]]:
        """The page's pageInfo and edges, and the edges that errors point into (index → reason)."""
        body = self._execute(self.query, variables, where, partial=True)
        broken: dict[int, str] = {}
        prefix = [*self.connection_path.split(".")[1:], "edges"]
        for err in body.get("errors") or []:
            path = err.get("path") if isinstance(err, dict) else None
            if (
                isinstance(path, list)
                and len(path) > len(prefix)
                and [str(p) for p in path[: len(prefix)]] == prefix
                and isinstance(path[len(prefix)], int)
            ):
                broken.setdefault(path[len(prefix)], str(err.get("message", "error")))
            else:
                raise self._error(body["errors"], where)
        conn = get_path(body, self.connection_path)
        if not isinstance(conn, dict):
            raise TerminalSourceError(
                self.name,
                f"{where}: no connection at '{self.connection_path}'; check 'connection' or 'connection_path'",
            )
        edges = conn.get("edges") or []
        info = conn.get("pageInfo") or {}
        if not isinstance(edges, list) or not isinstance(info, dict):
            raise TerminalSourceError(self.name, f"{where}: expected edges and pageInfo at '{self.connection_path}'")
        return (info, edges), broken

    def _execute(self, query: str, variables: dict[str, Any], where: str, *, partial: bool = False) -> dict[str, Any]:
        """POST one query; throttling errors are retried, others raised (or left to the caller)."""

        def once() -> dict[str, Any]:
            response = self.http.post("", json={"query": query, "variables": variables})
            try:
                body = response.json()
            except ValueError:
                raise TerminalSourceError(self.name, f"{where}: the answer is not JSON; check 'url'") from None
            if not isinstance(body, dict):
                raise TerminalSourceError(self.name, f"{where}: the answer is not a GraphQL response")
            errors = body.get("errors")
            if not errors or (partial and body.get("data") is not None and not _throttled(errors)):
                return body
            raise self._error(errors, where)

        return retry(once, Backoff(self.options.max_retries, self.options.backoff, cap=math.inf), sleep=self._sleep)

    def _error(self, errors: Any, where: str) -> TransientSourceError | TerminalSourceError:
        messages = "; ".join(str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors)[:300]
        if _throttled(errors):
            return TransientSourceError(self.name, f"{where}: throttled by the server: {messages}")
        return TerminalSourceError(self.name, f"{where}: the query failed: {messages}")


def _throttled(errors: Any) -> bool:
    for err in errors if isinstance(errors, list) else []:
        if not isinstance(err, dict):
            continue
        code = str(get_path(err, "extensions.code") or "").upper()
        message = str(err.get("message", "")).lower()
        if code in THROTTLED_CODES or "rate limit" in message or "throttl" in message:
            return True
    return False
