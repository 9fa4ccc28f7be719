"""Google BigQuery tables as a source, read with google-cloud-bigquery query jobs.

::

    connector: bigquery
    project: acme-analytics
    dataset: product
    cursor_column: updated_at      # incremental reads
    deleted_column: deleted_at     # soft deletes become tombstones
    credentials_file: service-account.json   # optional: application default credentials otherwise

A read runs one query job, ``SELECT * ... ORDER BY cursor_column, key``, and
pages through its results (``jobs.getQueryResults`` with ``pageToken``), one
batch per page, so memory stays flat. Incremental reads filter with keyset
parameters (``cursor_column > @since OR (cursor_column = @since AND key >
@after)``), so rows sharing a cursor value are neither skipped nor read twice,
and every batch carries a cursor that resumes exactly after its last row.
Lookups run ``WHERE CAST(key AS STRING) IN UNNEST(@keys)``.

The client retries rate limits and 5xx itself with exponential backoff
(BigQuery does not send ``Retry-After``); the delays are options.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

from c360.connectors.base import (
    DEFAULT_BATCH_SIZE,
    Batch,
    Column,
    ConnectorOptions,
    Quarantined,
    Record,
    StreamInfo,
    resolve_path,
)
from c360.core.errors import MissingDependency, TerminalSourceError, TransientSourceError

# BigQuery's legacy type names (what tables.get returns) → standard SQL parameter types.
PARAM_TYPES = {
    "INTEGER": "INT64",
    "INT64": "INT64",
    "FLOAT": "FLOAT64",
    "FLOAT64": "FLOAT64",
    "NUMERIC": "NUMERIC",
    "BIGNUMERIC": "BIGNUMERIC",
    "BOOLEAN": "BOOL",
    "BOOL": "BOOL",
    "STRING": "STRING",
    "BYTES": "BYTES",
    "TIMESTAMP": "TIMESTAMP",
    "DATETIME": "DATETIME",
    "DATE": "DATE",
    "TIME": "TIME",
}
RETRYABLE_REASONS = {"rateLimitExceeded", "backendError", "internalError", "badGateway"}


class BigQueryOptions(ConnectorOptions):
    project: str
    dataset: str
    cursor_column: str | None = None
    deleted_column: str | None = None
    credentials_file: str | None = None
    location: str | None = None
    api_endpoint: str | None = None  # e.g. a regional or private endpoint
    anonymous: bool = False  # no credentials (local emulators and tests)
    retry_initial_delay: float = 1.0  # seconds before the first retry of a failed API call
    retry_deadline: float = 600.0  # seconds after which a failing API call gives up


def _bigquery() -> Any:
    try:
        from google.cloud import bigquery
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingDependency("google-cloud-bigquery", "bigquery") from exc
    return bigquery


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value) if value != value.to_integral_value() else int(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _typed(value: Any, param_type: str) -> Any:
    """A cursor value (as stored in JSON) back in the type its query parameter expects."""
    if value is None:
        return None
    if param_type == "TIMESTAMP":
        return dt.datetime.fromisoformat(str(value))
    if param_type == "DATETIME":
        return dt.datetime.fromisoformat(str(value))
    if param_type == "DATE":
        return dt.date.fromisoformat(str(value))
    if param_type == "INT64":
        return int(value)
    if param_type == "FLOAT64":
        return float(value)
    if param_type in ("NUMERIC", "BIGNUMERIC"):
        return decimal.Decimal(str(value))
    return value


class BigQueryConnector:
    """Reads the tables of one dataset; see the module docstring for the options."""

    name: ClassVar[str] = "bigquery"
    Options: ClassVar[type[ConnectorOptions]] = BigQueryOptions

    def __init__(self, options: ConnectorOptions, *, base_dir: Path = Path(".")) -> None:
        assert isinstance(options, BigQueryOptions)
        self.options = options
        self.base_dir = base_dir
        self.bq = _bigquery()
        self._client: Any = None
        self._schemas: dict[str, dict[str, str]] = {}

    @property
    def client(self) -> Any:
        if self._client is None:
            o = self.options
            credentials: Any = None
            if o.anonymous:
                from google.auth import credentials as gcred

                anonymous: Any = gcred.AnonymousCredentials
                credentials = anonymous()
            elif o.credentials_file:
                from google.oauth2 import service_account

                path = resolve_path(self.base_dir, o.credentials_file)
                try:
                    account: Any = service_account.Credentials
                    credentials = account.from_service_account_file(str(path))
                except (OSError, ValueError) as exc:
                    raise TerminalSourceError(
                        self.name, f"credentials_file {path}: {type(exc).__name__}: {exc}"
                    ) from None
            client_options = {"api_endpoint": o.api_endpoint} if o.api_endpoint else None
            self._client = self._call(
                "connect",
                lambda: self.bq.Client(
                    project=o.project, credentials=credentials, location=o.location, client_options=client_options
                ),
            )
        return self._client

    @property
    def retry(self) -> Any:
        from google.cloud.bigquery.retry import DEFAULT_RETRY

        return DEFAULT_RETRY.with_delay(initial=self.options.retry_initial_delay).with_timeout(
            self.options.retry_deadline
        )

    # -- protocol ---------------------------------------------------------------
    def check(self) -> None:
        self._call("dataset", self.client.get_dataset, self._dataset(), retry=self.retry)

    def discover(self) -> list[StreamInfo]:
        tables = self._call("list tables", lambda: list(self.client.list_tables(self._dataset(), retry=self.retry)))
        out = []
        for item in tables:
            schema = self._schema(item.table_id)
            out.append(
                StreamInfo(
                    item.table_id,
                    tuple(Column(n, t) for n, t in schema.items()),
                    cursor_field=self.options.cursor_column,
                )
            )
        return out

    def read(
        self, stream: str, *, key: str, since: str | None = None, batch_size: int = DEFAULT_BATCH_SIZE
    ) -> Iterator[Batch]:
        schema = self._schema(stream)
        cc = self.options.cursor_column
        for column in (key, cc):
            if column is not None and column not in schema:
                raise TerminalSourceError(
                    self.name, f"table '{stream}' has no column '{column}' (columns: {', '.join(schema)})"
                )
        bq, q = self.bq, _quote
        params: list[Any] = []
        where = ""
        if cc is None:
            order = q(key)
        else:
            order = f"{q(cc)}, {q(key)}"
            if since is not None:
                last_cursor, last_key = self._parse_cursor(since)
                ct, kt = PARAM_TYPES.get(schema[cc], "STRING"), PARAM_TYPES.get(schema[key], "STRING")
                where = f" WHERE {q(cc)} > @since OR ({q(cc)} = @since AND {q(key)} > @after)"
                params = [
                    bq.ScalarQueryParameter("since", ct, _typed(last_cursor, ct)),
                    bq.ScalarQueryParameter("after", kt, _typed(last_key, kt)),
                ]
        sql = f"SELECT * FROM {self._table(stream)}{where} ORDER BY {order}"
        rows = self._query(sql, params, page_size=batch_size)
        cursor = since
        number = 0
        pages = iter(rows.pages)
        while True:
            page = self._call(f"results of {stream}", next, pages, None)
            if page is None:
                break
            records: list[Record] = []
            bad: list[Quarantined] = []
            for row in page:
                number += 1
                data = {k: _plain(v) for k, v in row.items()}
                if data.get(key) in (None, ""):
                    bad.append(
                        Quarantined(
                            f"{self._table(stream)} row {number}", f"missing key '{key}'", json.dumps(data)[:500]
                        )
                    )
                    continue
                records.append(self._record(data, key))
                if cc is not None:
                    cursor = json.dumps([data.get(cc), data.get(key)])
            yield Batch(records, cursor if cc else None, bad)

    def lookup(self, stream: str, *, key: str, keys: Sequence[str]) -> list[Record]:
        if not keys:
            return []
        self._schema(stream)
        sql = f"SELECT * FROM {self._table(stream)} WHERE CAST({_quote(key)} AS STRING) IN UNNEST(@keys)"
        rows = self._query(sql, [self.bq.ArrayQueryParameter("keys", "STRING", list(keys))])
        return [
            self._record({k: _plain(v) for k, v in row.items()}, key)
            for row in self._call(f"lookup in {stream}", list, rows)
        ]

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # -- helpers ----------------------------------------------------------------
    def _dataset(self) -> str:
        return f"{self.options.project}.{self.options.dataset}"

    def _table(self, stream: str) -> str:
        return f"`{self._dataset()}.{stream}`"

    def _schema(self, stream: str) -> dict[str, str]:
        if stream not in self._schemas:
            table = self._call(
                f"table '{stream}'", self.client.get_table, f"{self._dataset()}.{stream}", retry=self.retry
            )
            self._schemas[stream] = {f.name: f.field_type for f in table.schema}
        return self._schemas[stream]

    def _query(self, sql: str, params: list[Any], page_size: int | None = None) -> Any:
        config = self.bq.QueryJobConfig(query_parameters=params)
        job = self._call("query", self.client.query, sql, job_config=config, retry=self.retry, job_retry=None)
        return self._call("query", job.result, page_size=page_size, retry=self.retry, job_retry=None)

    def _record(self, data: dict[str, Any], key: str) -> Record:
        dc = self.options.deleted_column
        deleted = bool(dc and data.get(dc) not in (None, False, 0, "", "0"))
        return Record(str(data[key]), data, deleted)

    def _parse_cursor(self, since: str) -> tuple[Any, Any]:
        try:
            last_cursor, last_key = json.loads(since)
        except (ValueError, TypeError):
            raise TerminalSourceError(self.name, f"cursor {since[:80]!r} is not [cursor value, key]") from None
        return last_cursor, last_key

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        from google.api_core import exceptions as gexc
        from google.auth import exceptions as gauth

        try:
            return fn(*args, **kwargs)
        except gexc.GoogleAPICallError as exc:
            raise self._translate(what, exc) from None
        except gexc.RetryError as exc:
            raise TransientSourceError(self.name, f"{what}: gave up retrying: {exc.cause}") from None
        except gauth.TransportError as exc:
            raise TransientSourceError(self.name, f"{what}: {type(exc).__name__}") from None
        except gauth.GoogleAuthError as exc:
            if type(exc) is gauth.DefaultCredentialsError:
                raise TerminalSourceError(
                    self.name, "no Google credentials found; set 'credentials_file' or GOOGLE_APPLICATION_CREDENTIALS"
                ) from None
            # A 401 makes the client refresh its token; failing that, the credentials are bad.
            raise TerminalSourceError(
                self.name,
                f"{what}: the credentials were rejected ({type(exc).__name__}); "
                "check 'credentials_file' and that the account is enabled",
            ) from None
        except (ConnectionError, TimeoutError) as exc:
            raise TransientSourceError(self.name, f"{what}: {type(exc).__name__}: {exc}") from None
        except Exception as exc:
            if type(exc).__module__.startswith(("requests", "urllib3")):
                raise TransientSourceError(self.name, f"{what}: {type(exc).__name__}") from None
            raise

    def _translate(self, what: str, exc: Any) -> TransientSourceError | TerminalSourceError:
        code = int(getattr(exc, "code", 0) or 0)
        reasons = {str(e.get("reason")) for e in (getattr(exc, "errors", None) or []) if isinstance(e, dict)}
        text = f"{what}: {code} {getattr(exc, 'message', exc)}"[:400]
        if code == 429 or code >= 500 or reasons & RETRYABLE_REASONS:
            return TransientSourceError(self.name, text)
        if code == 401:
            return TerminalSourceError(self.name, f"{text}; the credentials were rejected: check 'credentials_file'")
        if code == 403:
            return TerminalSourceError(
                self.name,
                f"{text}; the account may not read this: grant it BigQuery Data Viewer and Job User on the project",
            )
        if code == 404:
            return TerminalSourceError(self.name, f"{text}; check 'project', 'dataset' and the table")
        return TerminalSourceError(self.name, text)


def _quote(ident: str) -> str:
    return "`" + ident.replace("`", "\\`") + "`"
