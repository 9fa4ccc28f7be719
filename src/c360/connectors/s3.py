"""Amazon S3 (and S3-compatible stores) as a source: CSV, JSON Lines or Parquet objects.

::

    connector: s3
    bucket: acme-exports
    prefix: crm/            # streams are the object keys (or sub-folders) below it
    format: csv             # csv | jsonl | parquet
    region: eu-west-2
    aws_access_key_id: "${AWS_ACCESS_KEY_ID}"       # optional: the default chain otherwise
    aws_secret_access_key: "${AWS_SECRET_ACCESS_KEY}"

A stream names one object (``accounts.csv``) or a folder of them
(``accounts/``) below ``prefix``; the empty stream reads every object there.
Objects are read in ``(LastModified, key)`` order, streamed line by line (CSV,
JSONL) or batch by batch from a temporary download (Parquet), so memory stays
flat whatever their size. The cursor records the last ``LastModified`` read
and the keys and ETags read at that instant (S3 keeps whole seconds), so an
incremental read returns exactly the objects written or rewritten since.

A changed object is read again whole (staging drops unchanged records by their
content hash). Deleting an object says nothing about which records it held, so
deletions cannot become tombstones: a ``deleted_field`` inside the rows can.
Rows that cannot be parsed are quarantined as ``s3://bucket/key:line``.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import json
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import SecretStr

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
from c360.connectors.filestreams import parse_json, row_record, text_encoding
from c360.core.errors import MissingDependency, TerminalSourceError, TransientSourceError

SUFFIXES = {"csv": (".csv", ".tsv"), "jsonl": (".jsonl", ".ndjson", ".json"), "parquet": (".parquet",)}
TERMINAL_CODES = {
    "NoSuchBucket": "no such bucket; check 'bucket'",
    "NoSuchKey": "no such object; check the stream name",
    "AccessDenied": "access denied; grant s3:ListBucket and s3:GetObject on the bucket",
    "InvalidAccessKeyId": "the access key is not known; check 'aws_access_key_id'",
    "SignatureDoesNotMatch": "the secret key does not match; check 'aws_secret_access_key'",
    "ExpiredToken": "the session token has expired; refresh the credentials",
    "InvalidBucketName": "invalid bucket name; check 'bucket'",
    "404": "not found; check 'bucket' and the stream name",
    "403": "access denied; check the credentials and the bucket policy",
}


class S3Options(ConnectorOptions):
    bucket: str
    prefix: str = ""
    format: Literal["csv", "jsonl", "parquet"] = "csv"
    endpoint_url: str | None = None
    region: str | None = None
    aws_access_key_id: SecretStr | None = None
    aws_secret_access_key: SecretStr | None = None
    aws_session_token: SecretStr | None = None
    delimiter: str = ","
    encoding: str = "utf-8"
    deleted_field: str | None = None
    max_attempts: int = 5  # attempts per request, botocore retrying throttling and 5xx


@dataclass(frozen=True, slots=True)
class S3Object:
    key: str
    modified: str  # ISO 8601, UTC
    etag: str


def _boto3() -> Any:
    try:
        import boto3
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingDependency("boto3", "s3") from exc
    return boto3


class S3Connector:
    """Reads objects under a bucket prefix; see the module docstring for streams and cursors."""

    name: ClassVar[str] = "s3"
    Options: ClassVar[type[ConnectorOptions]] = S3Options

    def __init__(self, options: ConnectorOptions, *, base_dir: Path = Path(".")) -> None:
        assert isinstance(options, S3Options)
        self.options = options
        self._client: Any = None

    # -- protocol ---------------------------------------------------------------
    @property
    def client(self) -> Any:
        if self._client is None:
            boto3 = _boto3()
            from botocore.config import Config

            o = self.options
            self._client = boto3.client(
                "s3",
                endpoint_url=o.endpoint_url,
                region_name=o.region,
                aws_access_key_id=_secret(o.aws_access_key_id),
                aws_secret_access_key=_secret(o.aws_secret_access_key),
                aws_session_token=_secret(o.aws_session_token),
                config=Config(retries={"total_max_attempts": o.max_attempts, "mode": "standard"}),
            )
        return self._client

    def check(self) -> None:
        self._call(f"s3://{self.options.bucket}", self.client.head_bucket, Bucket=self.options.bucket)

    def discover(self) -> list[StreamInfo]:
        out = []
        for obj in self._list(self.options.prefix):
            if not obj.key.lower().endswith(SUFFIXES[self.options.format]):
                continue
            columns: list[str] = []
            for _, row in self._rows(obj, limit=50):
                if isinstance(row, dict):
                    columns.extend(c for c in row if c not in columns)
            stream = obj.key[len(self.options.prefix) :]
            out.append(StreamInfo(stream, tuple(Column(c, "string") for c in columns), cursor_field="LastModified"))
        return out

    def read(
        self, stream: str, *, key: str, since: str | None = None, batch_size: int = DEFAULT_BATCH_SIZE
    ) -> Iterator[Batch]:
        mark, seen = self._parse_cursor(since)
        todo = [
            o
            for o in self._objects(stream)
            if mark is None or o.modified > mark or (o.modified == mark and seen.get(o.key) != o.etag)
        ]
        cursor = since
        if not todo:
            yield Batch([], cursor)
            return
        for obj in todo:
            records: list[Record] = []
            bad: list[Quarantined] = []
            for where, row in self._rows(obj):
                rec = self._record(row, key, where, bad)
                if rec is not None:
                    records.append(rec)
                if len(records) + len(bad) >= batch_size:
                    # A half-read object is read again on resume: the cursor waits for its end.
                    yield Batch(records, cursor, bad)
                    records, bad = [], []
            if mark is None or obj.modified > mark:
                mark, seen = obj.modified, {}
            seen[obj.key] = obj.etag
            cursor = json.dumps([mark, seen], sort_keys=True)
            yield Batch(records, cursor, bad)

    def lookup(self, stream: str, *, key: str, keys: Sequence[str]) -> list[Record]:
        """Scans the stream's objects for those keys: S3 has no index (fine for small data)."""
        wanted = set(keys)
        found: dict[str, Record] = {}
        for obj in self._objects(stream):
            for where, row in self._rows(obj):
                rec = self._record(row, key, where, [])
                if rec is not None and rec.key in wanted:
                    found[rec.key] = rec  # objects are in write order: the latest wins
        return [found[k] for k in keys if k in found]

    def close(self) -> None:
        self._client = None

    # -- listing ----------------------------------------------------------------
    def _objects(self, stream: str) -> list[S3Object]:
        prefix = self.options.prefix + stream.lstrip("/")
        listed = self._list(prefix)
        exact = [o for o in listed if o.key == prefix]
        if exact:
            return exact
        folder = prefix if not stream or prefix.endswith("/") else prefix + "/"
        suffixes = SUFFIXES[self.options.format]
        objects = [o for o in listed if o.key.startswith(folder) and o.key.lower().endswith(suffixes)]
        if not objects and stream:
            raise TerminalSourceError(
                self.name,
                f"no object or folder s3://{self.options.bucket}/{prefix}; check the stream name and 'prefix'",
            )
        return sorted(objects, key=lambda o: (o.modified, o.key))

    def _list(self, prefix: str) -> list[S3Object]:
        paginator = self.client.get_paginator("list_objects_v2")
        out: list[S3Object] = []
        where = f"s3://{self.options.bucket}/{prefix}"
        pages = self._call(where, lambda: list(paginator.paginate(Bucket=self.options.bucket, Prefix=prefix)))
        for page in pages:
            for item in page.get("Contents", []):
                if item["Key"].endswith("/"):
                    continue  # folder placeholders
                modified = item["LastModified"].astimezone(dt.UTC).isoformat()
                out.append(S3Object(item["Key"], modified, str(item.get("ETag", ""))))
        return out

    # -- parsing ----------------------------------------------------------------
    def _rows(self, obj: S3Object, limit: int | None = None) -> Iterator[tuple[str, Any]]:
        """(location, row) pairs; a row that failed to parse is a Quarantined."""
        fmt = self.options.format
        rows = self._parquet(obj) if fmt == "parquet" else self._text(obj, fmt)
        for i, item in enumerate(rows):
            if limit is not None and i >= limit:
                return
            yield item

    def _text(self, obj: S3Object, fmt: str) -> Iterator[tuple[str, Any]]:
        base = f"s3://{self.options.bucket}/{obj.key}"
        body = self._call(base, self.client.get_object, Bucket=self.options.bucket, Key=obj.key)["Body"]
        reader = codecs.getreader(text_encoding(self.options.encoding))(body, "replace")
        try:
            if fmt == "jsonl":
                for line, text in enumerate(reader, start=1):
                    if not text.strip():
                        continue
                    try:
                        yield f"{base}:{line}", parse_json(text)
                    except ValueError as exc:
                        yield (
                            f"{base}:{line}",
                            Quarantined(f"{base}:{line}", f"not valid JSON: {exc}", text.strip()[:500]),
                        )
                return
            rows = csv.reader(reader, delimiter=self.options.delimiter)
            header = next(rows, None)
            if header is None:
                return
            for row in rows:
                where = f"{base}:{rows.line_num}"
                if len(row) != len(header):
                    raw = self.options.delimiter.join(row)[:500]
                    reason = f"expected {len(header)} fields, found {len(row)}"
                    yield where, Quarantined(where, reason, raw)
                else:
                    yield where, dict(zip(header, row, strict=True))
        finally:
            body.close()

    def _parquet(self, obj: S3Object) -> Iterator[tuple[str, Any]]:
        try:
            import pyarrow.parquet as pq
        except ImportError as exc:  # pragma: no cover - pyarrow is a core dependency
            raise MissingDependency("pyarrow", "all") from exc
        base = f"s3://{self.options.bucket}/{obj.key}"
        with tempfile.NamedTemporaryFile(suffix=".parquet") as tmp:
            self._call(base, self.client.download_fileobj, self.options.bucket, obj.key, tmp)
            tmp.flush()
            try:
                parquet = pq.ParquetFile(tmp.name)
            except Exception as exc:  # pyarrow raises ArrowInvalid and friends
                raise TerminalSourceError(self.name, f"{base}: not a Parquet file: {exc}") from None
            row = 0
            for chunk in parquet.iter_batches(batch_size=10_000):
                for data in chunk.to_pylist():
                    row += 1
                    yield f"{base}:{row}", {k: _plain(v) for k, v in data.items()}

    def _record(self, row: Any, key: str, where: str, bad: list[Quarantined]) -> Record | None:
        record = row_record(row, key, where)
        if isinstance(record, Quarantined):
            bad.append(record)
            return None
        df = self.options.deleted_field
        flag = get_path(row, df) if df else None
        record.deleted = flag not in (None, False, 0, "", "0", "false", "False")
        return record

    # -- errors and cursors -----------------------------------------------------
    def _call(self, where: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

        try:
            return fn(*args, **kwargs)
        except ClientError as exc:
            err = exc.response.get("Error", {})
            code = str(err.get("Code", ""))
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
            hint = TERMINAL_CODES.get(code) or ("not found" if status == 404 else "")
            if hint or (400 <= status < 500 and status != 429):
                text = f"{where}: {code or status}: {hint or err.get('Message', '')}"
                raise TerminalSourceError(self.name, text) from None
            raise TransientSourceError(self.name, f"{where}: {code or status} after retries") from None
        except NoCredentialsError:
            raise TerminalSourceError(
                self.name,
                "no AWS credentials; set aws_access_key_id and aws_secret_access_key "
                "or the environment's default credentials",
            ) from None
        except BotoCoreError as exc:
            raise TransientSourceError(self.name, f"{where}: {type(exc).__name__}: {exc}") from None

    def _parse_cursor(self, since: str | None) -> tuple[str | None, dict[str, str]]:
        if since is None:
            return None, {}
        try:
            mark, seen = json.loads(since)
            return str(mark), {str(k): str(v) for k, v in dict(seen).items()}
        except (ValueError, TypeError):
            raise TerminalSourceError(
                self.name, f"cursor {since[:80]!r} is not [LastModified, {{key: etag}}]"
            ) from None


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if hasattr(value, "as_tuple"):  # Decimal
        return str(value)
    return value
