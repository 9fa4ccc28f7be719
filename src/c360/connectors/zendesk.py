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
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

from pydantic import SecretStr, model_validator

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

_COLUMNS: dict[str, tuple[str, ...]] = {
    "tickets": (
        "id", "url", "external_id", "created_at", "updated_at", "type", "subject",
        "description", "priority", "status", "requester_id", "submitter_id", "assignee_id",
        "organization_id", "group_id", "tags", "custom_fields", "requester", "organization",
    ),
    "users": (
        "id", "url", "name", "email", "phone", "created_at", "updated_at", "time_zone",
        "locale", "organization_id", "role", "active", "verified", "external_id", "tags",
        "user_fields",
    ),
    "organizations": (
        "id", "url", "name", "domain_names", "details", "notes", "external_id", "created_at",
        "updated_at", "deleted_at", "tags", "organization_fields",
    ),
}
_CURSOR_STREAMS = {"tickets", "users"}
_PAGE_LIMIT = 1000  # the export API's maximum page size


class ZendeskOptions(HttpOptions):
    subdomain: str | None = None
    base_url: str | None = None  # overrides https://{subdomain}.zendesk.com
    email: str | None = None
    api_token: SecretStr | None = None
    oauth_token: SecretStr | None = None
    start_time: int = 0  # Unix seconds a full read starts from

    @model_validator(mode="after")
    def _needs_where_and_how(self) -> ZendeskOptions:
        if not self.subdomain and not self.base_url:
            raise ValueError("set 'subdomain' (e.g. acme for acme.zendesk.com) or 'base_url'")
        if self.oauth_token is None and (self.email is None or self.api_token is None):
            raise ValueError("set 'email' and 'api_token' (API token auth) or 'oauth_token'")
        return self


class ZendeskConnector:
    """Tickets, users and organizations from Zendesk Support, incremental by export cursor."""

    name: ClassVar[str] = "zendesk"
    Options: ClassVar[type[ConnectorOptions]] = ZendeskOptions

    def __init__(self, options: ConnectorOptions, *, base_dir: Path | None = None, **http: Any):
        assert isinstance(options, ZendeskOptions)
        self.options = options
        base = options.base_url or f"https://{options.subdomain}.zendesk.com"
        headers = {"Accept": "application/json"}
        auth: tuple[str, str] | None = None
        if options.oauth_token is not None:
            headers.update(bearer(options.oauth_token))
        else:
            assert options.email is not None and options.api_token is not None
            auth = (f"{options.email}/token", options.api_token.get_secret_value())
        self.http = source_http(
            "zendesk", base.rstrip("/"), options, headers=headers, auth=auth, **http
        )

    def check(self) -> None:
        self.http.get("/api/v2/users/me.json")

    def discover(self) -> list[StreamInfo]:
        return [
            StreamInfo(name, tuple(Column(c, "any") for c in cols), key="id",
                       cursor_field="updated_at")
            for name, cols in _COLUMNS.items()
        ]

    def read(
        self,
        stream: str,
        *,
        key: str,
        since: str | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> Iterator[Batch]:
        _known(stream)
        per_page = max(1, min(batch_size, _PAGE_LIMIT))
        params: dict[str, Any] = {"per_page": per_page}
        if stream == "tickets":
            params["include"] = "users,organizations"
        if stream in _CURSOR_STREAMS:
            url = f"/api/v2/incremental/{stream}/cursor.json"
            if since:
                params["cursor"] = since
            else:
                params["start_time"] = self.options.start_time
        else:
            url = f"/api/v2/incremental/{stream}.json"
            params["start_time"] = int(since) if since else self.options.start_time
        page = 0
        while True:
            page += 1
            where = f"GET {url} page {page}"
            body = json_object("zendesk", self.http.get(url, params=params), where)
            records, bad = self._records(stream, key, body, where)
            if stream in _CURSOR_STREAMS:
                cursor = body.get("after_cursor") or since
                params = {"cursor": cursor, "per_page": per_page}
                if stream == "tickets":
                    params["include"] = "users,organizations"
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

    # -- helpers ----------------------------------------------------------------
    def _records(
        self, stream: str, key: str, body: dict[str, Any], where: str
    ) -> tuple[list[Record], list[Quarantined]]:
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
        raise TerminalSourceError(
            "zendesk", f"unknown stream '{stream}' (known: {', '.join(sorted(_COLUMNS))})"
        )
