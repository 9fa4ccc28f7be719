"""Zendesk Support through its cursor-based incremental export API (httpx via HttpSource).

``tickets`` and ``users`` use the cursor-based exports
(``/api/v2/incremental/{stream}/cursor.json``): a full read starts at ``start_time``,
every page's ``after_cursor`` is the batch cursor, and an incremental read resumes
with ``?cursor=``. ``organizations`` only has the time-based export, so its cursor is
the page's ``end_time``. Tickets side-load their requester and organization
(``include=users,organizations``) and carry them inline as ``requester`` ({id, name,
email}) and ``organization`` ({id, name}). Deleted tickets (``status: deleted``),
deleted users (``active: false``) and deleted organizations (``deleted_at``) arrive
as tombstones.

``ticket_metrics`` rides on the same ticket export (``include=metric_sets``): one metric
set per ticket, keyed by ``ticket_id``, a deleted ticket's metrics a tombstone.
``satisfaction_ratings`` lists ``/api/v2/satisfaction_ratings`` from ``start_time`` (the
newest ``updated_at`` read), cursor-paged with ``page[after]``; each page's cursor keeps
the listing's place, so an interrupted read resumes there. Ratings are never deleted.

A full read starts at ``start_date`` (or ``start_time``, Unix seconds). Credentials: an API
token (``email`` + ``api_token``), a fixed OAuth token (``oauth_token``), or ``oauth`` with a
refresh token (``POST /oauth/tokens``), renewed when it expires; each secret may come from a
``*_file``. ``ratelimit-remaining`` / ``x-rate-limit-remaining`` pace the requests once less
than ``pace_below`` of the limit is left.
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
from c360.connectors.oauth import OAuthOptions, TokenSession, read_secret, static_or_session
from c360.core.errors import TerminalSourceError

_COLUMNS: dict[str, tuple[str, ...]] = {
    "tickets": (
        "id",
        "url",
        "external_id",
        "created_at",
        "updated_at",
        "type",
        "subject",
        "description",
        "priority",
        "status",
        "requester_id",
        "submitter_id",
        "assignee_id",
        "organization_id",
        "group_id",
        "tags",
        "custom_fields",
        "requester",
        "organization",
    ),
    "users": (
        "id",
        "url",
        "name",
        "email",
        "phone",
        "created_at",
        "updated_at",
        "time_zone",
        "locale",
        "organization_id",
        "role",
        "active",
        "verified",
        "external_id",
        "tags",
        "user_fields",
    ),
    "organizations": (
        "id",
        "url",
        "name",
        "domain_names",
        "details",
        "notes",
        "external_id",
        "created_at",
        "updated_at",
        "deleted_at",
        "tags",
        "organization_fields",
    ),
    "satisfaction_ratings": (
        "id",
        "url",
        "assignee_id",
        "group_id",
        "requester_id",
        "ticket_id",
        "score",
        "comment",
        "reason",
        "reason_code",
        "created_at",
        "updated_at",
    ),
    "ticket_metrics": (
        "id",
        "ticket_id",
        "url",
        "created_at",
        "updated_at",
        "group_stations",
        "assignee_stations",
        "reopens",
        "replies",
        "assignee_updated_at",
        "requester_updated_at",
        "status_updated_at",
        "initially_assigned_at",
        "assigned_at",
        "solved_at",
        "latest_comment_added_at",
        "reply_time_in_minutes",
        "first_resolution_time_in_minutes",
        "full_resolution_time_in_minutes",
        "agent_wait_time_in_minutes",
        "requester_wait_time_in_minutes",
        "on_hold_time_in_minutes",
    ),
}
_KEYS = {"ticket_metrics": "ticket_id"}
_CURSOR_STREAMS = {"tickets", "users", "ticket_metrics"}
_EXPORTED = {"ticket_metrics": "tickets"}  # the export a stream rides on
_INCLUDE = {"tickets": "users,organizations", "ticket_metrics": "metric_sets"}
_PAGE_LIMIT = 1000  # the export API's maximum page size


class ZendeskOptions(PacedHttpOptions):
    subdomain: str | None = None
    base_url: str | None = None  # overrides https://{subdomain}.zendesk.com
    email: str | None = None
    api_token: SecretStr | None = None
    api_token_file: str | None = None
    oauth_token: SecretStr | None = None
    oauth_token_file: str | None = None
    oauth: OAuthOptions | None = None  # refresh-token grant; token_url: {base}/oauth/tokens
    start_time: int = 0  # Unix seconds a full read starts from
    start_date: dt.datetime | dt.date | None = None  # the same, as a date or date-time

    @model_validator(mode="after")
    def _needs_where_and_how(self) -> ZendeskOptions:
        if not self.subdomain and not self.base_url:
            raise ValueError("set 'subdomain' (e.g. acme for acme.zendesk.com) or 'base_url'")
        token = self.api_token is not None or self.api_token_file is not None
        bearer = self.oauth_token is not None or self.oauth_token_file is not None
        if self.oauth is None and not bearer and (self.email is None or not token):
            raise ValueError("set 'email' and 'api_token' (API token auth), 'oauth_token' or 'oauth'")
        if self.start_date is not None and self.start_time:
            raise ValueError("set 'start_date' or 'start_time', not both")
        return self

    @property
    def start(self) -> int:
        epoch = start_epoch(self.start_date)
        return int(epoch) if epoch is not None else self.start_time


class ZendeskConnector:
    """Tickets, users and organizations from Zendesk Support, incremental by export cursor."""

    name: ClassVar[str] = "zendesk"
    Options: ClassVar[type[ConnectorOptions]] = ZendeskOptions

    def __init__(
        self,
        options: ConnectorOptions,
        *,
        base_dir: Path | None = None,
        clock: Callable[[], float] = time.time,
        **http: Any,
    ):
        assert isinstance(options, ZendeskOptions)
        self.options = options
        base = (options.base_url or f"https://{options.subdomain}.zendesk.com").rstrip("/")
        headers = {"Accept": "application/json"}
        auth: httpx.Auth | tuple[str, str] | None = None
        self.session: TokenSession | None = None
        if (options.oauth or options.oauth_token or options.oauth_token_file) is not None:
            more, auth, self.session = static_or_session(
                "zendesk",
                token=options.oauth_token,
                token_file=options.oauth_token_file,
                oauth=options.oauth,
                token_url=f"{base}/oauth/tokens",
                base_dir=base_dir,
                http=options,
                option="oauth_token",
                body="json",
                clock=clock,
                **http,
            )
            headers.update(more)
        else:
            token = read_secret(
                "zendesk", options.api_token, options.api_token_file, option="api_token", base_dir=base_dir
            )
            assert options.email is not None and token is not None
            auth = (f"{options.email}/token", token.get_secret_value())
        below = options.pace_below
        self.http = source_http(
            "zendesk", base, options, headers=headers, auth=auth, pace=lambda r: _pace(r, below), **http
        )

    def __repr__(self) -> str:
        return f"ZendeskConnector(base_url={self.options.base_url or self.options.subdomain!r})"

    def check(self) -> None:
        self.http.get("/api/v2/users/me.json")

    def discover(self) -> list[StreamInfo]:
        return [
            StreamInfo(
                name, tuple(Column(c, "any") for c in cols), key=_KEYS.get(name, "id"), cursor_field="updated_at"
            )
            for name, cols in _COLUMNS.items()
        ]

    def read(
        self, stream: str, *, key: str, since: str | None = None, batch_size: int = DEFAULT_BATCH_SIZE
    ) -> Iterator[Batch]:
        _known(stream)
        if stream == "satisfaction_ratings":
            yield from self._ratings(key, since, batch_size)
            return
        per_page = max(1, min(batch_size, _PAGE_LIMIT))
        params: dict[str, Any] = {"per_page": per_page}
        include = _INCLUDE.get(stream)
        if include:
            params["include"] = include
        if stream in _CURSOR_STREAMS:
            url = f"/api/v2/incremental/{_EXPORTED.get(stream, stream)}/cursor.json"
            if since:
                params["cursor"] = since
            else:
                params["start_time"] = self.options.start
        else:
            url = f"/api/v2/incremental/{stream}.json"
            params["start_time"] = int(since) if since else self.options.start
        page = 0
        while True:
            page += 1
            where = f"GET {url} page {page}"
            body = json_object("zendesk", self.http.get(url, params=params), where)
            records, bad = self._records(stream, key, body, where)
            if stream in _CURSOR_STREAMS:
                cursor = body.get("after_cursor") or since
                params = {"cursor": cursor, "per_page": per_page}
                if include:
                    params["include"] = include
            else:
                end_time = body.get("end_time")
                cursor = str(end_time) if end_time is not None else since
                params = {"start_time": end_time, "per_page": per_page}
            yield Batch(records, cursor, bad)
            if body.get("end_of_stream", True) or cursor is None:
                return
            since = cursor

    def lookup(self, stream: str, *, key: str, keys: Sequence[str]) -> list[Record]:
        _known(stream)
        if not keys:
            return []
        if stream in ("satisfaction_ratings", "ticket_metrics"):
            return self._lookup_each(stream, key, keys)
        if key != "id":
            raise TerminalSourceError(
                "zendesk", f"lookup on {stream} needs key 'id' (got '{key}'): show_many reads by id"
            )
        out: list[Record] = []
        url = f"/api/v2/{stream}/show_many.json"
        for i in range(0, len(keys), 100):  # show_many accepts up to 100 ids
            params = {"ids": ",".join(str(k) for k in keys[i : i + 100])}
            if stream == "tickets":
                params["include"] = "users,organizations"
            body = json_object("zendesk", self.http.get(url, params=params), f"GET {url}")
            records, _ = self._records(stream, key, body, f"GET {url}")
            out.extend(records)
        return out

    def close(self) -> None:
        self.http.close()
        if self.session is not None:
            self.session.close()

    # -- satisfaction ratings ---------------------------------------------------
    def _ratings(self, key: str, since: str | None, batch_size: int) -> Iterator[Batch]:
        """Ratings changed since the newest ``updated_at`` read, cursor-paged; resumable."""
        state = _RatingsState.load(since, self.options.start)
        url = "/api/v2/satisfaction_ratings"
        size = max(1, min(batch_size, 100))  # cursor pagination's maximum page size
        page = 0
        while True:
            page += 1
            params: dict[str, Any] = {"start_time": state.start, "page[size]": size}
            if state.after:
                params["page[after]"] = state.after
            where = f"GET {url} page {page}"
            body = json_object("zendesk", self.http.get(url, params=params), where)
            records, bad = self._records("satisfaction_ratings", key, body, where)
            for rec in records:
                ts = _epoch(rec.data.get("updated_at"))
                if ts is not None:
                    state.newest = max(state.newest or 0, ts)
            meta = body.get("meta") or {}
            after = meta.get("after_cursor") if isinstance(meta, dict) else None
            if not (isinstance(meta, dict) and meta.get("has_more")) or not after:
                state.finish()
                yield Batch(records, state.dump(), bad)
                return
            state.after = str(after)
            yield Batch(records, state.dump(), bad)

    def _lookup_each(self, stream: str, key: str, keys: Sequence[str]) -> list[Record]:
        """Ratings and metric sets have no show_many: one request per id."""
        out: list[Record] = []
        for k in keys:
            url = (
                f"/api/v2/satisfaction_ratings/{int(k)}.json"
                if stream == "satisfaction_ratings"
                else f"/api/v2/tickets/{int(k)}/metrics.json"
            )
            try:
                body = json_object("zendesk", self.http.get(url), f"GET {url}")
            except TerminalSourceError as exc:
                if "answered 404" in str(exc):
                    continue
                raise
            item = body.get("satisfaction_rating" if stream == "satisfaction_ratings" else "ticket_metric")
            records, _ = self._records(stream, key, {stream: [item]}, f"GET {url}")
            out.extend(records)
        return out

    # -- helpers ----------------------------------------------------------------
    def _records(
        self, stream: str, key: str, body: dict[str, Any], where: str
    ) -> tuple[list[Record], list[Quarantined]]:
        if stream == "ticket_metrics":
            return _metric_records(key, body, where)
        items = body.get(stream) or []
        users = {u.get("id"): u for u in body.get("users") or [] if isinstance(u, dict)}
        orgs = {o.get("id"): o for o in body.get("organizations") or [] if isinstance(o, dict)}
        records: list[Record] = []
        bad: list[Quarantined] = []
        for i, item in enumerate(items):
            k = item_key(item, key, f"{where} item {i}", bad)
            if k is None:
                continue
            data = dict(item)
            if stream == "tickets":
                _inline(data, users, orgs)
            records.append(Record(k, data, _deleted(stream, data)))
        return records, bad


def _metric_records(key: str, body: dict[str, Any], where: str) -> tuple[list[Record], list[Quarantined]]:
    """The metric sets side-loaded with a ticket export page; deleted tickets' as tombstones."""
    records: list[Record] = []
    bad: list[Quarantined] = []
    by_ticket: dict[Any, dict[str, Any]] = {}
    for i, item in enumerate(body.get("metric_sets") or body.get("ticket_metrics") or []):
        k = item_key(item, key, f"{where} metric set {i}", bad)
        if k is not None:
            by_ticket[item.get("ticket_id")] = item
            records.append(Record(k, dict(item)))
    for ticket in body.get("tickets") or []:
        if not isinstance(ticket, dict) or ticket.get("status") != "deleted":
            continue
        tid = ticket.get("id")
        gone = by_ticket.get(tid) or {"ticket_id": tid}
        k = item_key(gone, key, f"{where} deleted ticket {tid}", [])
        if k is not None:
            records = [r for r in records if r.key != k]
            records.append(Record(k, dict(gone), True))
    return records, bad


