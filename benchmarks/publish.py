"""What publishing costs on top of a build: the serving file (and the Redis copy) of a built demo.

1. The demo is generated at ``--accounts`` accounts and built (as ``c360 demo --accounts N
   --no-serve`` does) into ``--dir`` (default ``/tmp/c360-publish-bench/<accounts>``); the
   build is timed on its own (generating the source files is not part of it);
2. the published snapshot's serving file is written as the first API worker writes it
   (:func:`c360.api.serving.prepare`: every consumer's projected answers, ids, e-mail index and
   change times, by a child process past 2,000 customers), and timed;
3. with ``--redis-url``, the same snapshot is written into Redis as a replica in
   ``C360_SERVING=redis`` mode writes it, and timed (its keys are deleted afterwards).

Prints customers, build seconds, serving-file seconds and size, and the share the serving
file adds to the build (the issue's bound: 20%).

    python benchmarks/publish.py [--accounts 100000] [--redis-url redis://127.0.0.1:6379/0]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO_SPEC = ROOT / "src" / "c360" / "demo" / "product.yaml"
MASK_KEY = b"publish-bench-mask-key-0123456789abcdef"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--accounts", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--dir", type=Path, default=None)
    ap.add_argument("--redis-url", default="", help="also time the copy into Redis (redis mode)")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT / "src"))
    from c360.api import serving, serving_redis
    from c360.demo.generator import generate
    from c360.pipeline.build import build
    from c360.spec.validate import load_spec
    from c360.store import Store

    dir = args.dir or Path(f"/tmp/c360-publish-bench/{args.accounts}")
    shutil.rmtree(dir, ignore_errors=True)
    dir.mkdir(parents=True)
    started = time.perf_counter()
    generate(dir, accounts=args.accounts, seed=args.seed, as_of=dt.date(2026, 6, 1))
    print(f"demo sources: {args.accounts:,} accounts generated in {time.perf_counter() - started:.1f} s", flush=True)
    spec_path = dir / "product.yaml"
    shutil.copyfile(DEMO_SPEC, spec_path)
    spec = load_spec(spec_path)
    store = Store.open(f"sqlite:///{dir}/store.db")
    try:
        started = time.perf_counter()
        build(spec, store, full=True, as_of=dt.datetime(2026, 6, 1, tzinfo=dt.UTC))
        build_s = time.perf_counter() - started
        info = store.current_snapshot()
        assert info is not None, "the build published nothing"
        print(f"build: {info.customers:,} customers, {build_s:.1f} s (sync, resolve, materialise, publish)", flush=True)

        out = Path(tempfile.mkdtemp(prefix="c360-serving-", dir=dir))
        prepared = serving.prepare(
            spec,
            store,
            MASK_KEY,
            out,
            info.version,
            info.run_id,
            info.customers,
            mark=serving.edit_mark(store, info.version),
        )
        size = prepared.file.path.stat().st_size / 2**20
        prepared.file.close()
        share = prepared.seconds / build_s
        print(
            f"serving file: {prepared.seconds:.1f} s, {size:,.0f} MiB, {len(spec.model.consumers)} consumers: "
            f"+{share:.1%} of the build ({'within' if share <= 0.2 else 'OVER'} the 20% bound)",
            flush=True,
        )
        if args.redis_url:
            product = f"bench{uuid.uuid4().hex[:10]}"
            os.environ["C360_REDIS_PRODUCT"] = product
            r = serving_redis.client(args.redis_url)
            try:
                started = time.perf_counter()
                serving_redis.prepare(
                    spec, store, MASK_KEY, args.redis_url, info.version, info.run_id, None, customers=info.customers
                )
                took = time.perf_counter() - started
                print(f"redis copy: {took:.1f} s: +{took / build_s:.1%} of the build", flush=True)
            finally:
                keys = list(r.scan_iter(match=f"c360:{product}:*", count=10_000))
                for i in range(0, len(keys), 10_000):
                    r.unlink(*keys[i : i + 10_000])
    finally:
        store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
