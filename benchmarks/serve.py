"""Serving latency and throughput with wrk, against a real server on loopback.

For each store (SQLite, and PostgreSQL when it answers on 127.0.0.1:5432):

1. 100,000 generated customers are written straight into a snapshot through the
   Store API (no identity resolution), and a key is made for ``finance``;
2. ``c360`` serves them (uvicorn + uvloop + httptools, or ``--server granian``),
   with authentication, projection and read auditing on;
3. wrk drives ``GET /v1/customers/{id}`` with a random id per request at one
   connection and at 32, then ``POST /v1/customers:batchGet`` with 100 random ids;
4. a live read: the demo product (``--live-accounts`` accounts) with its product
   telemetry table in PostgreSQL, built, and ``support`` (live delivery) read by wrk.

Prints p50 / p95 / p99, requests/s and errors for every case. Needs ``wrk``
(Debian: ``apt-get install wrk``).

Each materialised case runs once per serving mode (``--modes file,memory``, or ``redis``
against ``--redis-url``, see ``C360_SERVING``) and prints memory rows: each worker's private
memory (``Private_Clean + Private_Dirty`` from ``/proc/PID/smaps_rollup``), the whole server
tree's PSS and the serving file's size (in redis mode: the memory of the benchmark's keys in
Redis), after warm-up and again after a new snapshot is published and swapped in, and an idle
worker's CPU (share of one core over ``--idle-seconds``). The new snapshot is published while wrk
reads (``--swap-connections``, ``--swap-seconds``): the row "swap under load" gives that window's
p99, p99.9, slowest read and errors.

    python benchmarks/serve.py [--customers 100000] [--seconds 10] [--workers 2] [--modes file,memory,redis]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEMO_SPEC = ROOT / "src" / "c360" / "demo" / "product.yaml"
PG_HOST, PG_PORT = "127.0.0.1", 5432
PG_ADMIN = f"postgresql://postgres@{PG_HOST}:{PG_PORT}/test"

LUA_GET = """
local ids = {}
for line in io.lines("%(ids)s") do ids[#ids + 1] = line end
math.randomseed(%(seed)d)
request = function()
  return wrk.format("GET", "/v1/customers/" .. ids[math.random(#ids)])
end
%(done)s
"""

LUA_BATCH = """
local ids = {}
for line in io.lines("%(ids)s") do ids[#ids + 1] = line end
math.randomseed(%(seed)d)
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  local pick = {}
  for i = 1, %(n)d do pick[i] = '"' .. ids[math.random(#ids)] .. '"' end
  local body = '{"ids":[' .. table.concat(pick, ",") .. ']}'
  return wrk.format(nil, "/v1/customers:batchGet", nil, body)
end
%(done)s
"""

# wrk's --latency table has no p95: the done() hook prints the figures as one JSON line.
LUA_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'C360 {"requests": %d, "seconds": %f, "p50": %d, "p95": %d, "p99": %d, "p999": %d, "max": %d, "errors": %d, '
    .. '"kinds": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}}\\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency:percentile(99.9), latency.max, e.connect + e.read + e.write + e.status + e.timeout,
    e.connect, e.read, e.write, e.status, e.timeout))
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pg_up() -> bool:
    try:
        with socket.create_connection((PG_HOST, PG_PORT), timeout=0.5):
            return True
    except OSError:
        return False


@contextmanager
def pg_database(prefix: str) -> Iterator[str]:
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# -- data -------------------------------------------------------------------------------


def customers(n: int, seed: int = 7) -> Iterator[tuple[str, dict[str, Any]]]:
    """``n`` plausible demo records, ids sorted (as a build writes them)."""
    rnd = random.Random(seed)
    segments = ["smb", "mid_market", "enterprise", None]
    ids = sorted({f"c_{rnd.getrandbits(60):015x}"[:14] for _ in range(n + n // 10)})[:n]
    for cid in ids:
        mrr = round(rnd.uniform(0, 5000), 2) if rnd.random() < 0.8 else None
        yield (
            cid,
            {
                "customer_id": cid,
                "account_name": f"Account {cid[2:8].upper()} Ltd",
                "segment": rnd.choice(segments),
                "annual_revenue": round(rnd.uniform(1e5, 1e9), 2),
                "mrr": mrr,
                "ltv": round((mrr or 0) * rnd.randint(1, 40), 2),
                "invoice_status": rnd.choice(["paid", "open", "uncollectible", None]),
                "billing_active": mrr is not None,
                "billing_contact_email": f"ap@{cid[2:10]}.example.com",
                "open_tickets": rnd.randint(0, 6),
                "csat": round(rnd.random(), 4),
                "last_login": f"2026-0{rnd.randint(1, 5)}-{rnd.randint(10, 28)}T10:00:00Z",
                "product_active_30d": rnd.random() < 0.6,
                "active_seats": rnd.randint(0, 40),
                "marketing_opt_in": rnd.random() < 0.5,
            },
        )


def write_snapshot(url: str, n: int) -> tuple[list[str], str]:
    """A published snapshot of ``n`` customers, and a key for ``finance``."""
    from c360.store import Store

    store = Store.open(url)
    version = store.begin_snapshot("bench", "1.0.0", dt.datetime.now(dt.UTC))
    ids: list[str] = []

    def rows() -> Iterator[tuple[str, dict[str, Any]]]:
        for cid, record in customers(n):
            ids.append(cid)
            yield cid, record

    store.write_snapshot(version, rows())
    store.publish(version)
    key = store.create_key("finance")
    store.close()
    return ids, key


def demo_with_pg_product(dir: Path, accounts: int, product_dsn: str) -> Path:
    """The demo product, its ``product`` source moved into PostgreSQL."""
    import psycopg

    from c360.demo.generator import generate

    generate(dir, accounts=accounts, seed=11, as_of=dt.date(2026, 6, 1))
    src = sqlite3.connect(dir / "product.db")
    cols = [r[1] for r in src.execute("PRAGMA table_info(users)")]
    rows = src.execute(f"SELECT {', '.join(cols)} FROM users").fetchall()
    with psycopg.connect(product_dsn, autocommit=True) as pg:
        defs = ", ".join(
            f"{c} {'bigint PRIMARY KEY' if c == 'id' else 'bigint' if c == 'seats' else 'text'}" for c in cols
        )
        pg.execute(f"CREATE TABLE users ({defs})")
        with pg.cursor().copy(f"COPY users ({', '.join(cols)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    text = DEMO_SPEC.read_text().replace(
        "connector: sqlite\n    path: product.db", f"connector: postgres\n    dsn: {product_dsn}"
    )
    spec = dir / "product.yaml"
    spec.write_text(text)
    return spec


# -- server and load -------------------------------------------------------------------------


# base URL → the server's process id, for the memory figures
PIDS: dict[str, int] = {}


@contextmanager
def server(
    spec: Path, url: str, workers: int, kind: str, audit: bool = True, env_extra: dict[str, str] | None = None
) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "C360_SERVER": kind,
        "C360_MASK_KEY": "bench-mask-key-0123456789abcdef0123",
        "C360_READ_AUDIT": "on" if audit else "off",
        **(env_extra or {}),
    }
    code = (
        "from pathlib import Path; from c360.api.serve import run; "
        f"run(Path({str(spec)!r}), {url!r}, host='127.0.0.1', port={port}, workers={workers})"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 300
        while True:
            if proc.poll() is not None:
                tail = proc.stderr.read().decode()[-2000:] if proc.stderr else ""
                raise SystemExit(f"the server exited: {tail}")
            try:
                with urllib.request.urlopen(f"{base}/readyz", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.time() > deadline:
                raise SystemExit("the server did not become ready within 300 s")
            time.sleep(0.5)
        PIDS[base] = proc.pid
        yield base
    finally:
        PIDS.pop(base, None)
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def wrk(base: str, key: str, script: str, connections: int, seconds: int) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    threads = min(connections, 2)
    out = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "5s",
            "-H",
            f"Authorization: Bearer {key}",
            "-s",
            f.name,
            base,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    os.unlink(f.name)
    line = next(ln for ln in out.splitlines() if ln.startswith("C360 "))
    stats: dict[str, float] = json.loads(line[5:])
    stats["rps"] = stats["requests"] / stats["seconds"]
    return stats


def report(store: str, case: str, s: dict[str, float]) -> None:
    print(
        f"  {store:<10} {case:<26} p50 {s['p50'] / 1000:7.3f} ms  p95 {s['p95'] / 1000:7.3f} ms  "
        f"p99 {s['p99'] / 1000:7.3f} ms  {s['rps']:9,.0f} req/s  errors {int(s['errors'])}{_kinds(s)}",
        flush=True,
    )


# -- memory --------------------------------------------------------------------------------


def _children() -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            stat = Path(f"/proc/{d}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        out.setdefault(ppid, []).append(int(d))
    return out


def tree(pid: int) -> list[int]:
    """``pid`` and every process below it."""
    kids = _children()
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def rollup(pid: int) -> dict[str, int]:
    """``/proc/PID/smaps_rollup`` in KiB."""
    out = {}
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
            name, _, rest = line.partition(":")
            out[name] = int(rest.split()[0])
    except OSError:
        pass
    return out


def workers_of(pid: int) -> list[int]:
    """The server's worker processes: those that listen (uvicorn spawns them; a single worker is
    the server process itself)."""
    procs = tree(pid)
    found = []
    for p in procs:
        try:
            cmd = Path(f"/proc/{p}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "multiprocessing.spawn" in cmd or "spawn_main" in cmd:
            found.append(p)
    return found or [pid]


def memory(base: str) -> dict[str, Any]:
    pid = PIDS[base]
    workers = workers_of(pid)
    rolls = [rollup(w) for w in workers]
    private = [(r.get("Private_Clean", 0) + r.get("Private_Dirty", 0)) / 1024 for r in rolls]
    # Of which the heap: Private_Clean also counts serving-file pages only this worker has read so
    # far (page cache, shared as soon as another worker reads them).
    anon = [r.get("Anonymous", 0) / 1024 for r in rolls]
    pss = sum(rollup(p).get("Pss", 0) for p in tree(pid)) / 1024
    return {"private": private, "anon": anon, "pss": pss}


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _kinds(s: dict[str, Any]) -> str:
    """wrk's errors by kind (connect, read, write, status = a non-2xx answer, timeout), when there are any."""
    kinds = {k: int(v) for k, v in (s.get("kinds") or {}).items() if v}
    return " (" + ", ".join(f"{k} {v}" for k, v in kinds.items()) + ")" if kinds else ""


def idle_cpu(base: str, seconds: float) -> list[float]:
    """Each worker's CPU while no request arrives, in % of one core."""
    workers = workers_of(PIDS[base])
    before = [cpu_seconds(w) for w in workers]
    time.sleep(seconds)
    return [100 * (cpu_seconds(w) - b) / seconds for w, b in zip(workers, before, strict=True)]


def serving_file_mib(url: str) -> float:
    """The size of the store's newest serving file (see ``c360.api.serving.serving_dir``)."""
    from c360.api.serving import serving_dir
    from c360.store import Store

    store = Store.open(url, migrate=False)
    d = serving_dir(store)
    store.close()
    files = sorted(d.glob("v*.lmdb"), key=lambda p: p.stat().st_mtime) if d and d.exists() else []
    return files[-1].stat().st_size / 2**20 if files else 0.0


def redis_mib(url: str, product: str) -> float:
    """What the keys of ``product`` take in Redis (``MEMORY USAGE`` of each)."""
    import redis

    r = redis.Redis.from_url(url)
    pipe = r.pipeline(transaction=False)
    for key in r.scan_iter(match=f"c360:{product}:*", count=1000):
        pipe.memory_usage(key, samples=0)
    total = sum(n or 0 for n in pipe.execute())
    r.close()
    return total / 2**20


def redis_drop(url: str, product: str) -> None:
    import redis

    r = redis.Redis.from_url(url)
    keys = list(r.scan_iter(match=f"c360:{product}:*", count=1000))
    for i in range(0, len(keys), 1000):
        r.unlink(*keys[i : i + 1000])
    r.close()


def stored_mib(url: str, mode: str, args: argparse.Namespace) -> float:
    if mode == "file":
        return serving_file_mib(url)
    return redis_mib(args.redis_url, args.redis_product) if mode == "redis" else 0.0


def republish(url: str, n: int) -> int:
    """A new snapshot of the same customers (every 100th with another MRR), published."""
    from sqlalchemy.exc import OperationalError

    from c360.store import Store

    store = Store.open(url)
    # SQLite refuses a read-then-write transaction racing the server's read-audit commits: retried.
    for attempt in range(20):
        try:
            version = store.begin_snapshot("bench", "1.0.0", dt.datetime.now(dt.UTC))
            break
        except OperationalError:
            if attempt == 19:
                raise
            time.sleep(0.5)

    def rows() -> Iterator[tuple[str, dict[str, Any]]]:
        for i, (cid, record) in enumerate(customers(n)):
            yield cid, ({**record, "mrr": 1.0} if i % 100 == 0 else record)

    store.write_snapshot(version, rows())
    for attempt in range(60):
        try:
            store.publish(version)
            break
        except OperationalError:
            if attempt == 59:
                raise
            time.sleep(1)
    store.close()
    return version


def wait_for(base: str, version: int, timeout: float = 1800) -> float:
    """Seconds until every worker serves ``version`` (40 fresh connections in a row say so)."""
    started = time.perf_counter()
    streak = 0
    while streak < 40:
        if time.perf_counter() - started > timeout:
            raise SystemExit(f"snapshot {version} was not served within {timeout:.0f} s")
        try:
            with urllib.request.urlopen(f"{base}/readyz", timeout=5) as r:
                streak = streak + 1 if r.headers.get("X-C360-Snapshot") == str(version) else 0
        except OSError:
            streak = 0
        if not streak:
            time.sleep(0.2)
    return time.perf_counter() - started


def swap_under_load(
    store_name: str, mode: str, base: str, key: str, get: str, url: str, args: argparse.Namespace
) -> tuple[int, float]:
    """Publish a new snapshot while wrk reads at ``--swap-connections``; print the reads' tail and errors.

    wrk runs from 2 s before the publish until 2 s after every worker serves the new version, so
    the window holds the publish (the snapshot written, the serving data written and switched)
    and the swap in every worker. Returns the new version and the seconds until it was served.
    """
    import threading

    out: dict[str, Any] = {}
    budget = args.swap_seconds

    def load() -> None:
        out["stats"] = wrk(base, key, get, args.swap_connections, budget)

    reader = threading.Thread(target=load)
    started = time.perf_counter()
    reader.start()
    time.sleep(2)
    version = republish(url, args.customers)
    took = wait_for(base, version)
    inside = time.perf_counter() - started + 2 <= budget
    reader.join()
    s = out["stats"]
    print(
        f"  {store_name:<10} {mode}: GET one, c={args.swap_connections}, swap under load  p99 {s['p99'] / 1000:7.3f} ms"
        f"  p99.9 {s['p999'] / 1000:7.3f} ms  max {s['max'] / 1000:7.3f} ms  {s['rps']:9,.0f} req/s"
        f"  errors {int(s['errors'])}{_kinds(s)}  slowest under 50 ms: {'yes' if s['max'] < 50_000 else 'NO'}"
        + ("" if inside else f"  (the swap outlasted --swap-seconds {budget}: raise it)"),
        flush=True,
    )
    return version, took


def memory_row(store: str, mode: str, when: str, m: dict[str, Any], file_mib: float) -> None:
    each = " ".join(f"{p:7.1f}" for p in m["private"])
    anon = " ".join(f"{p:7.1f}" for p in m["anon"])
    print(
        f"  {store:<10} {mode:<7} {when:<16} worker private MiB [{each}] (anonymous [{anon}])"
        f"  tree PSS {m['pss']:8.1f} MiB  serving file {file_mib:8.1f} MiB",
        flush=True,
    )


def scripts(ids_file: Path) -> tuple[str, str]:
    get = LUA_GET % {"ids": ids_file, "seed": 42, "done": LUA_DONE}
    batch = LUA_BATCH % {"ids": ids_file, "seed": 43, "n": 100, "done": LUA_DONE}
    return get, batch


def materialised_cases(store_name: str, url: str, tmp: Path, args: argparse.Namespace) -> None:
    started = time.perf_counter()
    ids, key = write_snapshot(url, args.customers)
    print(f"  {store_name}: {len(ids):,} customers written in {time.perf_counter() - started:.1f}s", flush=True)
    ids_file = tmp / f"ids-{store_name}.txt"
    ids_file.write_text("\n".join(ids) + "\n")
    spec = tmp / "product.yaml"
    shutil.copyfile(DEMO_SPEC, spec)
    get, batch = scripts(ids_file)
    for mode in args.modes.split(","):
        started = time.perf_counter()
        env = {"C360_SERVING": mode}
        if mode == "redis":
            args.redis_product = f"bench{uuid.uuid4().hex[:8]}"
            env |= {"C360_REDIS_URL": args.redis_url, "C360_REDIS_PRODUCT": args.redis_product}
        with server(spec, url, args.workers, args.server, env_extra=env) as base:
            print(f"  {store_name:<10} {mode:<7} ready in {time.perf_counter() - started:.1f}s", flush=True)
            wrk(base, key, get, 32, args.seconds)  # warm-up: touch the snapshot
            memory_row(store_name, mode, "after warm-up", memory(base), stored_mib(url, mode, args))
            report(store_name, f"{mode}: GET one, c=1", wrk(base, key, get, 1, args.seconds))
            report(store_name, f"{mode}: GET one, c=32", wrk(base, key, get, 32, args.seconds))
            report(store_name, f"{mode}: batchGet 100 ids, c=1", wrk(base, key, batch, 1, args.seconds))
            version, took = swap_under_load(store_name, mode, base, key, get, url, args)
            swapped = time.perf_counter()
            print(f"  {store_name:<10} {mode:<7} snapshot {version} swapped in after {took:.1f}s", flush=True)
            wrk(base, key, get, 32, args.seconds)
            if mode == "file":  # the replaced file is unmapped once requests can no longer read it
                from c360.api.serving import GRACE_SECONDS

                time.sleep(max(0.0, GRACE_SECONDS + 2 - (time.perf_counter() - swapped)))
            memory_row(store_name, mode, "after swap", memory(base), stored_mib(url, mode, args))
            report(store_name, f"{mode}: GET one, c=1, after swap", wrk(base, key, get, 1, args.seconds))
            cpu = idle_cpu(base, args.idle_seconds)
            print(
                f"  {store_name:<10} {mode:<7} idle CPU per worker: "
                + " ".join(f"{c:.2f}%" for c in cpu)
                + f" of a core over {args.idle_seconds:.0f}s",
                flush=True,
            )
        if mode == "redis":
            redis_drop(args.redis_url, args.redis_product)
    if args.audit_off:
        # The same cases with read auditing off: what recording every read costs.
        with server(spec, url, args.workers, args.server, audit=False) as base:
            wrk(base, key, get, 1, 2)
            report(store_name, "GET one, c=1, audit off", wrk(base, key, get, 1, args.seconds))
            report(store_name, "GET one, c=32, audit off", wrk(base, key, get, 32, args.seconds))


def live_case(store_name: str, url: str, tmp: Path, args: argparse.Namespace, product_dsn: str) -> None:
    from c360.pipeline.build import build
    from c360.spec.validate import load_spec
    from c360.store import Store

    d = tmp / f"live-{store_name}"
    d.mkdir()
    spec_path = demo_with_pg_product(d, args.live_accounts, product_dsn)
    # A live consumer with a row filter, to time a hidden customer against an absent one.
    spec_path.write_text(spec_path.read_text().replace("\nconsumers:\n", CAMPAIGNS, 1))
    store = Store.open(url)
    report_ = build(load_spec(spec_path), store, as_of=dt.datetime(2026, 6, 1, tzinfo=dt.UTC))
    key = store.create_key("support")
    campaigns = store.create_key("campaigns")
    records = [(cid, json.loads(data)) for cid, data in store.snapshot_rows(report_.version or 0)]
    ids = [cid for cid, _ in records]
    hidden = [cid for cid, r in records if not r.get("marketing_opt_in")]
    store.close()
    ids_file = d / "ids.txt"
    ids_file.write_text("\n".join(ids) + "\n")
    get, _ = scripts(ids_file)
    with server(spec_path, url, args.workers, args.server) as base:
        wrk(base, key, get, 1, 2)
        report(store_name, f"live GET ({len(ids):,} cust.), c=1", wrk(base, key, get, 1, args.seconds))
        hidden_vs_absent(store_name, base, campaigns, hidden)


CAMPAIGNS = """
consumers:
  campaigns:
    fields: [customer_id, account_name, active_seats, product_active_30d, marketing_opt_in]
    row_filter: marketing_opt_in
    delivery: live
"""


def hidden_vs_absent(store_name: str, base: str, key: str, hidden: list[str], n: int = 400) -> None:
    """Live reads of customers a row filter hides, against ids that do not exist, interleaved.

    Both must be 404 by the same path: the medians should not tell them apart.
    """
    import http.client
    import statistics

    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    times: dict[str, list[float]] = {"hidden": [], "absent": []}
    statuses: dict[str, set[int]] = {"hidden": set(), "absent": set()}
    rng = random.Random(5)
    for i in range(n * 2):
        kind = "hidden" if i % 2 == 0 else "absent"
        cid = rng.choice(hidden) if kind == "hidden" else f"c_{uuid.UUID(int=rng.getrandbits(128)).hex[:16]}"
        started = time.perf_counter()
        conn.request("GET", f"/v1/customers/{cid}", headers={"Authorization": f"Bearer {key}"})
        resp = conn.getresponse()
        resp.read()
        times[kind].append((time.perf_counter() - started) * 1000)
        statuses[kind].add(resp.status)
    conn.close()
    h, a = (statistics.median(times[k]) for k in ("hidden", "absent"))
    print(
        f"  {store_name:<10} live GET hidden vs absent     median {h:.3f} ms vs {a:.3f} ms "
        f"(statuses {sorted(statuses['hidden'])} vs {sorted(statuses['absent'])}, {n} each)",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--server", choices=["uvicorn", "granian"], default="uvicorn")
    parser.add_argument("--live-accounts", type=int, default=500)
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument(
        "--modes", default="file,memory", help="serving modes to measure (C360_SERVING): file, memory, redis"
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0", help="the Redis of the redis mode")
    parser.add_argument("--idle-seconds", type=float, default=10.0)
    parser.add_argument("--swap-seconds", type=int, default=20, help="how long wrk reads while a snapshot swaps")
    parser.add_argument("--swap-connections", type=int, default=4, help="wrk's connections during the swap")
    parser.add_argument("--no-live", action="store_true", help="skip the live-read cases")
    parser.add_argument(
        "--audit-off", action="store_true", help="also measure with read auditing off, to show what auditing costs"
    )
    args = parser.parse_args()
    from c360.api.audit import flush_interval

    if shutil.which("wrk") is None:
        sys.exit(
            "wrk is not installed: this benchmark measures with wrk (Debian: apt-get install wrk); "
            "a Python load generator is too slow to measure sub-millisecond latency"
        )
    stores = args.stores.split(",")
    if "postgresql" in stores and not pg_up():
        print("PostgreSQL is not reachable on 127.0.0.1:5432: skipping the PostgreSQL store and the live read")
        stores.remove("postgresql")
    print(
        f"serving benchmark: {args.customers:,} customers, {args.server}, "
        f"{args.workers} worker(s), "
        f"{args.seconds}s per case, wrk with a random id per request, read audit committed every "
        f"{flush_interval()} s",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="c360-bench-") as t:
        tmp = Path(t)
        for name in stores:
            if name == "sqlite":
                materialised_cases(name, f"sqlite:///{tmp}/store.db", tmp, args)
            else:
                # Serving files of the PostgreSQL store: in the run's directory, removed with it.
                os.environ.setdefault("C360_SERVING_DIR", str(tmp / "serving"))
                with pg_database("c360_bench") as url:
                    materialised_cases(name, url, tmp, args)
        if args.no_live:
            pass
        elif pg_up():
            for name in stores:
                with pg_database("c360_bench_product") as product_dsn:
                    if name == "sqlite":
                        live_case(name, f"sqlite:///{tmp}/live.db", tmp, args, product_dsn)
                    else:
                        with pg_database("c360_bench_live") as url:
                            live_case(name, url, tmp, args, product_dsn)
        else:
            print("  live read: skipped (product telemetry lives in PostgreSQL, which is not reachable)")


if __name__ == "__main__":
    main()
