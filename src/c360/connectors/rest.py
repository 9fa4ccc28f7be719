"""A declarative REST connector: streams, pagination, auth and incremental reads from options.

::

    connector: rest
    base_url: https://api.example.com/v1
    auth: {type: bearer, token: "${EXAMPLE_TOKEN}"}
    pagination: {type: cursor, cursor_param: after, cursor_path: next, has_more_path: has_more}
    incremental: {param: updated_since, cursor_field: updated_at}
    deleted_field: deleted
    lookup: {path: "/customers/{key}"}
    streams:
      customers: {path: /customers, records_path: data, params: {expand: owner}}

Pagination types: ``cursor`` (next cursor read from the body), ``offset``
(limit/offset), ``page`` (page number and size) and ``link_header`` (RFC 5988
``Link: <url>; rel="next"``). With ``incremental``, the largest ``cursor_field``
seen becomes the cursor and is sent as ``param`` on the next read. APIs do not
promise to return records in cursor order, so the cursor only moves forward
with the last batch of a read; earlier batches carry the cursor the read
started from (re-reading is harmless: staging drops unchanged records).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal
from urllib.parse import quote

import httpx
from pydantic import Field, SecretStr, model_validator

from c360.connectors.base import (
    DEFAULT_BATCH_SIZE,
    Batch,
    Column,
    ConnectorOptions,
    OptionGroup,
    Quarantined,
    Record,
    StreamInfo,
    get_path,
    record_key,
)
from c360.connectors.http import HttpOptions, source_http
from c360.core.errors import TerminalSourceError
from c360.core.jsonutil import dumps


class RestStream(OptionGroup):
    path: str
    records_path: str = ""  # dotted path to the array; "" when the body is the array
    key: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)


class Pagination(OptionGroup):
    type: Literal["none", "cursor", "offset", "page", "link_header"] = "none"
    # cursor
    cursor_param: str = "cursor"
    cursor_path: str = "next_cursor"
    has_more_path: str | None = None
    # offset
    limit_param: str = "limit"
    offset_param: str = "offset"
    limit: int = 100
    # page
    page_param: str = "page"
    size_param: str = "per_page"
    size: int = 100
    first_page: int = 1


class Auth(OptionGroup):
    type: Literal["bearer", "basic", "api_key_header", "api_key_query"]
    token: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None
    header: str = "X-API-Key"
    param: str = "api_key"

    @model_validator(mode="after")
    def _complete(self) -> Auth:
        if self.type == "basic" and (self.username is None or self.password is None):
            raise ValueError("basic auth needs 'username' and 'password'")
        if self.type != "basic" and self.token is None:
            raise ValueError(f"{self.type} auth needs 'token'")
        return self


class Incremental(OptionGroup):
    param: str
    cursor_field: str


class Lookup(OptionGroup):
    path: str  # e.g. "/customers/{key}"
    record_path: str = ""  # dotted path to the record in the body; "" when the body is it


class RestOptions(HttpOptions):
    base_url: str
    streams: dict[str, RestStream]
    pagination: Pagination = Pagination()
    auth: Auth | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    incremental: Incremental | None = None
    deleted_field: str | None = None
    lookup: Lookup | None = None
    backoff: float = 0.5


def cursor_after(a: Any, b: Any) -> bool:
    """Whether cursor value ``a`` comes after ``b`` (numbers numerically, else as text)."""
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a > b
    return str(a) > str(b)


class HighWater:
    """The largest cursor value a read has seen, handed out with the read's last batch.

    >>> mark = HighWater("2026-05-01")
    >>> for value in ("2026-05-03", None, "2026-05-02"):
    ...     mark.see(value)
    >>> mark.cursor(), HighWater("2026-05-01").cursor()
    ('2026-05-03', '2026-05-01')
    """

    def __init__(self, since: str | None) -> None:
        self.since = since
        self.top: Any = None

    def see(self, value: Any) -> None:
        if value is not None and (self.top is None or cursor_after(value, self.top)):
            self.top = value

    def cursor(self) -> str | None:
        """The highest value seen when it is past ``since``, else ``since``."""
        if self.top is not None and (self.since is None or cursor_after(self.top, self.since)):
            return str(self.top)
        return self.since


def _column_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return "string"


def infer_columns(rows: Sequence[dict[str, Any]]) -> tuple[Column, ...]:
    """Columns in first-seen order, typed by the first non-null value."""
    types: dict[str, str] = {}
    for row in rows:
        for name, value in row.items():
            if types.get(name, "null") == "null":
                types[name] = "null" if value is None else _column_type(value)
    return tuple(Column(n, "string" if t == "null" else t) for n, t in types.items())


class RestConnector:
    """Reads any paginated JSON API described by :class:`RestOptions`."""

    name: ClassVar[str] = "rest"
    Options: ClassVar[type[ConnectorOptions]] = RestOptions

    def __init__(
        self, options: ConnectorOptions, *, base_dir: Path = Path("."), sleep: Callable[[float], None] = time.sleep
    ) -> None:
        assert isinstance(options, RestOptions)
        self.options = options
        headers = dict(options.headers)
        auth: tuple[str, str] | None = None
        self._auth_params: dict[str, str] = {}
        a = options.auth
        if a is not None:
            secret = a.token.get_secret_value() if a.token else ""
            if a.type == "bearer":
                headers["Authorization"] = f"Bearer {secret}"
            elif a.type == "basic":
                assert a.username is not None and a.password is not None
                auth = (a.username, a.password.get_secret_value())
            elif a.type == "api_key_header":
                headers[a.header] = secret
            else:
                self._auth_params[a.param] = secret
        self.http = source_http(
            self.name, options.base_url, options, headers=headers, auth=auth, backoff=options.backoff, sleep=sleep
        )

    # -- protocol ---------------------------------------------------------------
    def check(self) -> None:
        for stream in self.options.streams:
            next(self._pages(stream, None), None)
            return

    def discover(self) -> list[StreamInfo]:
        out = []
        inc = self.options.incremental
        for name, spec in self.options.streams.items():
            _, items = next(self._pages(name, None), ("", []))
            rows = [r for r in items[:50] if isinstance(r, dict)]
            out.append(StreamInfo(name, infer_columns(rows), spec.key, inc.cursor_field if inc else None))
        return out

    def read(
        self, stream: str, *, key: str, since: str | None = None, batch_size: int = DEFAULT_BATCH_SIZE
    ) -> Iterator[Batch]:
        inc = self.options.incremental
        mark = HighWater(since)
        records: list[Record] = []
        bad: list[Quarantined] = []
        for where, items in self._pages(stream, since):
            for i, item in enumerate(items):
                rec = self._record(item, key, f"{where} item {i}", bad)
                if rec is None:
                    continue
                records.append(rec)
                if inc is not None:
                    mark.see(get_path(rec.data, inc.cursor_field))
                if len(records) + len(bad) >= batch_size:
                    yield Batch(records, since, bad)
                    records, bad = [], []
        yield Batch(records, mark.cursor() if inc is not None else None, bad)

    def lookup(self, stream: str, *, key: str, keys: Sequence[str]) -> list[Record]:
        spec = self._stream(stream)
        lk = self.options.lookup
        if lk is None:
            raise TerminalSourceError(
                self.name,
                f"stream '{stream}' has no live lookup; set 'lookup: {{path: ...}}' "
                "with a '{key}' placeholder, e.g. '/customers/{key}'",
            )
        out: list[Record] = []
        for k in keys:
            path = lk.path.replace("{key}", quote(k, safe=""))
            try:
                body = self.http.get(path, params={**spec.params, **self._auth_params}).json()
            except TerminalSourceError as exc:
                if " answered 404" in str(exc):
                    continue  # that key does not exist (any more) at the source
                raise
            data = get_path(body, lk.record_path) if lk.record_path else body
            if not isinstance(data, dict):
                continue
            dk = self.options.deleted_field
            out.append(Record(record_key(data, key) or k, data, bool(dk and get_path(data, dk))))
        return out

    def close(self) -> None:
        self.http.close()

    # -- helpers ----------------------------------------------------------------
    def _stream(self, stream: str) -> RestStream:
        try:
            return self.options.streams[stream]
        except KeyError:
            known = ", ".join(self.options.streams) or "none"
            raise TerminalSourceError(self.name, f"no stream '{stream}' configured (configured: {known})") from None

    def _record(self, item: Any, key: str, where: str, bad: list[Quarantined]) -> Record | None:
        if not isinstance(item, dict):
            bad.append(
                Quarantined(where, f"expected an object, found {type(item).__name__}", dumps(item).decode()[:500])
            )
            return None
        k = record_key(item, key)
        if k is None:
            bad.append(Quarantined(where, f"missing key '{key}'", dumps(item).decode()[:500]))
            return None
        df = self.options.deleted_field
        return Record(k, item, bool(df and get_path(item, df)))

    def _pages(self, stream: str, since: str | None) -> Iterator[tuple[str, list[Any]]]:
        """Each page's location (for quarantine) and its raw items, following the pagination."""
        spec = self._stream(stream)
        pg = self.options.pagination
        query: dict[str, Any] = {**spec.params, **self._auth_params}
        inc = self.options.incremental
        if inc is not None and since is not None:
            query[inc.param] = since
        params = httpx.QueryParams(query)
        url = spec.path
        offset, page, cursor = 0, pg.first_page, None
        number = 1
        while True:
            extra: dict[str, Any] = {}
            if pg.type == "cursor" and cursor is not None:
                extra[pg.cursor_param] = cursor
            elif pg.type == "offset":
                extra = {pg.limit_param: pg.limit, pg.offset_param: offset}
            elif pg.type == "page":
                extra = {pg.page_param: page, pg.size_param: pg.size}
            response = self.http.get(url, params=params.merge(extra))
            where = f"GET {httpx.URL(url).path} page {number}"
            try:
                body = response.json()
            except ValueError:
                raise TerminalSourceError(
                    self.name, f"{where}: the answer is not JSON; check 'base_url' and the path"
                ) from None
            items = get_path(body, spec.records_path) if spec.records_path else body
            if items is None:
                items = []
            if not isinstance(items, list):
                raise TerminalSourceError(
                    self.name,
                    f"{where}: '{spec.records_path or '(body)'}' is "
                    f"{type(items).__name__}, not an array; check 'records_path'",
                )
            yield where, items
            number += 1
            if pg.type == "none":
                return
            if pg.type == "cursor":
                nxt = get_path(body, pg.cursor_path) if isinstance(body, dict) else None
                more = get_path(body, pg.has_more_path) if pg.has_more_path else bool(nxt)
                if not more or nxt in (None, ""):
                    return
                if nxt == cursor:
                    raise TerminalSourceError(
                        self.name, f"{where}: the next cursor repeats the last one; check 'cursor_path'"
                    )
                cursor = nxt
            elif pg.type == "offset":
                if len(items) < pg.limit:
                    return
                offset += len(items)
            elif pg.type == "page":
                if len(items) < pg.size:
                    return
                page += 1
            else:
                link = response.links.get("next", {}).get("url")
                if not link:
                    return
                # The next link carries its own query string; only auth travels with it.
                nxt_url = response.url.join(link)
                url = str(nxt_url.copy_with(query=None))
                params = nxt_url.params.merge(self._auth_params)
