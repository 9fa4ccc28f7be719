"""HubSpot CRM objects through the v3 search API (httpx via HttpSource).

Reads use ``POST /crm/v3/objects/{object}/search`` sorted ascending by the object's
last-modified property, filtered ``GTE`` the cursor, paged with ``paging.next.after``.
The cursor is ``{"ts": <epoch ms>, "ids": [ids already read at that instant],
"archived": <epoch ms>}``, so records sharing a timestamp are neither skipped nor
repeated. Search stops paging at 10,000 results; the read then restarts the search
from its own watermark. Archived (deleted) objects come from
``GET /crm/v3/objects/{object}?archived=true`` and arrive as tombstones.

Streams: ``companies``, ``contacts`` and ``deals`` (any other CRM object by name). Each
page's records carry their associations, read with the v4 associations API
(``POST /crm/v4/associations/{from}/{to}/batch/read``) and kept in its shape:
``associations: {companies: [{toObjectId, associationTypes: [...]}]}``; the option
``associations`` says which (default: contacts → companies, deals → companies and
contacts). An association made later does not always change the object's last-modified
time, so a full sync (``--full``) is what brings every association up to date.

A full read starts at ``start_date`` when set. Credentials: a private app's
``access_token`` (or ``access_token_file``), or ``oauth`` with a refresh token
(``POST /oauth/v1/token``), renewed when it expires. ``X-HubSpot-RateLimit-*`` headers pace
the requests once less than ``pace_below`` of the limit is left.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import httpx
from pydantic import SecretStr, model_validator

from c360.connectors.base import DEFAULT_BATCH_SIZE, Batch, Column, ConnectorOptions, Quarantined, Record, StreamInfo
from c360.connectors.http import (
    PacedHttpOptions,
    header_number,
    item_key,
    json_object,
    pace_delay,
    source_http,
    start_epoch,
)
from c360.connectors.oauth import OAuthOptions, static_or_session
from c360.core.errors import TerminalSourceError

_SEARCH_WINDOW = 10_000  # search returns at most this many results per query
_PAGE_LIMIT = 100  # maximum page size of search and list
# Contacts name it lastmodifieddate; companies and the other objects hs_lastmodifieddate.
_MODIFIED = {"contacts": "lastmodifieddate"}
_ASSOCIATIONS = {"contacts": ["companies"], "deals": ["companies", "contacts"]}
_ASSOC_PAGE = 500  # associations per object returned by one v4 request


class HubSpotOptions(PacedHttpOptions):
    access_token: SecretStr | None = None  # a private app's access token
    access_token_file: str | None = None
    oauth: OAuthOptions | None = None  # refresh-token grant; token_url {base_url}/oauth/v1/token
    base_url: str = "https://api.hubapi.com"
    properties: list[str] | None = None  # default: every property of the object
    cursor_property: str | None = None  # default: lastmodifieddate / hs_lastmodifieddate
    start_date: dt.datetime | dt.date | None = None  # a full read starts at this modification
    associations: dict[str, list[str]] | None = None  # stream -> object types to attach

    @model_validator(mode="after")
    def _one_credential(self) -> HubSpotOptions:
        given = [n for n in ("access_token", "access_token_file", "oauth") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError("set exactly one of 'access_token', 'access_token_file' or 'oauth'")
        return self


class HubSpotConnector:
    """Companies, contacts, deals (any CRM object) from HubSpot, incremental by last modification."""

    name: ClassVar[str] = "hubspot"
    Options: ClassVar[type[ConnectorOptions]] = HubSpotOptions
    streams: ClassVar[tuple[str, ...]] = ("companies", "contacts", "deals")

    def __init__(
        self,
        options: ConnectorOptions,
        *,
        base_dir: Path | None = None,
        clock: Callable[[], float] = time.time,
        **http: Any,
    ):
        assert isinstance(options, HubSpotOptions)
        self.options = options
        base = options.base_url.rstrip("/")
        headers, auth, self.session = static_or_session(
            "hubspot",
            token=options.access_token,
            token_file=options.access_token_file,
            oauth=options.oauth,
            token_url=f"{base}/oauth/v1/token",
            base_dir=base_dir,
            http=options,
            clock=clock,
            **http,
        )
        below = options.pace_below
        self.http = source_http(
            "hubspot",
            base,
            options,
            headers={**headers, "Accept": "application/json"},
            auth=auth,
            classify=_classify,
            pace=lambda r: _pace(r, below),
            **http,
        )
        self._properties: dict[str, list[str]] = {}

    def __repr__(self) -> str:
        return f"HubSpotConnector(base_url={self.options.base_url!r})"

    def check(self) -> None:
        self.http.get("/crm/v3/objects/contacts", params={"limit": 1})

    def discover(self) -> list[StreamInfo]:
        out = []
        for stream in self.streams:
            cols = tuple(Column(name, kind) for name, kind in self._describe(stream))
            out.append(StreamInfo(stream, cols, key="id", cursor_field=self._cursor_prop(stream)))
        return out

    def read(
        self, stream: str, *, key: str, since: str | None = None, batch_size: int = DEFAULT_BATCH_SIZE
    ) -> Iterator[Batch]:
        prop = self._cursor_prop(stream)
        limit = max(1, min(batch_size, _PAGE_LIMIT))
        state = _State.load(since)
        start = start_epoch(self.options.start_date)
        if since is None and start is not None:
            state.ts = state.archived = int(start * 1000)
        url = f"/crm/v3/objects/{stream}/search"
        while True:  # one search per window of 10,000 results
            body: dict[str, Any] = {
                "sorts": [{"propertyName": prop, "direction": "ASCENDING"}],
                "properties": self._props(stream),
                "limit": limit,
            }
            if state.ts is not None:
                body["filterGroups"] = [
                    {"filters": [{"propertyName": prop, "operator": "GTE", "value": str(state.ts)}]}
                ]
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
                        bad.append(
                            Quarantined(
                                f"{where} item {i}", f"'{prop}' is missing or not a timestamp", json.dumps(item)[:1000]
                            )
                        )
                        continue
                    if state.seen(ts, rec.key):
                        continue  # read at the boundary instant by the previous window or sync
                    state.advance(ts, rec.key)
                    records.append(rec)
                after = ((answer.get("paging") or {}).get("next") or {}).get("after")
                self._associate(stream, records)
                yield Batch(records, state.dump(), bad)
                if after is None or (str(after).isdigit() and int(after) >= _SEARCH_WINDOW):
                    break
            if after is None:
                break
            if (state.ts, tuple(state.ids)) == window_start:
                raise TerminalSourceError(
                    "hubspot",
                    f"more than {_SEARCH_WINDOW} {stream} share one '{prop}' value;"
                    " the search API cannot page past them",
                )
        yield from self._archived(stream, key, state, limit)

    def lookup(self, stream: str, *, key: str, keys: Sequence[str]) -> list[Record]:
        if not keys:
            return []
        url = f"/crm/v3/objects/{stream}/batch/read"
        id_property = None if key in ("id", "properties.hs_object_id") else key
        if id_property and id_property.startswith("properties."):
            id_property = id_property[len("properties.") :]
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
        if self.session is not None:
            self.session.close()

    # -- associations (v4) ------------------------------------------------------
    def _associate(self, stream: str, records: list[Record]) -> None:
        """Attach each record's associations to the object types the option names."""
        wanted = (self.options.associations if self.options.associations is not None else _ASSOCIATIONS).get(
            stream
        ) or []
        ids = [str(r.data["id"]) for r in records if r.data.get("id") is not None]
        if not ids:
            return
        for to in wanted:
            found: dict[str, list[Any]] = {i: [] for i in ids}
            url = f"/crm/v4/associations/{stream}/{to}/batch/read"
            answer = json_object(
                "hubspot", self.http.post(url, json={"inputs": [{"id": i} for i in ids]}), f"POST {url}"
            )
            for result in answer.get("results") or []:
                if not isinstance(result, dict):
                    continue
                oid = str((result.get("from") or {}).get("id"))
                if oid not in found:
                    continue
                found[oid].extend(t for t in result.get("to") or [] if isinstance(t, dict))
                after = ((result.get("paging") or {}).get("next") or {}).get("after")
                if after is not None:
                    found[oid].extend(self._more_associations(stream, oid, to, str(after)))
            for rec in records:
                oid = str(rec.data.get("id"))
                if oid in found:
                    rec.data.setdefault("associations", {})[to] = found[oid]

    def _more_associations(self, stream: str, oid: str, to: str, after: str) -> list[Any]:
        url = f"/crm/v4/objects/{stream}/{oid}/associations/{to}"
        out: list[Any] = []
        next_after: str | None = after
        while next_after is not None:
            answer = json_object(
                "hubspot", self.http.get(url, params={"limit": _ASSOC_PAGE, "after": next_after}), f"GET {url}"
            )
            out.extend(t for t in answer.get("results") or [] if isinstance(t, dict))
            nxt = ((answer.get("paging") or {}).get("next") or {}).get("after")
            next_after = str(nxt) if nxt is not None else None
        return out

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
        return [
            (str(p["name"]), str(p.get("type", "string")))
            for p in answer.get("results") or []
            if isinstance(p, dict) and "name" in p
        ]

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


def _pace(response: httpx.Response, below: float) -> float:
    """HubSpot's two limits: per interval (``-Max``/``-Remaining``) and per second."""
    h = response.headers
    delays = [0.0]
    remaining = header_number(h, "X-HubSpot-RateLimit-Remaining")
    if remaining is not None:
        window = (header_number(h, "X-HubSpot-RateLimit-Interval-Milliseconds") or 10_000) / 1000
        delays.append(pace_delay(remaining, header_number(h, "X-HubSpot-RateLimit-Max"), window=window, below=below))
    secondly = header_number(h, "X-HubSpot-RateLimit-Secondly-Remaining")
    if secondly is not None:
        delays.append(pace_delay(secondly, header_number(h, "X-HubSpot-RateLimit-Secondly"), window=1.0, below=below))
    return max(delays)


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
        f"{message}); check the private app's access token (or the oauth app) and that it has "
        "the crm.objects read scopes",
    )
