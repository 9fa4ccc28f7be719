"""Salesforce objects through the REST API's SOQL query resources and Bulk API 2.0 (httpx).

simple-salesforce builds every URL as ``https://{instance}`` and raises its own error
classes, so it can reach neither a plain-HTTP endpoint nor HttpSource's single retry
and error policy; this connector speaks the documented REST resources directly:
``/query`` and ``/queryAll`` with ``nextRecordsUrl`` paging, ``/sobjects/`` and
``/sobjects/{name}/describe``, and Bulk API 2.0 query jobs (``/jobs/query``).

A full read runs ``SELECT ... FROM {object} ORDER BY SystemModstamp, Id`` (from
``start_date`` when set). The cursor is the last record's ``[SystemModstamp, Id]``; an
incremental read runs ``queryAll`` with ``WHERE SystemModstamp > c OR (SystemModstamp = c
AND Id > id)`` (keyset order, so equal timestamps are neither skipped nor repeated), and
the records it returns with ``IsDeleted = true`` arrive as tombstones. Every page's cursor
is a resume point, so an interrupted first read goes on from its last committed page.

Large reads go through Bulk API 2.0: with ``bulk: auto`` (the default) a ``SELECT COUNT()``
of what the read would return decides, against ``bulk_threshold``; ``bulk: true|false``
forces one path. A bulk read creates a query job (``query`` or ``queryAll``) with the same
SOQL but no ``ORDER BY`` (which would turn off the chunking large objects need), polls it
until ``JobComplete`` (the wait doubling from ``bulk_poll_interval`` up to
30 s, at most ``bulk_timeout`` seconds in all), and reads its CSV results page by page
(``maxRecords``, ``locator`` from ``Sforce-Locator``), typed by the object's describe. A
job that ends ``Failed`` or ``Aborted`` is a terminal error naming the job and the server's
``errorMessage``. A bulk job's results come in no order, so its keyset cursor moves at the
end of the job; until then each batch's cursor names the job and the results page to go on
from, and an interrupted bulk read resumes there (or starts a new job if the results are
gone).

Salesforce's JSON error arrays are read: ``REQUEST_LIMIT_EXCEEDED`` (a 403 or 429) is
transient and waits as long as the answer's ``Retry-After`` asks (capped by HttpSource's
``max_wait``), like any other rate limit. ``INVALID_SESSION_ID`` is terminal with a fixed
``access_token``; with ``oauth`` (refresh token, client credentials or JWT bearer, see
:mod:`c360.connectors.oauth`) the token is renewed once and the request sent again. Each
answer's ``Sforce-Limit-Info: api-usage=N/M`` paces the requests once less than
``pace_below`` of the org's daily limit is left.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import httpx
from pydantic import Field, SecretStr, field_validator, model_validator

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
    PacedHttpOptions,
    item_key,
    json_object,
    pace_delay,
    parse_retry_after,
    source_http,
    start_epoch,
)
from c360.connectors.oauth import OAuthOptions, scrub, static_or_session
from c360.core.errors import TerminalSourceError, TransientSourceError
from c360.core.retry import RetryableSourceError

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})$")
_UNQUERYABLE_TYPES = {"base64"}  # blobs cannot be read through SOQL in bulk
# Transient error codes, and what to do once retries run out.
_TRANSIENT_CODES = {
    "REQUEST_LIMIT_EXCEEDED": (
        "the org's API request limit is used up (it frees up over a rolling 24 hours): wait for "
        "the limit window, lower concurrency or what other integrations use (GET /limits shows "
        "DailyApiRequests), then sync again"
    ),
    "SERVER_UNAVAILABLE": SERVER_FAILING,
    "UNABLE_TO_LOCK_ROW": ("another process keeps these records locked: sync again once it is done"),
}


_USAGE = re.compile(r"api-usage=(\d+)/(\d+)")
_DAY = 86_400.0
_BULK_END = {"JobComplete", "Failed", "Aborted"}
_MAX_POLL = 30.0
_NUMBERS = {"int": int, "double": float, "currency": float, "percent": float, "long": int}


class SalesforceOptions(PacedHttpOptions):
    instance_url: str  # e.g. https://acme.my.salesforce.com
    access_token: SecretStr | None = None  # a fixed OAuth access token (session id)
    access_token_file: str | None = None
    oauth: OAuthOptions | None = None  # tokens that renew themselves (default token_url:
    # {instance_url}/services/oauth2/token)
    api_version: str = "59.0"
    cursor_field: str = "SystemModstamp"
    fields: list[str] | None = None  # default: every queryable field of the object
    objects: list[str] | None = None  # what discover() describes; default: list all
    start_date: dt.datetime | dt.date | None = None  # a full read starts at this cursor value
    bulk: Literal["auto"] | bool = "auto"  # Bulk API 2.0: by record count, always, never
    bulk_threshold: int = Field(default=50_000, ge=0)
    bulk_page_size: int = Field(default=50_000, ge=1)  # maxRecords of each results request
    bulk_poll_interval: float = Field(default=2.0, gt=0)
    bulk_timeout: float = Field(default=3600.0, gt=0)
    timeout: float = 60.0

    @model_validator(mode="after")
    def _one_credential(self) -> SalesforceOptions:
        given = [n for n in ("access_token", "access_token_file", "oauth") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError(
                "set exactly one of 'access_token', 'access_token_file' or 'oauth'"
                + (f" (got {', '.join(given)})" if given else "")
            )
        return self

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

    def __init__(
        self,
        options: ConnectorOptions,
        *,
        base_dir: Path | None = None,
        clock: Callable[[], float] = time.time,
        **http: Any,
    ):
        assert isinstance(options, SalesforceOptions)
        self.options = options
        base = options.instance_url.rstrip("/")
        headers, auth, self.session = static_or_session(
            "salesforce",
            token=options.access_token,
            token_file=options.access_token_file,
            oauth=options.oauth,
            token_url=f"{base}/services/oauth2/token",
            base_dir=base_dir,
            http=options,
            clock=clock,
            **http,
        )
        self._sleep: Callable[[float], None] = http.get("sleep", time.sleep)
        renewing = self.session is not None
        self.http = source_http(
            "salesforce",
            base,
            options,
            headers={**headers, "Accept": "application/json"},
            auth=auth,
            classify=lambda r: _classify(r, renewing=renewing, secrets=self._secrets()),
            pace=lambda r: _pace(r, options.pace_below),
            **http,
        )
        self.api = f"/services/data/v{options.api_version}"
        self._fields: dict[str, list[str]] = {}
        self._types: dict[str, dict[str, str]] = {}
        self.bulk_jobs: list[str] = []  # ids of the Bulk API jobs this connector created

    def __repr__(self) -> str:
        return f"SalesforceConnector(instance_url={self.options.instance_url!r})"

    def check(self) -> None:
        self.http.get(f"{self.api}/limits")

    def discover(self) -> list[StreamInfo]:
        names = self.options.objects
        if names is None:
            body = self._get(f"{self.api}/sobjects/")
            return [
                StreamInfo(str(s["name"]), key="Id", cursor_field=self.options.cursor_field)
                for s in body.get("sobjects") or []
                if isinstance(s, dict) and s.get("queryable") and "name" in s
            ]
        out = []
        for name in names:
            fields = self._describe(name)
            cols = tuple(Column(str(f["name"]), str(f.get("type", "string"))) for f in fields)
            out.append(StreamInfo(name, cols, key="Id", cursor_field=self.options.cursor_field))
        return out

    def read(
        self, stream: str, *, key: str, since: str | None = None, batch_size: int = DEFAULT_BATCH_SIZE
    ) -> Iterator[Batch]:
        cf = _ident(self.options.cursor_field)
        fields = self._select(stream, key, extra=(cf, "IsDeleted"))
        last, job = _load_cursor(since) if since else (None, None)
        if job is not None:  # a bulk read interrupted midway: go on with the same job
            try:
                yield from self._bulk_results(stream, key, job, batch_size)
                return
            except _JobGone:
                last = job.origin  # the job's results are gone: start it again
        where = ""
        resource = "query"
        if last:
            ts, kid = last
            where = f" WHERE {cf} > {ts} OR ({cf} = {ts} AND Id > {_quote(kid)})"
            resource = "queryAll"  # includes deleted records: they become tombstones
        elif (start := start_epoch(self.options.start_date)) is not None:
            when = dt.datetime.fromtimestamp(start, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            where = f" WHERE {cf} >= {when}"
        soql = f"SELECT {', '.join(fields)} FROM {_ident(stream)}{where}"
        if self._use_bulk(stream, resource, where):
            # No ORDER BY: it turns off the chunking that makes bulk queries of large objects
            # finish, so the keyset is tracked over the whole job instead.
            job_id = self._create_job(stream, resource, soql)
            yield from self._bulk_results(stream, key, _Job(job_id, None, None, last), batch_size, fresh=True)
            return
        since_cursor = json.dumps(last) if last else since
        for n, body in enumerate(self._pages(resource, f"{soql} ORDER BY {cf}, Id", batch_size), start=1):
            records, bad = _records(body, key, f"{resource} {stream} page {n}")
            for rec in records:
                mark = _keyset(rec, cf)
                if mark is not None:
                    last = mark
            yield Batch(records, json.dumps(last) if last else since_cursor, bad)

    def lookup(self, stream: str, *, key: str, keys: Sequence[str]) -> list[Record]:
        if not keys:
            return []
        fields = self._select(stream, key, extra=())
        out: list[Record] = []
        for i in range(0, len(keys), 200):
            chunk = ", ".join(_quote(str(k)) for k in keys[i : i + 200])
            soql = f"SELECT {', '.join(fields)} FROM {_ident(stream)} WHERE {_ident(key)} IN ({chunk})"
            for body in self._pages("query", soql, DEFAULT_BATCH_SIZE):
                records, _ = _records(body, key, f"lookup {stream}")
                out.extend(records)
        return out

    def close(self) -> None:
        self.http.close()
        if self.session is not None:
            self.session.close()

    # -- Bulk API 2.0 -----------------------------------------------------------
    def _use_bulk(self, stream: str, resource: str, where: str) -> bool:
        """Bulk when asked to, or (auto) when the read would return more than the threshold."""
        if self.options.bulk != "auto":
            return bool(self.options.bulk)
        soql = f"SELECT COUNT() FROM {_ident(stream)}{where}"
        body = self._get(f"{self.api}/{resource}/", params={"q": soql})
        total = body.get("totalSize")
        return isinstance(total, int) and total > self.options.bulk_threshold

    def _create_job(self, stream: str, resource: str, soql: str) -> str:
        url = f"{self.api}/jobs/query"
        job = json_object(
            "salesforce",
            self.http.post(
                url,
                json={
                    "operation": resource,
                    "query": soql,
                    "contentType": "CSV",
                    "columnDelimiter": "COMMA",
                    "lineEnding": "LF",
                },
            ),
            f"POST {url}",
        )
        job_id = str(job.get("id") or "")
        if not re.fullmatch(r"[A-Za-z0-9]{15,18}", job_id):
            raise TerminalSourceError("salesforce", f"POST {url} answered without a job id")
        self.bulk_jobs.append(job_id)
        self._wait_for(stream, job_id, job)
        return job_id

    def _bulk_results(
        self, stream: str, key: str, job: _Job, batch_size: int, *, fresh: bool = False
    ) -> Iterator[Batch]:
        """A complete job's CSV results, page by page from ``job.locator``.

        The results come in no order, so the keyset cursor moves only at the end of the job;
        until then each batch's cursor names the job and the page to go on from (Salesforce
        keeps a job's results for days), so an interrupted read resumes where it stopped.
        """
        cf = self.options.cursor_field
        url = f"{self.api}/jobs/query/{job.id}/results"
        types = self._field_types(stream)
        page = 0
        while True:
            page += 1
            params: dict[str, Any] = {"maxRecords": self.options.bulk_page_size}
            if job.locator:
                params["locator"] = job.locator
            where = f"Bulk API job {job.id} ({stream}) results page {page}"
            try:
                response = self.http.get(url, params=params)
            except TerminalSourceError as exc:
                if page == 1 and not fresh and "answered 404" in str(exc):
                    raise _JobGone from None
                raise
            rows, bad = _csv_records(response.text, stream, key, types, where, self.api)
            here = job.dump()  # re-reading this page is harmless; skipping it is not
            for rec in rows:
                mark = _keyset(rec, cf)
                if mark is not None and (job.mark is None or mark > job.mark):
                    job.mark = mark
            locator = response.headers.get("Sforce-Locator")
            more = bool(locator) and locator != "null"
            job.locator = locator if more else None
            chunks = [rows[i : i + batch_size] for i in range(0, len(rows), max(1, batch_size))]
            for i, chunk in enumerate(chunks or [[]]):
                final = i == len(chunks or [[]]) - 1
                cursor = (job.dump() if more else job.finished()) if final else here
                yield Batch(chunk, cursor, bad if i == 0 else [])
            if not more:
                return

    def _wait_for(self, stream: str, job_id: str, job: dict[str, Any]) -> None:
        url = f"{self.api}/jobs/query/{job_id}"
        waited, interval = 0.0, self.options.bulk_poll_interval
        state = str(job.get("state") or "")
        while state not in _BULK_END:
            if waited >= self.options.bulk_timeout:
                raise TerminalSourceError(
                    "salesforce",
                    f"Bulk API query job {job_id} on {stream} is still {state} "
                    f"after {waited:.0f} s: raise the 'bulk_timeout' option, or read it through "
                    "REST with 'bulk: false'",
                )
            self._sleep(interval)
            waited += interval
            interval = min(interval * 2, _MAX_POLL)
            job = self._get(url)
            state = str(job.get("state") or "")
        if state != "JobComplete":
            message = str(job.get("errorMessage") or "no errorMessage given")[:300]
            raise TerminalSourceError(
                "salesforce",
                f"Bulk API query job {job_id} on {stream} ended {state}: {message}"
                + (
                    "; check the 'fields' and 'cursor_field' options, or read it through REST with 'bulk: false'"
                    if state == "Failed"
                    else "; someone aborted it in the org (Setup > Bulk Data Load Jobs): sync again"
                ),
            )

    def _field_types(self, stream: str) -> dict[str, str]:
        if stream not in self._types:
            self._types[stream] = {str(f["name"]): str(f.get("type", "string")) for f in self._describe(stream)}
        return self._types[stream]

    def _secrets(self) -> list[str]:
        out = self.session.secrets if self.session is not None else []
        if self.options.access_token is not None:
            out.append(self.options.access_token.get_secret_value())
        return out

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
        fields = [f for f in body.get("fields") or [] if isinstance(f, dict) and "name" in f]
        self._types[stream] = {str(f["name"]): str(f.get("type", "string")) for f in fields}
        return fields

    def _select(self, stream: str, key: str, *, extra: Sequence[str]) -> list[str]:
        if self.options.fields is not None:
            fields = [_ident(f) for f in self.options.fields]
        else:
            if stream not in self._fields:
                self._fields[stream] = [
                    str(f["name"]) for f in self._describe(stream) if f.get("type") not in _UNQUERYABLE_TYPES
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


def _csv_records(
    text: str, stream: str, key: str, types: dict[str, str], where: str, api: str
) -> tuple[list[Record], list[Quarantined]]:
    """A Bulk API CSV page as records shaped like the REST API's (typed, ``attributes`` too).

    The CSV has no nulls: an empty value is None. Booleans and numbers are typed by the
    object's describe; ``Account.Name`` columns nest as ``{"Account": {"Name": ...}}``.
    """
    records: list[Record] = []
    bad: list[Quarantined] = []
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None) or []
    plan = [(name, *name.partition(".")[::2], types.get(name)) for name in header]
    width = len(plan)
    for i, row in enumerate(reader):
        data: dict[str, Any] = {"attributes": {"type": stream}}
        problem = "more values than columns" if len(row) > width else None
        for (name, head, rest, kind), raw in zip(plan, row, strict=False):
            value = _typed(raw, kind)
            if value is _BAD:
                problem = f"'{name}' is not a {kind}: {raw!r:.40}"
                value = raw
            if rest:
                parent = data.setdefault(head, {})
                if isinstance(parent, dict):
                    parent[rest] = value
            else:
                data[name] = value
        if data.get("Id"):
            data["attributes"]["url"] = f"{api}/sobjects/{stream}/{data['Id']}"
        location = f"{where} row {i + 1}"
        if problem is not None:
            bad.append(Quarantined(location, problem, json.dumps(row)[:1000]))
            continue
        k = item_key(data, key, location, bad)
        if k is not None:
            records.append(Record(k, data, data.get("IsDeleted") is True))
    return records, bad


_BAD = object()


def _typed(raw: str | None, kind: str | None) -> Any:
    if raw is None or raw == "":
        return None
    if kind == "boolean":
        return {"true": True, "false": False}.get(raw.lower(), _BAD)
    convert = _NUMBERS.get(kind or "")
    if convert is not None:
        try:
            return convert(raw)
        except ValueError:
            return _BAD
    return raw


def _pace(response: httpx.Response, below: float) -> float:
    """Spread what is left of the org's daily API requests (``Sforce-Limit-Info``)."""
    m = _USAGE.search(response.headers.get("Sforce-Limit-Info") or "")
    if not m:
        return 0.0
    used, limit = int(m[1]), int(m[2])
    return pace_delay(limit - used, limit, window=_DAY, below=below)


