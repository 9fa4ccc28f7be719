"""HubSpot CRM objects through the v3 search API (httpx via HttpSource).

Reads use ``POST /crm/v3/objects/{object}/search`` sorted ascending by the object's
last-modified property, filtered ``GTE`` the cursor, paged with ``paging.next.after``.
The cursor is ``{"ts": <epoch ms>, "ids": [ids already read at that instant],
"archived": <epoch ms>}``, so records sharing a timestamp are neither skipped nor
repeated. Search stops paging at 10,000 results; the read then restarts the search
from its own watermark. Archived (deleted) objects come from
``GET /crm/v3/objects/{object}?archived=true`` and arrive as tombstones.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import httpx
from pydantic import SecretStr

from c360.connectors.base import (
    DEFAULT_BATCH_SIZE,
    Batch,
    Column,
    ConnectorOptions,
    Quarantined,
    Record,
    StreamInfo,
)
from c360.connectors.http import HttpOptions, bearer, item_key, json_object, source_http
from c360.core.errors import TerminalSourceError

_SEARCH_WINDOW = 10_000  # search returns at most this many results per query
_PAGE_LIMIT = 100  # maximum page size of search and list
# Contacts name it lastmodifieddate; companies and the other objects hs_lastmodifieddate.
_MODIFIED = {"contacts": "lastmodifieddate"}


class HubSpotOptions(HttpOptions):
    access_token: SecretStr  # a private app's access token
    base_url: str = "https://api.hubapi.com"
    properties: list[str] | None = None  # default: every property of the object
    cursor_property: str | None = None  # default: lastmodifieddate / hs_lastmodifieddate


class HubSpotConnector:
    """Companies, contacts (any CRM object) from HubSpot, incremental by last modification."""

    name: ClassVar[str] = "hubspot"
    Options: ClassVar[type[ConnectorOptions]] = HubSpotOptions
    streams: ClassVar[tuple[str, ...]] = ("companies", "contacts")

    def __init__(self, options: ConnectorOptions, *, base_dir: Path | None = None, **http: Any):
        assert isinstance(options, HubSpotOptions)
        self.options = options
        self.http = source_http(
            "hubspot",
            options.base_url.rstrip("/"),
            options,
            headers={**bearer(options.access_token), "Accept": "application/json"},
            classify=_classify,
            **http,
        )
        self._properties: dict[str, list[str]] = {}

    def check(self) -> None:
        self.http.get("/crm/v3/objects/contacts", params={"limit": 1})

    def discover(self) -> list[StreamInfo]:
        out = []
        for stream in self.streams:
            cols = tuple(Column(name, kind) for name, kind in self._describe(stream))
            out.append(StreamInfo(stream, cols, key="id", cursor_field=self._cursor_prop(stream)))
        return out

    def read(
        self,
        stream: str,
        *,
        key: str,
        since: str | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> Iterator[Batch]:
        prop = self._cursor_prop(stream)
        limit = max(1, min(batch_size, _PAGE_LIMIT))
        state = _State.load(since)
        url = f"/crm/v3/objects/{stream}/search"
        while True:  # one search per window of 10,000 results
            body: dict[str, Any] = {
                "sorts": [{"propertyName": prop, "direction": "ASCENDING"}],
                "properties": self._props(stream),
                "limit": limit,
            }
            if state.ts is not None:
                body["filterGroups"] = [{"filters": [
                    {"propertyName": prop, "operator": "GTE", "value": str(state.ts)}
                ]}]
            window_start = (state.ts, tuple(state.ids))
            after: str | None = None
            page = 0
            while True:
                page += 1
                if after is not None:
                    body["after"] = after
                where = f"POST {url} page {page}"
                answer = json_object("hubspot", self.http.post(url, json=body), where)
                records: list[Record] = []
                bad: list[Quarantined] = []
                for i, item in enumerate(answer.get("results") or []):
                    rec = _record(item, key, f"{where} item {i}", bad)
                    if rec is None:
                        continue
                    ts = _epoch_ms(_prop(item, prop))
                    if ts is None:
                        bad.append(Quarantined(f"{where} item {i}", f"'{prop}' is missing or "
                                               "not a timestamp", json.dumps(item)[:1000]))
                        continue
                    if state.seen(ts, rec.key):
                        continue  # read at the boundary instant by the previous window or sync
                    state.advance(ts, rec.key)
                    records.append(rec)
                after = ((answer.get("paging") or {}).get("next") or {}).get("after")
                yield Batch(records, state.dump(), bad)
                if after is None or (str(after).isdigit() and int(after) >= _SEARCH_WINDOW):
                    break
            if after is None:
                break
            if (state.ts, tuple(state.ids)) == window_start:
                raise TerminalSourceError(
                    "hubspot", f"more than {_SEARCH_WINDOW} {stream} share one '{prop}' value;"
                    " the search API cannot page past them")
        yield from self._archived(stream, key, state, limit)

    def lookup(self, stream: str, *, key: str, keys: Sequence[str]) -> list[Record]:
        if not keys:
            return []
        url = f"/crm/v3/objects/{stream}/batch/read"
        id_property = None if key in ("id", "properties.hs_object_id") else key
        if id_property and id_property.startswith("properties."):
            id_property = id_property[len("properties."):]
        out: list[Record] = []
        for i in range(0, len(keys), 100):  # batch read accepts up to 100 inputs
            body: dict[str, Any] = {
                "inputs": [{"id": str(k)} for k in keys[i : i + 100]],
                "properties": self._props(stream),
            }
            if id_property:
                body["idProperty"] = id_property
            answer = json_object("hubspot", self.http.post(url, json=body), f"POST {url}")
            bad: list[Quarantined] = []
            for j, item in enumerate(answer.get("results") or []):
                rec = _record(item, key, f"POST {url} item {j}", bad)
                if rec is not None:
                    out.append(rec)
        return out

    def close(self) -> None:
        self.http.close()

    # -- helpers ----------------------------------------------------------------
    def _archived(self, stream: str, key: str, state: _State, limit: int) -> Iterator[Batch]:
        url = f"/crm/v3/objects/{stream}"
        params: dict[str, Any] = {"archived": "true", "limit": limit}
        since = state.archived
        newest = since
        page = 0
        while True:
            page += 1
            where = f"GET {url}?archived=true page {page}"
            answer = json_object("hubspot", self.http.get(url, params=params), where)
            records: list[Record] = []
            bad: list[Quarantined] = []
            for i, item in enumerate(answer.get("results") or []):
                rec = _record(item, key, f"{where} item {i}", bad)
                if rec is None:
                    continue
                at = _epoch_ms(item.get("archivedAt"))
                if since is not None and at is not None and at <= since:
                    continue
                if at is not None:
                    newest = at if newest is None else max(newest, at)
                rec.deleted = True
                records.append(rec)
            after = ((answer.get("paging") or {}).get("next") or {}).get("after")
            if after is None:
                state.archived = newest
                yield Batch(records, state.dump(), bad)
                return
            params["after"] = after
            if records or bad:
                yield Batch(records, state.dump(), bad)

    def _cursor_prop(self, stream: str) -> str:
        return self.options.cursor_property or _MODIFIED.get(stream, "hs_lastmodifieddate")

    def _describe(self, stream: str) -> list[tuple[str, str]]:
        url = f"/crm/v3/properties/{stream}"
        answer = json_object("hubspot", self.http.get(url), f"GET {url}")
        return [(str(p["name"]), str(p.get("type", "string")))
                for p in answer.get("results") or [] if isinstance(p, dict) and "name" in p]

    def _props(self, stream: str) -> list[str]:
        if self.options.properties is not None:
            props = list(self.options.properties)
        else:
            if stream not in self._properties:
                self._properties[stream] = [name for name, _ in self._describe(stream)]
            props = list(self._properties[stream])
        prop = self._cursor_prop(stream)
        return props if prop in props else [*props, prop]


class _State:
    """The read position: last timestamp, ids read at it, and the archived watermark."""

    def __init__(self, ts: int | None, ids: list[str], archived: int | None) -> None:
        self.ts, self.ids, self.archived = ts, ids, archived

    @classmethod
    def load(cls, since: str | None) -> _State:
        if not since:
            return cls(None, [], None)
        try:
            raw = json.loads(since)
            return cls(raw.get("ts"), [str(i) for i in raw.get("ids", [])], raw.get("archived"))
        except (ValueError, AttributeError):
            raise TerminalSourceError(
                "hubspot", f"cannot resume from cursor {since[:80]!r}: not a HubSpot cursor"
            ) from None

    def seen(self, ts: int, key: str) -> bool:
        return self.ts is not None and (ts < self.ts or (ts == self.ts and key in self.ids))

    def advance(self, ts: int, key: str) -> None:
        if self.ts != ts:
            self.ts, self.ids = ts, []
        self.ids.append(key)

    def dump(self) -> str:
        return json.dumps({"ts": self.ts, "ids": self.ids, "archived": self.archived})


def _record(item: Any, key: str, location: str, bad: list[Quarantined]) -> Record | None:
    k = item_key(item, key, location, bad)
    if k is None:
        return None
    return Record(k, item, bool(item.get("archived")))


def _prop(item: dict[str, Any], name: str) -> Any:
    props = item.get("properties")
    return props.get(name) if isinstance(props, dict) else None


def _epoch_ms(value: Any) -> int | None:
    """HubSpot datetimes are ISO 8601 strings (or epoch milliseconds) → epoch ms."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
        return int(value)
    if not isinstance(value, str):
        return None
    try:
        when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return int(when.timestamp() * 1000)


def _classify(response: httpx.Response) -> TerminalSourceError | None:
    """401/403 name HubSpot's error category, so the fix is obvious."""
    if response.status_code not in (401, 403):
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    category = body.get("category") or body.get("errorType") or "error"
    message = str(body.get("message") or "")[:160]
    path = response.request.url.path
    return TerminalSourceError(
        "hubspot",
        f"{response.request.method} {path} answered {response.status_code} ({category}: "
        f"{message}); check the private app's access token and that it has the crm.objects "
        "read scopes",
    )
