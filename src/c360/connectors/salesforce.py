"""Salesforce objects through the REST API's SOQL query resources (httpx via HttpSource).

simple-salesforce builds every URL as ``https://{instance}`` and raises its own error
classes, so it can reach neither a plain-HTTP endpoint nor HttpSource's single retry
and error policy; this connector speaks the documented REST resources directly:
``/query`` and ``/queryAll`` with ``nextRecordsUrl`` paging, ``/sobjects/`` and
``/sobjects/{name}/describe``.

A full read runs ``SELECT ... FROM {object} ORDER BY SystemModstamp, Id``. The cursor
is the last record's ``[SystemModstamp, Id]``; an incremental read runs ``queryAll``
with ``WHERE SystemModstamp > c OR (SystemModstamp = c AND Id > id)`` (keyset order,
so equal timestamps are neither skipped nor repeated), and the records it returns with
``IsDeleted = true`` arrive as tombstones. Salesforce's JSON error arrays are read:
``INVALID_SESSION_ID`` is terminal, ``REQUEST_LIMIT_EXCEEDED`` (a 403 or 429) is
transient and waits as long as the answer's ``Retry-After`` asks (capped by HttpSource's
``max_wait``), like any other rate limit.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import httpx
from pydantic import SecretStr, field_validator

from c360.connectors.base import (
    DEFAULT_BATCH_SIZE,
    Batch,
    Column,
    ConnectorOptions,
    Quarantined,
    Record,
    StreamInfo,
    get_path,
)
from c360.connectors.http import (
    SERVER_FAILING,
    HttpOptions,
    RetryableSourceError,
    bearer,
    item_key,
    json_object,
    parse_retry_after,
    source_http,
)
from c360.core.errors import TerminalSourceError, TransientSourceError

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})$")
_UNQUERYABLE_TYPES = {"base64"}  # blobs cannot be read through SOQL in bulk
# Transient error codes, and what to do once retries run out.
_TRANSIENT_CODES = {
    "REQUEST_LIMIT_EXCEEDED": (
        "the org's API request limit is used up (it frees up over a rolling 24 hours): wait for "
        "the limit window, lower concurrency or what other integrations use (GET /limits shows "
        "DailyApiRequests), then sync again"),
    "SERVER_UNAVAILABLE": SERVER_FAILING,
    "UNABLE_TO_LOCK_ROW": ("another process keeps these records locked: sync again once it is "
                           "done"),
}


class SalesforceOptions(HttpOptions):
    instance_url: str  # e.g. https://acme.my.salesforce.com
    access_token: SecretStr  # an OAuth access token (session id)
    api_version: str = "59.0"
    cursor_field: str = "SystemModstamp"
    fields: list[str] | None = None  # default: every queryable field of the object
    objects: list[str] | None = None  # what discover() describes; default: list all
    timeout: float = 60.0

    @field_validator("api_version")
    @classmethod
    def _version(cls, value: str) -> str:
        value = value.lstrip("v")
        if not re.fullmatch(r"\d+\.\d", value):
            raise ValueError(f"'{value}' is not an API version such as '59.0'")
        return value


class SalesforceConnector:
    """SObjects (``Account``, ``Contact``, ...) as streams, incremental by SystemModstamp."""

    name: ClassVar[str] = "salesforce"
    Options: ClassVar[type[ConnectorOptions]] = SalesforceOptions

    def __init__(self, options: ConnectorOptions, *, base_dir: Path | None = None, **http: Any):
        assert isinstance(options, SalesforceOptions)
        self.options = options
        self.http = source_http(
            "salesforce",
            options.instance_url.rstrip("/"),
            options,
            headers={**bearer(options.access_token), "Accept": "application/json"},
            classify=_classify,
            **http,
        )
        self.api = f"/services/data/v{options.api_version}"
        self._fields: dict[str, list[str]] = {}

    def check(self) -> None:
        self.http.get(f"{self.api}/limits")

    def discover(self) -> list[StreamInfo]:
        names = self.options.objects
        if names is None:
            body = self._get(f"{self.api}/sobjects/")
            return [StreamInfo(str(s["name"]), key="Id", cursor_field=self.options.cursor_field)
                    for s in body.get("sobjects") or []
                    if isinstance(s, dict) and s.get("queryable") and "name" in s]
        out = []
        for name in names:
            fields = self._describe(name)
            cols = tuple(Column(str(f["name"]), str(f.get("type", "string"))) for f in fields)
            out.append(StreamInfo(name, cols, key="Id", cursor_field=self.options.cursor_field))
        return out

    def read(
        self,
        stream: str,
        *,
        key: str,
        since: str | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> Iterator[Batch]:
        cf = self.options.cursor_field
        fields = self._select(stream, key, extra=(cf, "IsDeleted"))
        soql = f"SELECT {', '.join(fields)} FROM {_ident(stream)}"
        resource = "query"
        last: list[str] | None = None
        if since:
            last = _load_cursor(since)
            ts, kid = last
            soql += f" WHERE {cf} > {ts} OR ({cf} = {ts} AND Id > {_quote(kid)})"
            resource = "queryAll"  # includes deleted records: they become tombstones
        soql += f" ORDER BY {cf}, Id"
        for page, body in enumerate(self._pages(resource, soql, batch_size), start=1):
            records, bad = _records(body, key, f"{resource} {stream} page {page}")
            for rec in records:
                ts = get_path(rec.data, cf)
                if isinstance(ts, str) and _DATETIME.match(ts) and rec.data.get("Id"):
                    last = [ts, str(rec.data["Id"])]
            yield Batch(records, json.dumps(last) if last else since, bad)

    def lookup(self, stream: str, *, key: str, keys: Sequence[str]) -> list[Record]:
        if not keys:
            return []
        fields = self._select(stream, key, extra=())
        out: list[Record] = []
        for i in range(0, len(keys), 200):
            chunk = ", ".join(_quote(str(k)) for k in keys[i : i + 200])
            soql = (f"SELECT {', '.join(fields)} FROM {_ident(stream)}"
                    f" WHERE {_ident(key)} IN ({chunk})")
            for body in self._pages("query", soql, DEFAULT_BATCH_SIZE):
                records, _ = _records(body, key, f"lookup {stream}")
                out.extend(records)
        return out

    def close(self) -> None:
        self.http.close()

    # -- helpers ----------------------------------------------------------------
    def _pages(self, resource: str, soql: str, batch_size: int) -> Iterator[dict[str, Any]]:
        """Every page of one SOQL query, following ``nextRecordsUrl`` until ``done``."""
        headers = {"Sforce-Query-Options": f"batchSize={max(200, min(batch_size, 2000))}"}
        body = self._get(f"{self.api}/{resource}/", params={"q": soql}, headers=headers)
        while True:
            yield body
            next_url = body.get("nextRecordsUrl")
            if body.get("done", True) or not next_url:
                return
            body = self._get(str(next_url), headers=headers)

    def _get(self, url: str, **kwargs: Any) -> dict[str, Any]:
        return json_object("salesforce", self.http.get(url, **kwargs), f"GET {url}")

    def _describe(self, stream: str) -> list[dict[str, Any]]:
        body = self._get(f"{self.api}/sobjects/{_ident(stream)}/describe")
        return [f for f in body.get("fields") or [] if isinstance(f, dict) and "name" in f]

    def _select(self, stream: str, key: str, *, extra: Sequence[str]) -> list[str]:
        if self.options.fields is not None:
            fields = [_ident(f) for f in self.options.fields]
        else:
            if stream not in self._fields:
                self._fields[stream] = [
                    str(f["name"]) for f in self._describe(stream)
                    if f.get("type") not in _UNQUERYABLE_TYPES
                ]
            fields = list(self._fields[stream])
        for name in ("Id", key, *extra):
            if name not in fields:
                fields.append(_ident(name))
        return fields


def _records(body: dict[str, Any], key: str, where: str) -> tuple[list[Record], list[Quarantined]]:
    records: list[Record] = []
    bad: list[Quarantined] = []
    for i, item in enumerate(body.get("records") or []):
        k = item_key(item, key, f"{where} record {i}", bad)
        if k is None:
            continue
        records.append(Record(k, item, item.get("IsDeleted") is True))
    return records, bad


def _load_cursor(since: str) -> list[str]:
    try:
        value = json.loads(since)
    except ValueError:
        value = None
    if (isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value)
            and _DATETIME.match(value[0])):
        return [value[0], value[1]]
    raise TerminalSourceError(
        "salesforce", f"cannot resume from cursor {since[:80]!r}: expected [SystemModstamp, Id]"
    )


def _ident(name: str) -> str:
    if not _NAME.match(name):
        raise TerminalSourceError("salesforce", f"'{name}' is not a valid object or field name")
    return name


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _classify(response: httpx.Response) -> TransientSourceError | TerminalSourceError | None:
    """Read Salesforce's ``[{"message": ..., "errorCode": ...}]`` error arrays."""
    try:
        body = response.json()
    except ValueError:
        return None
    first = body[0] if isinstance(body, list) and body and isinstance(body[0], dict) else None
    if first is None:
        return None
    code = str(first.get("errorCode") or "")
    detail = f"{code}: {str(first.get('message') or '')[:200]}"
    where = f"{response.request.method} {response.request.url.path} answered {response.status_code}"
    if code in _TRANSIENT_CODES:
        return RetryableSourceError(
            "salesforce", f"{where} ({detail})", next_step=_TRANSIENT_CODES[code],
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )
    if response.status_code == 401 or code == "INVALID_SESSION_ID":
        return TerminalSourceError(
            "salesforce", f"{where} ({detail}); the access token is expired or invalid: "
            "get a fresh one for this instance_url"
        )
    if response.status_code == 429 or response.status_code >= 500:
        return None  # the defaults: transient, honouring Retry-After
    hint = {
        "INVALID_TYPE": "check the object name",
        "INVALID_FIELD": "check the 'fields' option",
        "MALFORMED_QUERY": "check the 'fields' and 'cursor_field' options",
        "NOT_FOUND": "check the object name and api_version",
        "INSUFFICIENT_ACCESS": "the user lacks read access to this object",
    }.get(code, "see the Salesforce error above")
    return TerminalSourceError("salesforce", f"{where} ({detail}); {hint}")
