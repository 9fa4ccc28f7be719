"""Server-side render time of every page of the web app, over a demo of ``--accounts`` accounts.

1. The demo is generated and built (as ``c360 demo --accounts N --no-serve`` does) into
   ``--dir`` (default ``/tmp/c360-web-bench/<accounts>``), or reused when a build is there;
2. the API and its web app are created in this process and driven through FastAPI's test
   client (ASGI, no network), signed in as the owner (``product_owner``);
3. each page is fetched ``--requests`` times after two warm-up requests; p50 and p99 of the
   wall time per request are printed, and whether the p99 is under ``--budget-ms`` (300).

    python benchmarks/web_pages.py [--accounts 20000] [--requests 30] [--dir DIR] [--rebuild]
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import re
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO_SPEC = ROOT / "src" / "c360" / "demo" / "product.yaml"
OWNER = "product_owner"


def built(dir: Path, accounts: int, seed: int, rebuild: bool) -> tuple[Path, float | None]:
    """The demo's spec path, built in ``dir`` (reused when already built); seconds the build took, if it ran."""
    from c360.demo.generator import generate
    from c360.pipeline.build import build
    from c360.spec.validate import load_spec
    from c360.store import Store

    marker = dir / ".built"
    spec_path = dir / "product.yaml"
    if marker.exists() and not rebuild and (dir / "store.db").exists():
        return spec_path, None
    shutil.rmtree(dir, ignore_errors=True)
    dir.mkdir(parents=True)
    t0 = time.perf_counter()
    generate(dir, accounts=accounts, seed=seed, as_of=dt.date(2026, 6, 1))
    shutil.copyfile(DEMO_SPEC, spec_path)
    store = Store.open(f"sqlite:///{dir}/store.db")
    try:
        build(load_spec(spec_path), store, full=True, as_of=dt.datetime(2026, 6, 1, tzinfo=dt.UTC))
    finally:
        store.close()
    marker.write_text(f"{accounts}\n")
    return spec_path, time.perf_counter() - t0


def quantile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--accounts", type=int, default=20_000)
    ap.add_argument("--requests", type=int, default=30, help="timed requests per page")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--dir", type=Path, default=None)
    ap.add_argument("--rebuild", action="store_true", help="build again even if a build is cached in --dir")
    ap.add_argument("--budget-ms", type=float, default=300.0)
    args = ap.parse_args(argv)
    os.environ.setdefault("C360_READ_AUDIT", "in-process")
    sys.path.insert(0, str(ROOT / "src"))

    from fastapi.testclient import TestClient

    from c360.api import create_app
    from c360.spec.validate import load_spec
    from c360.store import Store

    dir = args.dir or Path(f"/tmp/c360-web-bench/{args.accounts}")
    spec_path, took = built(dir, args.accounts, args.seed, args.rebuild)
    how = f"built in {took:.0f} s" if took else "reused"
    print(f"demo: {args.accounts:,} accounts in {dir} ({how})")
    spec = load_spec(spec_path)
    store = Store.open(f"sqlite:///{dir}/store.db")
    key = store.create_key(OWNER)
    version = store.current_version()
    cid = next(iter(store.snapshot_rows(version or 0)), ("none", b""))[0]
    app = create_app(spec, store, refresh_seconds=0, mask_key=b"web-bench-mask-key-0123456789abcdef", jwt=None)
    pages = [
        "/app",
        "/app/fields",
        "/app/fields?q=email",
        "/app/fields/mrr",
        "/app/review",
        "/app/customers",
        f"/app/customers?by=id&q={cid}",
        "/app/audit",
        "/app/erasure",
        "/app/ops",
        "/app/subscriptions",
    ]
    rows = []
    with TestClient(app) as client:
        login = client.get("/app/login")
        token = re.search(r'name="csrf" value="([^"]+)"', login.text)
        assert token, "no CSRF token on the sign-in page"
        r = client.post("/app/login", data={"credential": key, "csrf": token.group(1)}, follow_redirects=False)
        assert r.status_code == 303, r.text
        customers = store.current_snapshot()
        print(f"snapshot version {version}, {customers.customers if customers else 0:,} customers")
        for path in pages:
            for _ in range(2):
                warm = client.get(path)
                assert warm.status_code == 200, (path, warm.status_code)
            samples = []
            for _ in range(args.requests):
                t0 = time.perf_counter()
                resp = client.get(path)
                samples.append((time.perf_counter() - t0) * 1000)
                assert resp.status_code == 200, (path, resp.status_code)
            rows.append((path.split("?")[0] + (" (query)" if "?" in path else ""), samples, len(resp.content)))
    store.close()
    print(f"\n{'page':<28} {'n':>4} {'p50 ms':>8} {'p99 ms':>8} {'KiB':>6}  under {args.budget_ms:g} ms (p99)")
    for name, samples, size in rows:
        p50, p99 = quantile(samples, 0.5), quantile(samples, 0.99)
        ok = "yes" if p99 < args.budget_ms else "NO"
        print(f"{name:<28} {len(samples):>4} {p50:>8.1f} {p99:>8.1f} {size / 1024:>6.1f}  {ok}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
