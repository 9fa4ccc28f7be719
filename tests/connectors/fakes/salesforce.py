"""A fake Salesforce REST API: SOQL query/queryAll with nextRecordsUrl, sobjects, describe, and
Bulk API 2.0 query jobs (create, poll, CSV results paged with ``Sforce-Locator``)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from tests.connectors.fakes import ApiFake
from tests.connectors.httpfake import FakeRequest, FakeResponse

TOKEN = "00Dxx0000001gPL!AQ4AQFakeSessionId"
VERSION = "59.0"
FIELDS = {
    "Account": [
        ("Id", "id"),
        ("IsDeleted", "boolean"),
        ("Name", "string"),
        ("Website", "url"),
        ("BillingPostalCode", "string"),
        ("SystemModstamp", "datetime"),
        ("Logo", "base64"),
    ],
    "Contact": [
        ("Id", "id"),
        ("IsDeleted", "boolean"),
        ("AccountId", "reference"),
        ("Email", "email"),
        ("LastName", "string"),
        ("SystemModstamp", "datetime"),
    ],
    "Opportunity": [
        ("Id", "id"),
        ("IsDeleted", "boolean"),
        ("AccountId", "reference"),
        ("Name", "string"),
        ("StageName", "picklist"),
        ("Amount", "currency"),
        ("IsWon", "boolean"),
        ("SystemModstamp", "datetime"),
    ],
    "Case": [
        ("Id", "id"),
        ("IsDeleted", "boolean"),
        ("AccountId", "reference"),
        ("ContactId", "reference"),
        ("Subject", "string"),
        ("Status", "picklist"),
        ("SystemModstamp", "datetime"),
    ],
}
_SELECT = re.compile(
    r"^SELECT (?P<fields>.+?) FROM (?P<obj>\w+)(?: WHERE (?P<where>.+?))?"
    r"(?: ORDER BY (?P<order>[\w, ]+))?$"
)
_KEYSET = re.compile(r"^(\w+) > (\S+) OR \((\w+) = (\S+) AND Id > '((?:[^'\\]|\\.)*)'\)$")
_IN = re.compile(r"^(\w+) IN \((.*)\)$")
_SINCE = re.compile(r"^(\w+) >= (\S+)$")


def _soql_time(value: str) -> str:
    """A SOQL datetime literal in the stamp() format, so the two compare as text."""
    when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def stamp(seconds: int) -> str:
    when = dt.datetime.fromtimestamp(1_700_000_000 + seconds, dt.UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def _error(status: int, code: str, message: str) -> FakeResponse:
    return FakeResponse(status, [{"message": message, "errorCode": code}])


@dataclass
class SalesforceFake(ApiFake):
    records: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {name: [] for name in FIELDS})
    token: str = TOKEN
    page_size: int = 2
    queries: list[tuple[str, str]] = field(default_factory=list)  # (resource, soql)
    _locators: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)  # Bulk API 2.0 query jobs
    polls_before_done: int = 1  # status requests answered InProgress before the job ends
    fail_jobs: str | None = None  # the errorMessage of every job from now on (state Failed)

    def put(self, obj: str, rid: str | None, at: int, **values: Any) -> None:
        item: dict[str, Any] = {"IsDeleted": False, **values, "SystemModstamp": stamp(at)}
        if rid is not None:
            item["Id"] = rid
        rows = self.records[obj]
        for i, old in enumerate(rows):
            if rid is not None and old.get("Id") == rid:
                rows[i] = {**old, **item}
                return
        rows.append(item)

    def delete(self, obj: str, rid: str, at: int) -> None:
        self.put(obj, rid, at, IsDeleted=True)

    def authenticate(self, req: FakeRequest) -> FakeResponse | None:
        if self.token_ok(req, self.token):
            return None
        return _error(401, "INVALID_SESSION_ID", "Session expired or invalid")

    def route(self, req: FakeRequest) -> FakeResponse:
        base = f"/services/data/v{VERSION}"
        if not req.path.startswith(base):
            return _error(404, "NOT_FOUND", "The requested resource does not exist")
        rest = req.path[len(base) :].strip("/").split("/")
        if rest == ["limits"]:
            return FakeResponse(200, {"DailyApiRequests": {"Max": 15000, "Remaining": 14990}})
        if rest == ["sobjects"]:
            return FakeResponse(
                200,
                {
                    "encoding": "UTF-8",
                    "maxBatchSize": 200,
                    "sobjects": [{"name": n, "label": n, "queryable": True, "custom": False} for n in FIELDS]
                    + [{"name": "AccountHistory", "label": "Account History", "queryable": False}],
                },
            )
        if len(rest) == 3 and rest[0] == "sobjects" and rest[2] == "describe":
            if rest[1] not in FIELDS:
                return _error(404, "NOT_FOUND", "The requested resource does not exist")
            return FakeResponse(
                200, {"name": rest[1], "fields": [{"name": n, "type": t, "label": n} for n, t in FIELDS[rest[1]]]}
            )
        if rest[:2] == ["jobs", "query"]:
            return self._jobs(req, rest[2:])
        if rest[0] in ("query", "queryAll"):
            if len(rest) == 2:
                return self._more(rest[1])
            return self._query(rest[0], req.arg("q") or "")
        return _error(404, "NOT_FOUND", "The requested resource does not exist")

    def _query(self, resource: str, soql: str) -> FakeResponse:
        self.queries.append((resource, soql))
        found = self._select(resource, soql)
        if isinstance(found, FakeResponse):
            return found
        obj, fields, rows = found
        if fields == ["COUNT()"]:
            return FakeResponse(200, {"totalSize": len(rows), "done": True, "records": []})
        shaped = [self._shape(obj, r, fields) for r in rows]
        return self._page(shaped, len(shaped), 0, str(uuid.uuid4().hex[:15]))

    def _select(self, resource: str, soql: str) -> FakeResponse | tuple[str, list[str], list[dict[str, Any]]]:
        m = _SELECT.match(soql)
        if not m or m["obj"] not in self.records:
            return _error(
                400, "MALFORMED_QUERY" if not m else "INVALID_TYPE", f"sObject type or query not supported: {soql[:80]}"
            )
        obj = m["obj"]
        fields = [f.strip() for f in m["fields"].split(",")]
        known = {n for n, _ in FIELDS[obj]} | {"COUNT()"}
        unknown = [f for f in fields if f not in known]
        if unknown:
            return _error(400, "INVALID_FIELD", f"No such column '{unknown[0]}' on entity '{obj}'")
        rows = [r for r in self.records[obj] if resource == "queryAll" or not r["IsDeleted"]]
        where = m["where"]
        if where:
            if k := _KEYSET.match(where):
                cf, ts, kid = k[1], k[2], k[5].replace("\\'", "'")
                rows = [
                    r for r in rows if (r.get(cf) or "") > ts or ((r.get(cf) or "") == ts and (r.get("Id") or "") > kid)
                ]
            elif since := _SINCE.match(where):
                bound = _soql_time(since[2])
                rows = [r for r in rows if (r.get(since[1]) or "") >= bound]
            elif i := _IN.match(where):
                wanted = {v.strip().strip("'") for v in i[2].split(",")}
                rows = [r for r in rows if str(r.get(i[1])) in wanted]
            else:
                return _error(400, "MALFORMED_QUERY", f"unexpected WHERE: {where}")
        if m["order"]:
            keys = [o.strip() for o in m["order"].split(",")]
            rows.sort(key=lambda r: tuple(str(r.get(k) or "") for k in keys))
        return obj, fields, rows

    # -- Bulk API 2.0 -------------------------------------------------------------
    def _jobs(self, req: FakeRequest, rest: list[str]) -> FakeResponse:
        if not rest and req.method == "POST":
            spec = req.json()
            if spec.get("operation") not in ("query", "queryAll") or spec.get("contentType", "CSV") != "CSV":
                return _error(400, "INVALIDJOB", "InvalidJob : operation must be query/queryAll")
            self.queries.append((f"bulk {spec['operation']}", spec["query"]))
            found = self._select(spec["operation"], spec["query"])
            if isinstance(found, FakeResponse):
                return found
            obj, fields, rows = found
            job_id = f"750R{len(self.jobs) + 1:011d}"
            self.jobs[job_id] = {
                "id": job_id,
                "operation": spec["operation"],
                "object": obj,
                "createdById": "005R0000000fake",
                "state": "UploadComplete",
                "concurrencyMode": "Parallel",
                "contentType": "CSV",
                "apiVersion": float(VERSION),
                "lineEnding": "LF",
                "columnDelimiter": "COMMA",
                "_fields": fields,
                "_rows": rows,
                "_polls": 0,
                "_fail": self.fail_jobs,
            }
            return FakeResponse(200, _public(self.jobs[job_id]))
        job = self.jobs.get(rest[0]) if rest else None
        if job is None:
            return _error(404, "NOT_FOUND", "The requested resource does not exist")
        if len(rest) == 1 and req.method == "GET":
            job["_polls"] += 1
            if job["state"] not in ("JobComplete", "Failed", "Aborted"):
                if job["_polls"] <= self.polls_before_done:
                    job["state"] = "InProgress"
                elif job["_fail"]:
                    job.update(state="Failed", errorMessage=job["_fail"])
                else:
                    job.update(state="JobComplete", numberRecordsProcessed=len(job["_rows"]))
            return FakeResponse(200, _public(job))
        if rest[1:] == ["results"] and req.method == "GET":
            if job["state"] != "JobComplete":
                return _error(400, "API_ERROR", f"Job {job['id']} is not complete")
            return self._results(job, req)
        return _error(404, "NOT_FOUND", "The requested resource does not exist")

    def _results(self, job: dict[str, Any], req: FakeRequest) -> FakeResponse:
        start = int(req.arg("locator") or 0)
        size = int(req.arg("maxRecords") or 10_000)
        rows = job["_rows"][start : start + size]
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(job["_fields"])
        for row in rows:
            writer.writerow([_csv_value(row.get(f)) for f in job["_fields"]])
        more = start + size < len(job["_rows"])
        return FakeResponse(
            200,
            out.getvalue().encode(),
            {
                "Content-Type": "text/csv",
                "Sforce-NumberOfRecords": str(len(rows)),
                "Sforce-Locator": str(start + size) if more else "null",
            },
        )

    def _shape(self, obj: str, row: dict[str, Any], fields: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "attributes": {"type": obj, "url": f"/services/data/v{VERSION}/sobjects/{obj}/{row.get('Id')}"}
        }
        out.update({f: row.get(f) for f in fields if f in row or f != "Id"})
        return out

    def _page(self, rows: list[dict[str, Any]], total: int, offset: int, locator: str) -> FakeResponse:
        page = rows[offset : offset + self.page_size]
        done = offset + self.page_size >= len(rows)
        body: dict[str, Any] = {"totalSize": total, "done": done, "records": page}
        if not done:
            self._locators[locator] = rows
            body["nextRecordsUrl"] = f"/services/data/v{VERSION}/query/{locator}-{offset + self.page_size}"
        return FakeResponse(200, body)

    def _more(self, ident: str) -> FakeResponse:
        locator, _, offset = ident.rpartition("-")
        rows = self._locators.get(locator)
        if rows is None:
            return _error(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return self._page(rows, len(rows), int(offset), locator)


def _public(job: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in job.items() if not k.startswith("_")}


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
