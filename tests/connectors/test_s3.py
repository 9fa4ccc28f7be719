"""The S3 connector against moto's server mode (a real S3 HTTP endpoint on loopback)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from c360.connectors import make_connector
from c360.connectors.base import Batch
from c360.connectors.s3 import S3Connector, S3Options
from c360.core.errors import TerminalSourceError, TransientSourceError
from tests.conftest import need_module, need_service
from tests.connectors.fakes_platform.common import Faults
from tests.connectors.httpfake import FakeRequest, FakeResponse, serve

KEY_ID, SECRET = "AKIDEXAMPLE", "wJalrXUtnFEMI-example-secret"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    need_module("boto3")
    need_module("moto")
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    need_service("moto S3 server", host, port)
    yield f"http://{host}:{port}"
    server.stop()


_buckets = iter(range(10_000))


@pytest.fixture
def bucket(endpoint: str) -> Any:
    import boto3

    s3 = boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET
    )
    name = f"exports-{next(_buckets)}"
    s3.create_bucket(Bucket=name)
    s3.bucket = name
    return s3


def connector(endpoint: str, bucket: str, **extra: Any) -> S3Connector:
    opts = {
        "bucket": bucket,
        "prefix": "crm/",
        "format": "csv",
        "endpoint_url": endpoint,
        "region": "us-east-1",
        "aws_access_key_id": KEY_ID,
        "aws_secret_access_key": SECRET,
        "deleted_field": "deleted",
        **extra,
    }
    return S3Connector(S3Options.model_validate(opts), base_dir=Path("."))


def put(s3: Any, key: str, body: str | bytes) -> None:
    s3.put_object(Bucket=s3.bucket, Key=key, Body=body.encode() if isinstance(body, str) else body)


def read_all(conn: S3Connector, stream: str, since: str | None = None, batch_size: int = 100) -> list[Batch]:
    return list(conn.read(stream, key="id", since=since, batch_size=batch_size))


def accounts_csv(first: int, last: int, **override: str) -> str:
    lines = ["id,name,deleted"]
    for i in range(first, last):
        lines.append(f"a{i},{override.get(f'a{i}', f'Account {i}')},")
    return "\n".join(lines) + "\n"


def test_folder_of_csv_objects_read_in_batches_with_bad_rows_quarantined(endpoint: str, bucket: Any) -> None:
    put(bucket, "crm/accounts/part-1.csv", accounts_csv(0, 3))
    put(bucket, "crm/accounts/part-2.csv", 'id,name,deleted\na3,"Quoted, Inc.",\nbroken row\na4,X,\n')
    put(bucket, "crm/accounts/part-3.csv", accounts_csv(5, 8))
    put(bucket, "crm/accounts/notes.txt", "not data")
    batches = read_all(connector(endpoint, bucket.bucket), "accounts/", batch_size=2)
    records = [r for b in batches for r in b.records]
    assert sorted(r.key for r in records) == [f"a{i}" for i in range(8)]
    assert next(r for r in records if r.key == "a3").data == {"id": "a3", "name": "Quoted, Inc.", "deleted": ""}
    [bad] = [q for b in batches for q in b.quarantined]
    assert bad.location == f"s3://{bucket.bucket}/crm/accounts/part-2.csv:3"
    assert bad.reason == "expected 3 fields, found 1"
    assert bad.raw == "broken row"
    assert len(batches) >= 5
    assert all(len(b.records) + len(b.quarantined) <= 2 for b in batches)


def test_jsonl_and_parquet_objects(endpoint: str, bucket: Any) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    put(bucket, "crm/events.jsonl", '{"id": "e1", "n": 1}\n{oops\n\n{"n": 3}\n{"id": "e4"}\n')
    batches = read_all(connector(endpoint, bucket.bucket, format="jsonl"), "events.jsonl")
    assert [r.key for b in batches for r in b.records] == ["e1", "e4"]
    bad = [q for b in batches for q in b.quarantined]
    assert [q.location.rsplit(":", 1)[1] for q in bad] == ["2", "4"]
    assert bad[0].reason.startswith("not valid JSON") and bad[1].reason == "missing key 'id'"

    table = pa.table({"id": ["p1", "p2", None], "mrr": [10.5, 20.0, 1.0]})
    buf = io.BytesIO()
    pq.write_table(table, buf)
    put(bucket, "crm/plans.parquet", buf.getvalue())
    batches = read_all(connector(endpoint, bucket.bucket, format="parquet"), "plans.parquet")
    assert [(r.key, r.data["mrr"]) for b in batches for r in b.records] == [("p1", 10.5), ("p2", 20.0)]
    [bad3] = [q for b in batches for q in b.quarantined]
    assert bad3.location == f"s3://{bucket.bucket}/crm/plans.parquet:3"


def test_incremental_read_returns_new_and_rewritten_objects_only(endpoint: str, bucket: Any) -> None:
    put(bucket, "crm/accounts/part-1.csv", accounts_csv(0, 3))
    put(bucket, "crm/accounts/part-2.csv", accounts_csv(3, 6))
    conn = connector(endpoint, bucket.bucket)
    cursor = read_all(conn, "accounts")[-1].cursor
    assert cursor is not None
    mark, seen = json.loads(cursor)
    assert mark.endswith("+00:00")
    assert set(seen) <= {"crm/accounts/part-1.csv", "crm/accounts/part-2.csv"}
    # rewrite part-1 (a1 renamed, a2 flagged deleted) and add part-3
    put(bucket, "crm/accounts/part-1.csv", "id,name,deleted\na0,Account 0,\na1,Renamed,\na2,Account 2,true\n")
    put(bucket, "crm/accounts/part-3.csv", accounts_csv(6, 7))
    batches = read_all(conn, "accounts", since=cursor)
    records = {r.key: r for b in batches for r in b.records}
    assert set(records) == {"a0", "a1", "a2", "a6"}  # part-2 is unchanged and skipped
    assert records["a1"].data["name"] == "Renamed"
    assert records["a2"].deleted and not records["a1"].deleted
    cursor2 = batches[-1].cursor
    again = read_all(conn, "accounts", since=cursor2)
    assert [r for b in again for r in b.records] == []
    assert again[-1].cursor == cursor2


def test_lookup_and_discover(endpoint: str, bucket: Any) -> None:
    put(bucket, "crm/accounts.csv", accounts_csv(0, 4))
    put(bucket, "crm/contacts.csv", "id,email\nk1,k1@example.com\n")
    conn = connector(endpoint, bucket.bucket)
    found = conn.lookup("accounts.csv", key="id", keys=["a3", "zz", "a1"])
    assert [(r.key, r.data["name"]) for r in found] == [("a3", "Account 3"), ("a1", "Account 1")]
    infos = {s.name: s for s in conn.discover()}
    assert set(infos) == {"accounts.csv", "contacts.csv"}
    assert [c.name for c in infos["contacts.csv"].columns] == ["id", "email"]
    conn.check()
    with pytest.raises(TerminalSourceError, match="no object or folder"):
        read_all(conn, "missing.csv")


def test_missing_bucket_is_terminal(endpoint: str) -> None:
    conn = connector(endpoint, "no-such-bucket-here")
    with pytest.raises(TerminalSourceError, match="404: not found; check 'bucket'"):
        conn.check()
    with pytest.raises(TerminalSourceError, match="NoSuchBucket: no such bucket"):
        read_all(conn, "")


def test_unknown_access_key_is_terminal_and_secret_stays_hidden(
    endpoint: str, bucket: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import moto.settings

    put(bucket, "crm/accounts.csv", accounts_csv(0, 2))
    monkeypatch.setattr(moto.settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0)  # moto checks keys now
    conn = connector(endpoint, bucket.bucket, aws_access_key_id="AKIDUNKNOWN", aws_secret_access_key="leaky-secret")
    with pytest.raises(TerminalSourceError) as err:
        read_all(conn, "accounts.csv")
    assert "InvalidAccessKeyId" in str(err.value)
    assert "aws_access_key_id" in str(err.value)
    assert "leaky-secret" not in str(err.value) + repr(conn.options)


def test_slow_down_and_server_errors_are_retried(endpoint: str, bucket: Any) -> None:
    put(bucket, "crm/accounts.csv", accounts_csv(0, 3))
    faults = Faults()
    slow_down = (
        "<?xml version='1.0' encoding='UTF-8'?><Error><Code>SlowDown</Code>"
        "<Message>Please reduce your request rate.</Message></Error>"
    )

    def proxy(req: FakeRequest) -> FakeResponse:
        fault = faults.take()
        if fault is not None:
            return fault
        query = "&".join(f"{k}={v}" for k, vs in req.query.items() for v in vs)
        headers = {k: v for k, v in req.headers.items() if k not in ("host", "content-length")}
        upstream = httpx.request(req.method, f"{endpoint}{req.path}?{query}", headers=headers, content=req.body)
        keep = {k: v for k, v in upstream.headers.items() if k.lower() in ("etag", "last-modified", "x-amz-request-id")}
        return FakeResponse(upstream.status_code, upstream.content, keep)

    with serve(proxy) as server:
        faults.queue.append(FakeResponse(503, slow_down))
        faults.queue.append(FakeResponse(500, "<Error><Code>InternalError</Code></Error>"))
        conn = connector(server.url, bucket.bucket, max_attempts=3)
        records = [r for b in read_all(conn, "accounts.csv") for r in b.records]
        assert [r.key for r in records] == ["a0", "a1", "a2"]
        assert len(server.requests) >= 4  # two failed answers, then list and get

        faults.queue.append(FakeResponse(503, slow_down))
        with pytest.raises(TransientSourceError, match="SlowDown"):
            read_all(connector(server.url, bucket.bucket, max_attempts=1), "accounts.csv")


def test_unreachable_endpoint_is_transient_and_registry_builds_it(endpoint: str) -> None:
    conn = connector("http://127.0.0.1:1", "b", max_attempts=1)
    with pytest.raises(TransientSourceError, match="Connect"):
        conn.check()
    built = make_connector(
        "s3",
        {
            "bucket": "b",
            "format": "jsonl",
            "endpoint_url": endpoint,
            "aws_access_key_id": KEY_ID,
            "aws_secret_access_key": SECRET,
        },
        base_dir=Path("."),
    )
    assert isinstance(built, S3Connector)
    with pytest.raises(ValueError, match="format"):
        S3Options.model_validate({"bucket": "b", "format": "xml"})
