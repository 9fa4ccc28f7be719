"""A BigQuery REST endpoint backed by DuckDB, for google-cloud-bigquery pointed at it.

It answers the calls the client makes for ``client.query(...).result(page_size=...)``
and for discovery, in the documented v2 shapes:

``POST /bigquery/v2/projects/{p}/jobs``                 jobs.insert (the job runs at once: DONE)
``GET  /bigquery/v2/projects/{p}/queries/{job}``        jobs.getQueryResults (maxResults, pageToken)
``GET  /bigquery/v2/projects/{p}/datasets/{d}``         datasets.get
``GET  /bigquery/v2/projects/{p}/datasets/{d}/tables``  tables.list
``GET  /bigquery/v2/projects/{p}/datasets/{d}/tables/{t}``  tables.get (schema)

Queries are GoogleSQL: parsed with sqlglot, parameters bound as literals, table
names checked against the dataset, then run on DuckDB. Rows go back as
``{"f": [{"v": ...}]}`` with TIMESTAMPs as int64 microseconds (the client asks
for ``formatOptions.useInt64Timestamp``). Errors use BigQuery's error body.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb
import sqlglot
from sqlglot import exp

from tests.connectors.fakes_platform.common import Faults
from tests.connectors.httpfake import FakeRequest, FakeResponse

DUCK_TYPES = {
    "STRING": "VARCHAR",
    "INTEGER": "BIGINT",
    "FLOAT": "DOUBLE",
    "BOOLEAN": "BOOLEAN",
    "TIMESTAMP": "TIMESTAMPTZ",
}
BQ_TYPES = {
    "VARCHAR": "STRING",
    "BIGINT": "INTEGER",
    "INTEGER": "INTEGER",
    "DOUBLE": "FLOAT",
    "BOOLEAN": "BOOLEAN",
    "TIMESTAMP WITH TIME ZONE": "TIMESTAMP",
}


def error(code: int, status: str, reason: str, message: str) -> FakeResponse:
    return FakeResponse(
        code,
        {
            "error": {
                "code": code,
                "message": message,
                "status": status,
                "errors": [{"message": message, "domain": "global", "reason": reason}],
            }
        },
    )


class QueryError(Exception):
    def __init__(self, response: FakeResponse) -> None:
        self.response = response


@dataclass
class BigQueryApi:
    project: str = "acme"
    dataset: str = "product"
    faults: Faults = field(default_factory=Faults)
    reject_credentials: bool = False
    deny_access: bool = False
    db: Any = None
    schemas: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    results: dict[str, tuple[list[dict[str, Any]], list[tuple[Any, ...]]]] = field(default_factory=dict)
    queries: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.db = duckdb.connect()
        self.db.execute("SET TimeZone='UTC'")
        self._ids = itertools.count(1)

    # -- test set-up ------------------------------------------------------------
    def create_table(self, name: str, schema: list[tuple[str, str]]) -> None:
        cols = ", ".join(f'"{n}" {DUCK_TYPES[t]}' for n, t in schema)
        self.db.execute(f'CREATE TABLE "{name}" ({cols})')
        self.schemas[name] = schema

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        with self.lock:
            self.db.execute(sql, list(params))

    def rate_limit(self) -> None:
        self.faults.queue.append(
            error(
                429, "RESOURCE_EXHAUSTED", "rateLimitExceeded", "Exceeded rate limits: too many api requests per user"
            )
        )

    def server_error(self, code: int = 503) -> None:
        self.faults.queue.append(
            error(code, "UNAVAILABLE", "backendError", "Error encountered during execution. Retrying may solve it.")
        )

    # -- HTTP -------------------------------------------------------------------
    def __call__(self, req: FakeRequest) -> FakeResponse:
        fault = self.faults.take()
        if fault is not None:
            return fault
        if self.reject_credentials:
            return error(401, "UNAUTHENTICATED", "required", "Request is missing required authentication credential.")
        if self.deny_access:
            return error(
                403,
                "PERMISSION_DENIED",
                "accessDenied",
                "Access Denied: User does not have bigquery.jobs.create permission",
            )
        parts = req.path.removeprefix("/bigquery/v2/").strip("/").split("/")
        try:
            with self.lock:
                return self.route(req, parts)
        except QueryError as exc:
            return exc.response

    def route(self, req: FakeRequest, parts: list[str]) -> FakeResponse:
        if len(parts) < 2 or parts[0] != "projects" or parts[1] != self.project:
            return error(404, "NOT_FOUND", "notFound", f"Not found: Project {parts[1:2]}")
        rest = parts[2:]
        if req.method == "POST" and rest == ["jobs"]:
            return self.insert_job(req.json())
        if req.method == "GET" and len(rest) == 2 and rest[0] == "queries":
            return self.query_results(rest[1], req)
        if rest[:1] == ["datasets"] and len(rest) >= 2:
            if rest[1] != self.dataset:
                return error(404, "NOT_FOUND", "notFound", f"Not found: Dataset {self.project}:{rest[1]}")
            if len(rest) == 2:
                return FakeResponse(
                    200,
                    {
                        "kind": "bigquery#dataset",
                        "id": f"{self.project}:{self.dataset}",
                        "datasetReference": self._dataset_ref(),
                        "location": "US",
                    },
                )
            if len(rest) == 3 and rest[2] == "tables":
                return FakeResponse(
                    200,
                    {
                        "kind": "bigquery#tableList",
                        "totalItems": len(self.schemas),
                        "tables": [self._table_item(t) for t in sorted(self.schemas)],
                    },
                )
            if len(rest) == 4 and rest[2] == "tables":
                return self.get_table(rest[3])
        return error(400, "INVALID_ARGUMENT", "invalid", f"unsupported call {req.method} {req.path}")

    def _dataset_ref(self) -> dict[str, str]:
        return {"projectId": self.project, "datasetId": self.dataset}

    def _table_item(self, name: str) -> dict[str, Any]:
        return {
            "kind": "bigquery#table",
            "id": f"{self.project}:{self.dataset}.{name}",
            "tableReference": {**self._dataset_ref(), "tableId": name},
            "type": "TABLE",
        }

    def get_table(self, name: str) -> FakeResponse:
        if name not in self.schemas:
            return error(404, "NOT_FOUND", "notFound", f"Not found: Table {self.project}:{self.dataset}.{name}")
        count = self.db.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]
        return FakeResponse(
            200,
            {
                **self._table_item(name),
                "schema": {"fields": [{"name": n, "type": t, "mode": "NULLABLE"} for n, t in self.schemas[name]]},
                "numRows": str(count),
                "creationTime": "1704067200000",
            },
        )

    # -- jobs -------------------------------------------------------------------
    def insert_job(self, body: dict[str, Any]) -> FakeResponse:
        config = body["configuration"]["query"]
        ref = dict(body.get("jobReference") or {})
        ref.setdefault("jobId", f"job_{next(self._ids)}")
        ref.setdefault("projectId", self.project)
        ref["location"] = "US"
        sql = self.translate(config["query"], config.get("queryParameters", []))
        self.queries.append(sql)
        try:
            cur = self.db.execute(sql)
        except duckdb.Error as exc:
            raise QueryError(error(400, "INVALID_ARGUMENT", "invalidQuery", str(exc))) from None
        fields = [
            {"name": d[0], "type": BQ_TYPES.get(str(d[1]), "STRING"), "mode": "NULLABLE"} for d in cur.description
        ]
        self.results[ref["jobId"]] = (fields, cur.fetchall())
        now = "1704067200000"
        return FakeResponse(
            200,
            {
                "kind": "bigquery#job",
                "id": f"{ref['projectId']}:US.{ref['jobId']}",
                "jobReference": ref,
                "configuration": body["configuration"],
                "status": {"state": "DONE"},
                "statistics": {
                    "creationTime": now,
                    "startTime": now,
                    "endTime": now,
                    "query": {"totalBytesProcessed": "0", "statementType": "SELECT"},
                },
            },
        )

    def query_results(self, job_id: str, req: FakeRequest) -> FakeResponse:
        if job_id not in self.results:
            return error(404, "NOT_FOUND", "notFound", f"Not found: Job {self.project}:US.{job_id}")
        fields, rows = self.results[job_id]
        start = int(req.arg("pageToken") or req.arg("startIndex") or 0)
        size = int(req.arg("maxResults") or 100_000)
        chunk = rows[start : start + size] if size else []
        micros = req.arg("formatOptions.useInt64Timestamp") in ("true", "True", "1")
        body: dict[str, Any] = {
            "kind": "bigquery#getQueryResultsResponse",
            "jobReference": {"projectId": self.project, "jobId": job_id, "location": "US"},
            "schema": {"fields": fields},
            "totalRows": str(len(rows)),
            "jobComplete": True,
            "cacheHit": False,
            "totalBytesProcessed": "0",
        }
        if size:
            body["rows"] = [
                {"f": [{"v": encode(v, f["type"], micros)} for v, f in zip(row, fields, strict=True)]} for row in chunk
            ]
        if size and start + size < len(rows):
            body["pageToken"] = str(start + size)
        return FakeResponse(200, body)

    # -- SQL --------------------------------------------------------------------
    def translate(self, sql: str, parameters: list[dict[str, Any]]) -> str:
        values = {p["name"]: literal(p) for p in parameters}
        tree = sqlglot.parse_one(sql, read="bigquery")

        def rewrite(node: exp.Expression) -> exp.Expression:
            if isinstance(node, exp.Parameter):
                name = node.name
                if name not in values:
                    raise QueryError(
                        error(400, "INVALID_ARGUMENT", "invalidQuery", f"Query parameter '{name}' not found")
                    )
                return values[name]
            if isinstance(node, exp.Table):
                project, dataset = node.catalog or self.project, node.db
                if (project, dataset) != (self.project, self.dataset) or node.name not in self.schemas:
                    raise QueryError(
                        error(
                            404,
                            "NOT_FOUND",
                            "notFound",
                            f"Not found: Table {project}:{dataset}.{node.name} was not found in location US",
                        )
                    )
                return exp.to_table(f'"{node.name}"', dialect="duckdb")
            return node

        return tree.transform(rewrite).sql(dialect="duckdb")


def literal(param: dict[str, Any]) -> exp.Expression:
    ptype = param["parameterType"]
    value = param["parameterValue"]
    if ptype["type"] == "ARRAY":
        inner = ptype["arrayType"]["type"]
        items = [scalar(v.get("value"), inner) for v in value.get("arrayValues", [])]
        return exp.Array(expressions=items)
    return scalar(value.get("value"), ptype["type"])


def scalar(value: Any, ptype: str) -> exp.Expression:
    if value is None:
        return exp.null()
    if ptype in ("INT64", "FLOAT64", "NUMERIC"):
        return exp.Literal.number(value)
    if ptype == "BOOL":
        return exp.Boolean(this=str(value).lower() == "true")
    if ptype == "TIMESTAMP":
        return exp.cast(exp.Literal.string(str(value)), "TIMESTAMPTZ")
    return exp.Literal.string(str(value))


def encode(value: Any, bq_type: str, micros: bool) -> Any:
    if value is None:
        return None
    if bq_type == "TIMESTAMP":
        seconds = value.timestamp()
        return str(round(seconds * 1_000_000)) if micros else f"{seconds:.6f}"
    if bq_type == "BOOLEAN":
        return "true" if value else "false"
    if bq_type == "FLOAT":
        return repr(float(value))
    return str(value)