class _RatingsState:
    """Ratings' cursor: ``start`` (Unix seconds) and, mid-listing, the page cursor and newest."""

    def __init__(self, start: int, after: str | None = None, newest: int | None = None) -> None:
        self.start, self.after, self.newest = start, after, newest

    @classmethod
    def load(cls, since: str | None, default: int) -> _RatingsState:
        if not since:
            return cls(default)
        try:
            raw = json.loads(since)
            return cls(int(raw["start"]), raw.get("after"), raw.get("newest"))
        except (ValueError, KeyError, TypeError):
            raise TerminalSourceError(
                "zendesk", f"cannot resume from cursor {since[:80]!r}: not a ratings cursor"
            ) from None

    def finish(self) -> None:
        if self.newest is not None:
            self.start = max(self.start, self.newest)
        self.after, self.newest = None, None

    def dump(self) -> str:
        out: dict[str, Any] = {"start": self.start}
        if self.after is not None:
            out.update(after=self.after, newest=self.newest)
        return json.dumps(out)


def _epoch(value: Any) -> int | None:
    if not isinstance(value, str):
        return None
    try:
        return int(dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return None


def _pace(response: httpx.Response, below: float) -> float:
    """Zendesk's per-minute limit: ``ratelimit-*`` (with a reset), or ``x-rate-limit-*``."""
    h = response.headers
    for remaining_h, limit_h in (
        ("ratelimit-remaining", "ratelimit-limit"),
        ("x-rate-limit-remaining", "x-rate-limit"),
    ):
        remaining = header_number(h, remaining_h)
        if remaining is not None:
            return pace_delay(
                remaining,
                header_number(h, limit_h),
                window=60.0,
                reset=header_number(h, "ratelimit-reset"),
                below=below,
            )
    return 0.0


def _inline(ticket: dict[str, Any], users: dict[Any, Any], orgs: dict[Any, Any]) -> None:
    rid = ticket.get("requester_id")
    if rid is not None:
        user = users.get(rid) or {}
        ticket["requester"] = {"id": rid, "name": user.get("name"), "email": user.get("email")}
    oid = ticket.get("organization_id")
    if oid is not None:
        org = orgs.get(oid) or {}
        ticket["organization"] = {"id": oid, "name": org.get("name")}


def _deleted(stream: str, data: dict[str, Any]) -> bool:
    if stream == "tickets":
        return data.get("status") == "deleted"
    if stream == "users":
        return data.get("active") is False
    return data.get("deleted_at") is not None


def _known(stream: str) -> None:
    if stream not in _COLUMNS:
        raise TerminalSourceError("zendesk", f"unknown stream '{stream}' (known: {', '.join(sorted(_COLUMNS))})")
