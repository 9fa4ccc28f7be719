"""A fake Salesforce REST API: SOQL query/queryAll with nextRecordsUrl, sobjects, describe."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from tests.connectors.fakes import ApiFake
from tests.connectors.httpfake import FakeRequest, FakeResponse

TOKEN = "00Dxx0000001gPL!AQ4AQFakeSessionId"
VERSION = "59.0"
FIELDS = {
    "Account": [("Id", "id"), ("IsDeleted", "boolean"), ("Name", "string"),
                ("Website", "url"), ("BillingPostalCode", "string"),
                ("SystemModstamp", "datetime"), ("Logo", "base64")],
    "Contact": [("Id", "id"), ("IsDeleted", "boolean"), ("AccountId", "reference"),
                ("Email", "email"), ("LastName", "string"), ("SystemModstamp", "datetime")],
}
_SELECT = re.compile(r"^SELECT (?P<fields>.+?) FROM (?P<obj>\w+)(?: WHERE (?P<where>.+?))?"
                     r"(?: ORDER BY (?P<order>[\w, ]+))?$")
_KEYSET = re.compile(r"^(\w+) > (\S+) OR \((\w+) = (\S+) AND Id > '((?:[^'\\]|\\.)*)'\)$")
_IN = re.compile(r"^(\w+) IN \((.*)\)$")


def stamp(seconds: int) -> str:
    when = dt.datetime.fromtimestamp(1_700_000_000 + seconds, dt.UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def _error(status: int, code: str, message: str) -> FakeResponse:
    return FakeResponse(status, [{"message": message, "errorCode": code}])


@dataclass
class SalesforceFake(ApiFake):
    records: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {"Account": [], "Contact": []})
    token: str = TOKEN
    page_size: int = 2
    queries: list[tuple[str, str]] = field(default_factory=list)  # (resource, soql)
    _locators: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

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
        if req.headers.get("authorization") == f"Bearer {self.token}":
            return None
        return _error(401, "INVALID_SESSION_ID", "Session expired or invalid")

    def route(self, req: FakeRequest) -> FakeResponse:
        base = f"/services/data/v{VERSION}"
        if not req.path.startswith(base):
            return _error(404, "NOT_FOUND", "The requested resource does not exist")
        rest = req.path[len(base):].strip("/").split("/")
        if rest == ["limits"]:
            return FakeResponse(200, {"DailyApiRequests": {"Max": 15000, "Remaining": 14990}})
        if rest == ["sobjects"]:
            return FakeResponse(200, {"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": [
                {"name": n, "label": n, "queryable": True, "custom": False} for n in FIELDS
            ] + [{"name": "AccountHistory", "label": "Account History", "queryable": False}]})
        if len(rest) == 3 and rest[0] == "sobjects" and rest[2] == "describe":
            if rest[1] not in FIELDS:
                return _error(404, "NOT_FOUND", "The requested resource does not exist")
            return FakeResponse(200, {"name": rest[1], "fields": [
                {"name": n, "type": t, "label": n} for n, t in FIELDS[rest[1]]]})
        if rest[0] in ("query", "queryAll"):
            if len(rest) == 2:
                return self._more(rest[1])
            return self._query(rest[0], req.arg("q") or "")
        return _error(404, "NOT_FOUND", "The requested resource does not exist")

    def _query(self, resource: str, soql: str) -> FakeResponse:
        self.queries.append((resource, soql))
        m = _SELECT.match(soql)
        if not m or m["obj"] not in self.records:
            return _error(400, "MALFORMED_QUERY" if not m else "INVALID_TYPE",
                          f"sObject type or query not supported: {soql[:80]}")
        obj = m["obj"]
        fields = [f.strip() for f in m["fields"].split(",")]
        known = {n for n, _ in FIELDS[obj]}
        unknown = [f for f in fields if f not in known]
        if unknown:
            return _error(400, "INVALID_FIELD", f"No such column '{unknown[0]}' on entity '{obj}'")
        rows = [r for r in self.records[obj] if resource == "queryAll" or not r["IsDeleted"]]
        where = m["where"]
        if where:
            if k := _KEYSET.match(where):
                cf, ts, kid = k[1], k[2], k[5].replace("\\'", "'")
                rows = [r for r in rows if (r.get(cf) or "") > ts
                        or ((r.get(cf) or "") == ts and (r.get("Id") or "") > kid)]
            elif i := _IN.match(where):
                wanted = {v.strip().strip("'") for v in i[2].split(",")}
                rows = [r for r in rows if str(r.get(i[1])) in wanted]
            else:
                return _error(400, "MALFORMED_QUERY", f"unexpected WHERE: {where}")
        if m["order"]:
            keys = [o.strip() for o in m["order"].split(",")]
            rows.sort(key=lambda r: tuple(str(r.get(k) or "") for k in keys))
        shaped = [self._shape(obj, r, fields) for r in rows]
        return self._page(shaped, len(shaped), 0, str(uuid.uuid4().hex[:15]))

    def _shape(self, obj: str, row: dict[str, Any], fields: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {"attributes": {
            "type": obj, "url": f"/services/data/v{VERSION}/sobjects/{obj}/{row.get('Id')}"}}
        out.update({f: row.get(f) for f in fields if f in row or f != "Id"})
        return out

    def _page(self, rows: list[dict[str, Any]], total: int, offset: int,
              locator: str) -> FakeResponse:
        page = rows[offset : offset + self.page_size]
        done = offset + self.page_size >= len(rows)
        body: dict[str, Any] = {"totalSize": total, "done": done, "records": page}
        if not done:
            self._locators[locator] = rows
            body["nextRecordsUrl"] = (
                f"/services/data/v{VERSION}/query/{locator}-{offset + self.page_size}")
        return FakeResponse(200, body)

    def _more(self, ident: str) -> FakeResponse:
        locator, _, offset = ident.rpartition("-")
        rows = self._locators.get(locator)
        if rows is None:
            return _error(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return self._page(rows, len(rows), int(offset), locator)
