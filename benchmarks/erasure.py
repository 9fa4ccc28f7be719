"""Erasure and audit figures: erasure p50 at 100,000 customers, audit verify rate, read-audit cost.

The store is filled directly (no connector, no identity resolution) with N customers,
each an account with a CRM record, a billing customer (a person's email), a support
ticket by that person and an invoice, mapped in the identity map, and two snapshot
versions. Then:

- erasure p50/p95 on SQLite and PostgreSQL, of a whole customer (``--customer``)
  and of a person found by email (``--email``: the person is removed from the account);
- time to invisible on both stores: ``c360 serve`` (two workers) runs in another process
  while customers are erased; the time from ``erase`` returning to the first answer that no
  longer shows the customer, and to the moment every worker has stopped showing it;
- ``audit verify`` rows/s over a chain of 1,000,000 rows (SQLite);
- ``ReadAuditor.record`` cost per call on the caller's thread, and flush throughput
  (reads group-committed to the chain per second).

PostgreSQL is skipped, with a message, when nothing answers on 127.0.0.1:5432.

    python benchmarks/erasure.py --customers 100000 --erasures 15 --audit-rows 1000000
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from sqlalchemy import create_engine, insert, text

from c360.core import jsonutil
from c360.governance import audit
from c360.governance.erasure import SubjectRef, erase
from c360.spec.validate import load_spec
from c360.store import Store
from c360.store.schema import (
    audit_head,
    audit_log,
    customers,
    identity_map,
    published,
    snapshot_records,
    snapshots,
    staged_records,
)

SPEC = Path(__file__).parents[1] / "src" / "c360" / "demo" / "product.yaml"
PG = "postgresql://postgres@127.0.0.1:5432"
NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


def fill(store: Store, n: int) -> None:
    """N accounts: crm + billing + support + invoice records, identity map, two snapshot versions."""
    chunk = 5000
    with store.engine.begin() as conn:
        for v in (1, 2):
            conn.execute(
                insert(snapshots).values(
                    version=v,
                    run_id="bench",
                    spec_version="1.0.0",
                    status="published" if v == 2 else "retired",
                    built_at=NOW,
                    as_of=NOW,
                    customers=n,
                )
            )
        conn.execute(insert(published).values(id=1, version=2, published_at=NOW))
    for start in range(0, n, chunk):
        staged, mapped, custs, snaps = [], [], [], []
        for i in range(start, min(start + chunk, n)):
            cid = f"c_{i:012d}"
            email = f"person{i}@account{i}.example"
            recs = {
                ("crm", f"001{i:015d}"): {
                    "Id": f"001{i:015d}",
                    "Name": f"Account {i} Ltd",
                    "Website": f"account{i}.example",
                },
                ("billing", f"cus_{i:014d}"): {
                    "id": f"cus_{i:014d}",
                    "name": f"Account {i} Ltd",
                    "email": email,
                    "phone": f"0161 {i:07d}",
                    "metadata": {"crm_account_id": f"001{i:015d}"},
                },
                ("support", str(10_000_000 + i)): {
                    "id": 10_000_000 + i,
                    "status": "open",
                    "requester": {"email": email, "name": f"Person {i}"},
                    "organization": {"name": f"Account {i} Ltd"},
                },
                ("invoices", f"in_{i:020d}"): {
                    "id": f"in_{i:020d}",
                    "customer": f"cus_{i:014d}",
                    "amount_paid": 4200,
                    "currency": "gbp",
                    "status": "paid",
                },
            }
            for (s, k), data in recs.items():
                staged.append(
                    {
                        "source": s,
                        "key": k,
                        "payload": jsonutil.dumps(data),
                        "content_hash": jsonutil.content_hash(data),
                        "fetched_at": NOW,
                        "deleted": False,
                    }
                )
                mapped.append(
                    {
                        "source": s,
                        "key": k,
                        "customer_id": cid,
                        "method": "belongs_to" if s == "invoices" else "rule",
                        "score": 1.0,
                        "evidence": None,
                        "run_id": "bench",
                        "updated_at": NOW,
                    }
                )
            custs.append({"customer_id": cid, "created_at": NOW, "status": "active", "run_id": "bench"})
            record = {
                "customer_id": cid,
                "account_name": f"Account {i} Ltd",
                "mrr": 42.0,
                "ltv": 504.0,
                "billing_contact_email": email,
                "open_tickets": 1,
            }
            for v in (1, 2):
                snaps.append({"version": v, "customer_id": cid, "data": jsonutil.dumps(record)})
        with store.engine.begin() as conn:
            conn.execute(insert(staged_records), staged)
            conn.execute(insert(identity_map), mapped)
            conn.execute(insert(customers), custs)
            conn.execute(insert(snapshot_records), snaps)


def bench_erasures(url: str, label: str, n: int, count: int) -> None:
    spec = load_spec(SPEC)
    store = Store.open(url)
    t = time.perf_counter()
    fill(store, n)
    print(f"{label}: filled {n:,} customers in {time.perf_counter() - t:.1f} s")
    rng = random.Random(7)
    picks = rng.sample(range(n), 2 * count)
    for kind, subjects in (("customer", picks[:count]), ("email", picks[count:])):
        times = []
        for i in subjects:
            who = (
                SubjectRef(customer_id=f"c_{i:012d}")
                if kind == "customer"
                else SubjectRef(email=f"person{i}@account{i}.example")
            )
            t = time.perf_counter()
            result = erase(store, spec, who, reason="benchmark")
            times.append(time.perf_counter() - t)
            assert result.committed
        times.sort()
        p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
        print(
            f"{label}: erasure by {kind:<8} p50 {statistics.median(times) * 1000:7.1f} ms  "
            f"p95 {p95 * 1000:7.1f} ms  ({count} erasures, {n:,} customers)"
        )
    store.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bench_invisible(url: str, label: str, n: int, count: int, directory: Path) -> None:
    """Erase customers while ``c360 serve`` answers from another process; time until unseen."""
    store = Store.open(url)
    key = store.create_key("finance")
    port = _free_port()
    argv = [
        sys.executable,
        "-c",
        "from c360.cli import main; main()",
        "serve",
        str(SPEC),
        "--store",
        url,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "2",
    ]
    log = directory / f"serve-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    # A fresh connection per request, so that both workers answer.
    http = httpx.Client(
        base_url=f"http://127.0.0.1:{port}",
        timeout=10,
        headers={"Authorization": f"Bearer {key}"},
        limits=httpx.Limits(max_keepalive_connections=0),
    )
    spec = load_spec(SPEC)
    try:
        deadline = time.monotonic() + 600
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"c360 serve did not start: {log.read_text()[-2000:]}")
            try:
                if http.get("/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        rng = random.Random(11)
        first, every = [], []
        for i in rng.sample(range(n), count):
            cid = f"c_{i:012d}"
            assert http.get(f"/v1/customers/{cid}").status_code == 200
            assert erase(store, spec, SubjectRef(customer_id=cid), reason="benchmark").committed
            t0 = time.perf_counter()
            seen_gone, clean = None, 0
            while clean < 10:  # ten answers in a row without it: every worker has applied it
                gone = http.get(f"/v1/customers/{cid}").status_code == 404
                now = time.perf_counter() - t0
                if gone and seen_gone is None:
                    seen_gone = now
                clean = clean + 1 if gone else 0
                if now > 30:
                    raise SystemExit(f"{label}: customer {cid} still served 30 s after its erasure")
            first.append(seen_gone or 0.0)
            every.append(now)
        print(
            f"{label}: time to invisible after erase returns: first answer p50 "
            f"{statistics.median(first) * 1000:6.0f} ms, max {max(first) * 1000:6.0f} ms; every worker p50 "
            f"{statistics.median(every) * 1000:6.0f} ms, max {max(every) * 1000:6.0f} ms "
            f"({count} erasures, 2 workers, {n:,} customers)"
        )
    finally:
        http.close()
        os.killpg(proc.pid, 15)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
        store.close()


def bench_verify(rows: int, directory: Path) -> None:
    store = Store.open(f"sqlite:///{directory}/audit.db")
    key = audit.audit_key(store.engine)
    prev = audit.GENESIS
    t = time.perf_counter()
    with store.engine.begin() as conn:
        batch = []
        for seq in range(1, rows + 1):
            at = f"2026-06-01T12:00:00.{seq % 1_000_000:06d}Z"
            detail = '{"fields":["customer_id","mrr"],"mode":"materialised"}'
            h = key.mac(
                audit.content(at, "read", "consumer:finance", f"c_{seq % 100_000:012d}", detail) + prev.encode()
            )
            batch.append(
                {
                    "seq": seq,
                    "at": at,
                    "kind": "read",
                    "actor": "consumer:finance",
                    "subject": f"c_{seq % 100_000:012d}",
                    "detail": detail,
                    "prev_hash": prev,
                    "hash": h,
                }
            )
            prev = h
            if len(batch) == 50_000:
                conn.execute(insert(audit_log), batch)
                batch = []
        if batch:
            conn.execute(insert(audit_log), batch)
        conn.execute(audit_head.update().values(seq=rows, hash=prev))
    print(f"audit: wrote a chain of {rows:,} rows in {time.perf_counter() - t:.1f} s")
    result = audit.verify(store)
    assert result.ok and result.rows == rows, result.problem
    print(f"audit verify: {rows:,} rows in {result.seconds:.2f} s = {rows / result.seconds:,.0f} rows/s (SQLite)")
    store.close()


def bench_read_audit(directory: Path, calls: int) -> None:
    store = Store.open(f"sqlite:///{directory}/reads.db")
    auditor = audit.ReadAuditor(store, interval=3600, batch=10**9)  # flushed by hand below
    fields = ("customer_id", "account_name", "mrr", "ltv")
    record = auditor.record
    ids = [f"c_{i:012d}" for i in range(1000)]
    t = time.perf_counter()
    for i in range(calls):
        record("finance", ids[i % 1000], fields, "materialised")
    per_call = (time.perf_counter() - t) / calls
    t = time.perf_counter()
    n = auditor.flush()
    flush = time.perf_counter() - t
    auditor.close()
    print(
        f"read audit: record() {per_call * 1e6:.2f} µs per call on the caller's thread; "
        f"flush {n:,} reads in {flush:.2f} s = {n / flush:,.0f} reads/s group-committed (SQLite)"
    )
    assert audit.verify(store).ok
    store.close()


def pg_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=0.5):
            return True
    except OSError:
        return False


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--erasures", type=int, default=15)
    ap.add_argument("--audit-rows", type=int, default=1_000_000)
    ap.add_argument("--reads", type=int, default=200_000)
    args = ap.parse_args()
    os.environ.setdefault("C360_AUDIT_KEY", "benchmark-audit-key-" + uuid.uuid4().hex)
    print("command:", shlex.join([sys.executable, *sys.argv]))
    with tempfile.TemporaryDirectory(prefix="c360-bench-erasure-") as tmp:
        d = Path(tmp)
        bench_read_audit(d, args.reads)
        bench_verify(args.audit_rows, d)
        bench_erasures(f"sqlite:///{d}/store.db", "SQLite    ", args.customers, args.erasures)
        bench_invisible(f"sqlite:///{d}/store.db", "SQLite    ", args.customers, args.erasures, d)
        if pg_up():
            name = f"c360_bench_{uuid.uuid4().hex[:8]}"
            admin = create_engine(
                f"{PG}/postgres".replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
            )
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            try:
                bench_erasures(f"{PG}/{name}", "PostgreSQL", args.customers, args.erasures)
                bench_invisible(f"{PG}/{name}", "PostgreSQL", args.customers, args.erasures, d)
            finally:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()
        else:
            print("PostgreSQL: skipped (nothing answers on 127.0.0.1:5432)")


if __name__ == "__main__":
    main()