class _JobGone(Exception):
    """The bulk job a cursor resumes no longer has its results."""


class _Job:
    """A bulk read under way: the job, the next results page, the newest keyset read so far,
    and the keyset the job started from (to start again if its results are gone)."""

    def __init__(self, ident: str, locator: str | None, mark: list[str] | None, origin: list[str] | None) -> None:
        self.id, self.locator, self.mark, self.origin = ident, locator, mark, origin

    def dump(self) -> str:
        return json.dumps({"bulk_job": self.id, "locator": self.locator, "mark": self.mark, "from": self.origin})

    def finished(self) -> str | None:
        done = self.mark or self.origin
        return json.dumps(done) if done else None


def _keyset(rec: Record, cf: str) -> list[str] | None:
    ts = get_path(rec.data, cf)
    if isinstance(ts, str) and _DATETIME.match(ts) and rec.data.get("Id"):
        return [ts, str(rec.data["Id"])]
    return None


def _load_cursor(since: str) -> tuple[list[str] | None, _Job | None]:
    """``[SystemModstamp, Id]``, or a bulk job's progress ``{"bulk_job": ..., ...}``."""
    try:
        value = json.loads(since)
    except ValueError:
        value = None
    if _is_keyset(value):
        return [value[0], value[1]], None
    if (
        isinstance(value, dict)
        and isinstance(value.get("bulk_job"), str)
        and all(v is None or _is_keyset(v) for v in (value.get("mark"), value.get("from")))
    ):
        locator = value.get("locator")
        return None, _Job(value["bulk_job"], str(locator) if locator else None, value.get("mark"), value.get("from"))
    raise TerminalSourceError("salesforce", f"cannot resume from cursor {since[:80]!r}: expected [SystemModstamp, Id]")


