"""Read auditing under a crash: reads answered against reads audited after ``kill -9``.

For each store (SQLite, and PostgreSQL when it answers on 127.0.0.1:5432) and each load level
(wrk at 1, 8 and 32 connections, a random customer per ``GET /v1/customers/{id}``):

1. ``c360 serve`` (two workers, read auditing on) starts in a session of its own;
2. wrk reads for ``--seconds``; then, under that load, the server is killed with SIGKILL:
   - ``group``: its process group (the serve command and its workers: ``kill -9 -PGID``, a
     supervisor's stop; an OOM kill of a worker is a part of this);
   - ``all``: every process it started as well, audit writers included (a container or
     cgroup killed whole);
3. once the writers have exited, the audit rows written during the run are counted.

Prints, per case, the reads answered (wrk's completed ``200`` responses), the reads audited,
the reads lost and what that is in seconds of load, with p50 / p99 and requests/s of the reads
before the kill. A read is recorded before its answer is sent, so up to one read per connection
may be audited without having been answered: ``lost`` is a lower bound by that much.

``--code REV`` runs the same cases on the code of a git revision (``git archive``, nothing in
the repository changes) to compare; ``--code off`` with read auditing off (latency only).

    python benchmarks/read_audit.py [--stores sqlite,postgresql] [--code worktree] [--code HEAD]
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
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEMO_SPEC = ROOT / "src" / "c360" / "demo" / "product.yaml"
PG_HOST, PG_PORT = "127.0.0.1", 5432
PG_ADMIN = f"postgresql://postgres@{PG_HOST}:{PG_PORT}/test"
LEVELS = (1, 8, 32)
KILLS = ("group", "all")

LUA = """
local ids = {}
for line in io.lines("%(ids)s") do ids[#ids + 1] = line end
math.randomseed(%(seed)d)
request = function()
  return wrk.format("GET", "/v1/customers/" .. ids[math.random(#ids)])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('C360 {"requests": %%d, "status_errors": %%d, "p50": %%d, "p99": %%d}\\n',
    summary.requests, e.status, latency:percentile(50), latency:percentile(99)))
end
"""


def pg_up() -> bool:
    try:
        with socket.create_connection((PG_HOST, PG_PORT), timeout=0.5):
            return True
    except OSError:
        return False


@contextmanager
def pg_database() -> Iterator[str]:
    import psycopg

    name = f"c360_read_audit_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def write_snapshot(url: str, n: int) -> tuple[list[str], str]:
    """A published snapshot of ``n`` customers (straight through the Store API), and a key for ``finance``."""
    from c360.store import Store

    rnd = random.Random(7)
    store = Store.open(url)
    version = store.begin_snapshot("bench", "1.0.0", dt.datetime.now(dt.UTC))
    ids = [f"c_{i:012x}" for i in range(n)]
    store.write_snapshot(
        version,
        (
            (
                cid,
                {
                    "customer_id": cid,
                    "account_name": f"Account {cid[2:].upper()}",
                    "segment": "smb",
                    "annual_revenue": round(rnd.uniform(1e5, 1e9), 2),
                    "mrr": round(rnd.uniform(0, 5000), 2),
                    "ltv": round(rnd.uniform(0, 90000), 2),
                    "invoice_status": "paid",
                    "billing_active": True,
                    "billing_contact_email": f"ap@{cid[2:]}.example.com",
                },
            )
            for cid in ids
        ),
    )
    store.publish(version)
    key = store.create_key("finance")
    store.close()
    return ids, key


def audited(url: str) -> int:
    from sqlalchemy import text

    from c360.store import Store

    store = Store.open(url, migrate=False)
    try:
        with store.engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM audit_log WHERE kind = 'read'")).scalar_one())
    finally:
        store.close()


def processes() -> dict[int, tuple[int, str]]:
    """pid → (parent pid, state) of every process, from ``/proc``."""
    out: dict[int, tuple[int, str]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            out[int(entry)] = (int(fields[1]), fields[0])
    return out


def descendants(pid: int) -> set[int]:
    procs, found, todo = processes(), set(), [pid]
    while todo:
        parent = todo.pop()
        for child, (ppid, _) in procs.items():
            if ppid == parent and child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pids: set[int]) -> set[int]:
    procs = processes()
    return {p for p in pids if p in procs and procs[p][1] != "Z"}


@dataclass
class Code:
    name: str  # worktree | a git revision | off
    pythonpath: str | None  # the revision's src, extracted
    audit: bool


def code_of(name: str, tmp: Path) -> Code:
    if name == "worktree":
        return Code(name, None, True)
    if name == "off":
        return Code(name, None, False)
    dest = tmp / f"code-{len(list(tmp.glob('code-*')))}"
    dest.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", name, "src"], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return Code(name, str(dest / "src"), True)


def start(spec: Path, url: str, code: Code, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    port = socket.socket()
    port.bind(("127.0.0.1", 0))
    number = port.getsockname()[1]
    port.close()
    env = {
        **os.environ,
        "C360_MASK_KEY": "bench-mask-key-0123456789abcdef0123",
        "C360_READ_AUDIT": "on" if code.audit else "off",
    }
    if code.pythonpath:
        env["PYTHONPATH"] = code.pythonpath
    argv = [
        sys.executable,
        "-c",
        "from c360.cli import main; main()",
        "serve",
        str(spec),
        "--store",
        url,
        "--host",
        "127.0.0.1",
        "--port",
        str(number),
        "--workers",
        str(workers),
    ]
    proc = subprocess.Popen(argv, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{number}"
    deadline = time.monotonic() + 120
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"c360 serve exited ({proc.returncode}); run it by hand to see why")
        try:
            with urllib.request.urlopen(f"{base}/readyz", timeout=1) as r:
                if r.status == 200:
                    return proc, base
        except OSError:
            pass
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            raise SystemExit("c360 serve did not become ready within 120 s")
        time.sleep(0.1)


def run_case(
    spec: Path, url: str, key: str, script: Path, code: Code, connections: int, kill: str, seconds: float, workers: int
) -> dict[str, Any]:
    """Load, SIGKILL under that load, wait for the writers, count."""
    before = audited(url)
    proc, base = start(spec, url, code, workers)
    # wrk would run past the kill, so that the kill lands under load; it is stopped just after.
    # Its latency figures are of completed requests, all before the kill.
    load = subprocess.Popen(
        [
            "wrk",
            f"-t{min(connections, 2)}",
            f"-c{connections}",
            f"-d{seconds + 5:.0f}s",
            "--timeout",
            "5s",
            "-H",
            f"Authorization: Bearer {key}",
            "-s",
            str(script),
            base,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    began = time.monotonic()
    time.sleep(seconds)
    tree = descendants(proc.pid)
    if kill == "all":
        for pid in tree:
            os.kill(pid, signal.SIGKILL)
    os.killpg(proc.pid, signal.SIGKILL)
    loaded = time.monotonic() - began
    proc.wait()
    time.sleep(0.2)  # the answers already sent reach wrk
    load.send_signal(signal.SIGINT)  # wrk stops and reports
    out, _ = load.communicate()
    # The writers that outlived the kill commit what they hold and exit.
    deadline = time.monotonic() + 60
    while alive(tree) and time.monotonic() < deadline:
        time.sleep(0.02)
    for pid in alive(tree):
        os.kill(pid, signal.SIGKILL)
    line = next(ln for ln in out.splitlines() if ln.startswith("C360 "))
    stats: dict[str, Any] = json.loads(line[5:])
    answered = int(stats["requests"]) - int(stats["status_errors"])
    rps = answered / loaded
    result = {"answered": answered, "rps": rps, "p50": stats["p50"] / 1000, "p99": stats["p99"] / 1000}
    if code.audit:
        n = audited(url) - before
        lost = max(answered - n, 0)
        result |= {"audited": n, "lost": lost, "lost_seconds": lost / rps if rps else 0.0}
    return result


def report(store: str, code: str, connections: int, kill: str, r: dict[str, Any]) -> None:
    loss = (
        f"audited {r['audited']:7,}  lost {r['lost']:6,} ({r['lost_seconds'] * 1000:6.0f} ms of load)"
        if "audited" in r
        else "audit off"
    )
    print(
        f"  {store:<10} {code:<9} c={connections:<3} kill {kill:<5}  answered {r['answered']:7,}  {loss}  "
        f"p50 {r['p50']:6.2f} ms  p99 {r['p99']:7.2f} ms  {r['rps']:7,.0f} req/s",
        flush=True,
    )


def commit_per_read(name: str, url: str, n: int = 300) -> None:
    """What a read durable before its answer would cost at least: one commit per read, in-process.

    The single-customer GET is answered on the event loop, so a worker waiting for each read's
    commit answers at most one read per commit.
    """
    import statistics

    from c360.governance.audit import ReadAuditor
    from c360.store import Store

    store = Store.open(url, migrate=False)
    auditor = ReadAuditor(store, interval=3600)  # committed by hand, one read at a time
    waits = []
    for i in range(n):
        t = time.perf_counter()
        auditor.record("finance", f"c_{i:012x}", ("customer_id", "mrr"), "materialised")
        auditor.flush()
        waits.append(time.perf_counter() - t)
    auditor.close()
    store.close()
    waits.sort()
    p50, p99 = statistics.median(waits), waits[int(len(waits) * 0.99)]
    print(
        f"  {name:<10} a commit per read (durable before the answer): +{p50 * 1000:.2f} ms p50, "
        f"+{p99 * 1000:.2f} ms p99 per read; at most {1 / p50:,.0f} reads/s per worker",
        flush=True,
    )


def bench_store(name: str, url: str, tmp: Path, codes: list[Code], args: argparse.Namespace) -> None:
    ids, key = write_snapshot(url, args.customers)
    commit_per_read(name, url)
    ids_file = tmp / f"ids-{name}.txt"
    ids_file.write_text("\n".join(ids) + "\n")
    script = tmp / f"get-{name}.lua"
    script.write_text(LUA % {"ids": ids_file, "seed": 42})
    spec = tmp / "product.yaml"
    shutil.copyfile(DEMO_SPEC, spec)
    for code in codes:
        for connections in args.levels:
            for kill in args.kills if code.audit else args.kills[:1]:
                r = run_case(spec, url, key, script, code, connections, kill, args.seconds, args.workers)
                report(name, code.name, connections, kill, r)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument(
        "--code", action="append", help="worktree (the default), a git revision to compare with, or off (no auditing)"
    )
    parser.add_argument(
        "--levels",
        type=lambda s: [int(x) for x in s.split(",")],
        default=list(LEVELS),
        help="wrk connections, comma-separated (default 1,8,32)",
    )
    parser.add_argument(
        "--kills", type=lambda s: s.split(","), default=list(KILLS), help="group, all or both (default group,all)"
    )
    parser.add_argument("--seconds", type=float, default=2.0, help="load before the kill")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--customers", type=int, default=10_000)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (Debian: apt-get install wrk)")
    stores = args.stores.split(",")
    if "postgresql" in stores and not pg_up():
        print("PostgreSQL is not reachable on 127.0.0.1:5432: skipping it")
        stores.remove("postgresql")
    from c360.api.audit import flush_interval

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="c360-read-audit-") as t:
        tmp = Path(t)
        # One key for every case and store, outside the user's configuration.
        os.environ["C360_AUDIT_KEY_FILE"] = str(tmp / "audit.key")
        codes = [code_of(c, tmp) for c in args.code or ["worktree"]]
        print(
            f"read audit under kill -9: {args.workers} workers, {args.seconds:g} s of wrk load per case, "
            f"reads committed every {flush_interval()} s",
            flush=True,
        )
        for name in stores:
            if name == "sqlite":
                bench_store(name, f"sqlite:///{tmp}/store.db", tmp, codes, args)
            else:
                with pg_database() as url:
                    bench_store(name, url, tmp, codes, args)
    print(f"done in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
