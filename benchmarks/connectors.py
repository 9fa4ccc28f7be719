"""Connector throughput: sync N rows from PostgreSQL, Parquet and Salesforce into SQLite staging.

Each case runs in a child process that reads every batch through the connector
and inserts it into a staging table (source, key, payload JSON, content hash)
with ``executemany``; the child reports its time and peak RSS, so one case's
memory never hides another's. The source data is created before timing starts
(PostgreSQL: a table filled with COPY, indexed on (updated_at, id); Parquet: one
file written in row groups). The PostgreSQL case is skipped, with a message,
when no server answers on 127.0.0.1:5432.

Salesforce is read from the local fake of its REST and Bulk API 2.0 resources
(``tests/connectors/fakes/salesforce.py``), served by this (parent) process while the child
reads: once through REST SOQL paging (``bulk: false``, 2,000 records a page, Salesforce's
largest) and once through a Bulk API 2.0 query job (``bulk: true``, CSV pages of 50,000,
one status poll 0.1 s apart). The figure that carries over to a real org is the number of
API requests each path makes (every one counts against the org's daily limit); the
seconds mostly measure the fake.

The parallel row (``benchmarks/parallel_sync.py``) syncs four SaaS sources, each its own fake
Salesforce org answering every request after a fixed latency (``--latency``), through
``c360.pipeline.sync`` one after another (``saas_x4_p1``) and four at once (``saas_x4_p4``),
into a SQLite store; its peak memory is not measured (it runs in this process).

    python benchmarks/connectors.py --rows 100000,1000000 --salesforce-rows 100000
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import resource
import shlex
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "test"}
ROOT = Path(__file__).resolve().parent.parent
SF_FIELDS = ["Name", "Website", "BillingPostalCode"]
PLANS = ("free", "team", "business", "enterprise")
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def rows(n: int) -> Iterator[tuple[Any, ...]]:
    for i in range(1, n + 1):
        yield (
            i,
            f"customer{i}@example.com",
            f"Customer {i} Ltd",
            PLANS[i % 4],
            f"{(i % 500) * 10}.{i % 100:02d}",
            T0 + dt.timedelta(seconds=i),
            None if i % 50 else T0 + dt.timedelta(seconds=i),
        )


# -- sources (created before timing) ---------------------------------------------


def pg_available() -> bool:
    try:
        with socket.create_connection((PG["host"], PG["port"]), timeout=0.5):
            return True
    except OSError:
        return False


def make_pg_table(n: int) -> str:
    import psycopg

    table = f"c360_bench_{n}"
    with psycopg.connect(**PG, autocommit=True) as conn:  # type: ignore[arg-type]
        conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.execute(
            f"CREATE TABLE {table} (id BIGINT PRIMARY KEY, email TEXT, name TEXT, plan TEXT,"
            " mrr NUMERIC(10, 2), updated_at TIMESTAMPTZ, deleted_at TIMESTAMPTZ)"
        )
        with conn.cursor() as cur, cur.copy(f"COPY {table} FROM STDIN") as copy:
            for row in rows(n):
                copy.write_row(row)
        conn.execute(f"CREATE INDEX ON {table} (updated_at, id)")
        conn.execute(f"ANALYZE {table}")
    return table


def drop_pg_table(table: str) -> None:
    import psycopg

    with psycopg.connect(**PG, autocommit=True) as conn:  # type: ignore[arg-type]
        conn.execute(f"DROP TABLE IF EXISTS {table}")


def make_parquet(n: int, folder: Path) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = folder / f"customers_{n}.parquet"
    schema = pa.schema(
        [
            ("id", pa.int64()),
            ("email", pa.string()),
            ("name", pa.string()),
            ("plan", pa.string()),
            ("mrr", pa.string()),
            ("updated_at", pa.timestamp("us", tz="UTC")),
            ("deleted_at", pa.timestamp("us", tz="UTC")),
        ]
    )

    def table(chunk: list[tuple[Any, ...]]) -> Any:
        return pa.Table.from_pylist([dict(zip(schema.names, r, strict=True)) for r in chunk], schema=schema)

    with pq.ParquetWriter(path, schema) as writer:
        chunk: list[tuple[Any, ...]] = []
        for row in rows(n):
            chunk.append(row)
            if len(chunk) == 100_000:
                writer.write_table(table(chunk))
                chunk = []
        if chunk:
            writer.write_table(table(chunk))
    return path


def salesforce_fake(n: int) -> Any:
    """The Salesforce fake holding ``n`` Accounts (built directly: ``put`` is for a few)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests.connectors.fakes.salesforce import SalesforceFake, stamp

    fake = SalesforceFake(page_size=2_000, polls_before_done=1)
    fake.records["Account"] = [
        {
            "IsDeleted": False,
            "Id": f"001B{i:011d}",
            "Name": f"Customer {i} Ltd",
            "Website": f"https://c{i}.example",
            "BillingPostalCode": f"{i % 90_000 + 10_000}",
            "SystemModstamp": stamp(i),
        }
        for i in range(1, n + 1)
    ]
    return fake


# -- the timed part, in a child process ------------------------------------------