def _is_keyset(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, str) for v in value)
        and bool(_DATETIME.match(value[0]))
    )


def _ident(name: str) -> str:
    if not _NAME.match(name):
        raise TerminalSourceError("salesforce", f"'{name}' is not a valid object or field name")
    return name


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _classify(
    response: httpx.Response, *, renewing: bool = False, secrets: Sequence[str] = ()
) -> TransientSourceError | TerminalSourceError | None:
    """Read Salesforce's ``[{"message": ..., "errorCode": ...}]`` error arrays."""
    try:
        body = response.json()
    except ValueError:
        return None
    first = body[0] if isinstance(body, list) and body and isinstance(body[0], dict) else None
    if first is None:
        return None
    code = str(first.get("errorCode") or "")
    detail = scrub(f"{code}: {str(first.get('message') or '')[:200]}", secrets)
    where = f"{response.request.method} {response.request.url.path} answered {response.status_code}"
    if code in _TRANSIENT_CODES:
        return RetryableSourceError(
            "salesforce",
            f"{where} ({detail})",
            next_step=_TRANSIENT_CODES[code],
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )
    if response.status_code == 401 or code == "INVALID_SESSION_ID":
        if renewing:
            return TerminalSourceError(
                "salesforce",
                f"{where} ({detail}); a freshly renewed access token was refused "
                "too: check that instance_url is the org the app's token is for and that the "
                "user is active",
            )
        return TerminalSourceError(
            "salesforce",
            f"{where} ({detail}); the access token is expired or invalid: "
            "get a fresh one for this instance_url, or set 'oauth' so it renews itself",
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