def sync(case: str, target: str, staging: Path) -> dict[str, Any]:
    """Read every batch of ``target`` through the connector into a SQLite staging table."""
    from c360.connectors.registry import make_connector

    connector = case
    if case == "postgres":
        options: dict[str, Any] = {**PG, "cursor_column": "updated_at", "deleted_column": "deleted_at"}
        stream = target
    elif case.startswith("sf_"):
        if str(ROOT) not in sys.path:
            sys.path.insert(0, str(ROOT))
        from tests.connectors.fakes.salesforce import TOKEN

        connector, stream = "salesforce", "Account"
        options = {
            "instance_url": target,
            "access_token": TOKEN,
            "fields": SF_FIELDS,
            "bulk": case == "sf_bulk",
            "bulk_poll_interval": 0.1,
        }
    else:
        options = {"path": target}
        stream = Path(target).name
    db = sqlite3.connect(staging)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute(
        "CREATE TABLE staging (source TEXT, key TEXT, payload TEXT, content_hash TEXT,"
        " deleted INTEGER, PRIMARY KEY (source, key))"
    )
    conn = make_connector(connector, options, base_dir=Path("."))
    insert = "INSERT OR REPLACE INTO staging VALUES (?, ?, ?, ?, ?)"
    count = 0
    cursor = None
    start = time.perf_counter()
    for batch in conn.read(stream, key="Id" if connector == "salesforce" else "id"):
        values = []
        for r in batch.records:
            payload = orjson.dumps(r.data, option=orjson.OPT_SORT_KEYS)
            values.append((case, r.key, payload.decode(), hashlib.sha256(payload).hexdigest(), int(r.deleted)))
        db.executemany(insert, values)
        db.commit()
        count += len(values)
        cursor = batch.cursor
    seconds = time.perf_counter() - start
    http = getattr(conn, "http", None)
    requests = getattr(http, "requests", None)
    conn.close()
    staged = db.execute("SELECT count(*) FROM staging").fetchone()[0]
    db.close()
    return {
        "rows": count,
        "staged": staged,
        "seconds": seconds,
        "peak_mib": peak_mib(),
        "cursor": cursor,
        "requests": requests,
    }


def peak_mib() -> float:
    """This process's peak resident memory.

    VmHWM is per address space, so it starts afresh at exec; ru_maxrss does not on
    Linux (a child inherits its parent's figure), so it is only the fallback.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_child(case: str, target: str, folder: Path) -> dict[str, Any]:
    staging = folder / f"staging_{case}_{time.monotonic_ns()}.db"
    cmd = [sys.executable, __file__, "--child", case, target, str(staging)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    staging.unlink(missing_ok=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="100000,1000000", help="comma-separated row counts")
    parser.add_argument(
        "--salesforce-rows",
        default="100000",
        help="comma-separated Account counts for Salesforce REST vs Bulk (0: none)",
    )
    parser.add_argument(
        "--parallel-rows",
        type=int,
        default=20_000,
        help="records per source for the four-source parallel vs one-at-a-time sync (0: none)",
    )
    parser.add_argument(
        "--latency", type=float, default=0.15, help="seconds each fake SaaS API waits before answering a request"
    )
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        case, target, staging = args.child
        print(json.dumps(sync(case, target, Path(staging)), default=str))
        return

    counts = [n for x in args.rows.split(",") if x.strip() and (n := int(x.replace("_", ""))) > 0]
    have_pg = pg_available() and bool(counts)
    if not have_pg and counts:
        print(f"postgres: skipped, no server on {PG['host']}:{PG['port']}")
    results = []
    with tempfile.TemporaryDirectory(prefix="c360-bench-") as tmp:
        folder = Path(tmp)
        for n in counts:
            cases: list[tuple[str, str]] = []
            if have_pg:
                cases.append(("postgres", make_pg_table(n)))
            cases.append(("parquet", str(make_parquet(n, folder))))
            for case, target in cases:
                r = run_child(case, target, folder)
                assert r["rows"] == r["staged"] == n, r
                results.append((case, n, r["seconds"], n / r["seconds"], r["peak_mib"], None))
                if case == "postgres":
                    drop_pg_table(target)
        results += salesforce_cases(args.salesforce_rows, folder)
    if args.parallel_rows > 0:
        from parallel_sync import parallel_cases

        for case, n, seconds, requests in parallel_cases(args.parallel_rows, args.latency, salesforce_fake):
            results.append((case, n, seconds, n / seconds, None, requests))

    command = "python benchmarks/connectors.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    print(f"$ {command.strip()}")
    print(f"{'case':<10} {'rows':>10} {'seconds':>9} {'rows/s':>10} {'peak MiB':>9} {'requests':>9}")
    for case, n, seconds, rate, peak, requests in results:
        reqs = "" if requests is None else f"{requests:,}"
        mib = "" if peak is None else f"{peak:.1f}"
        print(f"{case:<10} {n:>10,} {seconds:>9.2f} {rate:>10,.0f} {mib:>9} {reqs:>9}")
    print(
        f"(python {sys.version.split()[0]}, {os.cpu_count()} cores; batch size 5,000;"
        " peak = VmHWM of the child process)"
    )
    if args.parallel_rows > 0:
        print(f"(saas_x4: 4 sources x {args.parallel_rows:,} records, {args.latency:g} s per request)")


def salesforce_cases(counts: str, folder: Path) -> list[tuple[Any, ...]]:
    """REST then Bulk over the same fake org; the fake's own count checks the client's."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests.connectors.httpfake import serve

    out: list[tuple[Any, ...]] = []
    for n in [int(x.replace("_", "")) for x in counts.split(",") if x.strip()]:
        if n <= 0:
            continue
        fake = salesforce_fake(n)
        with serve(fake) as server:
            for case in ("sf_rest", "sf_bulk"):
                served = fake.served
                r = run_child(case, server.url, folder)
                assert r["rows"] == r["staged"] == n, r
                assert r["requests"] == fake.served - served, (r, fake.served - served)
                out.append((case, n, r["seconds"], n / r["seconds"], r["peak_mib"], r["requests"]))
    return out


if __name__ == "__main__":
    main()
