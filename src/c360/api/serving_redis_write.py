"""Writing a snapshot into Redis: projected by the serving file's writer into a temporary local file,
then copied under the snapshot's prefix in pipelined chunks and the ``current`` pointer switched
(see :mod:`c360.api.serving_redis` for the keys). A big snapshot is written by a child process
(``python -m c360.api.serving_redis_write``), so no worker's requests wait on it for the GIL.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from c360.api.serving_layout import _META, _TIME, CHUNK, ServingFileError, _max_dbs
from c360.api.serving_redis import RedisServing, _drop, _drop_others, client
from c360.core.priority import lower_priority
from c360.spec.validate import Spec
from c360.store import Store

if TYPE_CHECKING:
    from c360.api.serving import Continuity


def continuity(rs: RedisServing) -> Continuity:
    """What a replica served before (a prefix, with the erasures already written into it): change
    times carry over into the next version as in file mode."""
    from c360.api.serving import Continuity

    class _Previous(Continuity):
        def __init__(self) -> None:
            super().__init__(rs)  # type: ignore[arg-type]
            self.known = {k.decode(): _META.unpack(v) for k, v in rs.r.hgetall(f"{rs.prefix}:k").items()}
            self.since = {
                c: {k.decode(): float(_TIME.unpack(v)[0]) for k, v in rs.r.hgetall(rs.key("s", c)).items()}
                for c in rs.dbs
            }

        def meta(self, cid: str) -> tuple[int, float] | None:
            return self.known.get(cid)

        def own_since(self, consumer: str, cid: str) -> float | None:
            return self.since.get(consumer, {}).get(cid)

        def body(self, consumer: str, cid: str) -> bytes | None:
            if consumer not in rs.dbs:
                return None
            got: bytes | None = rs.r.hget(rs.key("r", consumer), cid)
            return got

    return _Previous()


def _copy(r: Any, path: Path, spec: Spec, version: int, fp: str, prefix: str) -> None:
    """Copy a verified serving file into Redis under ``prefix``, the header last."""
    from c360.api.serving import ServingFile

    sf = ServingFile(path, version=version, fp=fp, max_dbs=_max_dbs(spec))
    try:
        pipe = r.pipeline(transaction=False)
        n = 0

        def flush(force: bool = False) -> None:
            nonlocal pipe, n
            n += 1
            if force or n >= CHUNK:
                pipe.execute()
                pipe, n = r.pipeline(transaction=False), 0

        with sf.env.begin(buffers=False) as txn:
            for k, v in txn.cursor(db=sf.meta_db):
                pipe.hset(f"{prefix}:k", k, v)
                flush()
            for consumer, (rdb, edb, sdb) in sf.dbs.items():
                for k, v in txn.cursor(db=rdb):
                    pipe.hset(f"{prefix}:r:{consumer}", k, v)
                    pipe.zadd(f"{prefix}:i:{consumer}", {k: 0})
                    flush()
                rev: dict[bytes, list[bytes]] = {}
                ekey = f"{prefix}:e:{consumer}:".encode()
                for k, v in txn.cursor(db=edb):  # every duplicate: one (email, id) pair each
                    pipe.sadd(ekey + k, v)
                    rev.setdefault(v, []).append(k.hex().encode())
                    flush()
                for cid, keys in rev.items():
                    pipe.hset(f"{prefix}:x:{consumer}", cid, b",".join(keys))
                    flush()
                for k, v in txn.cursor(db=sdb):
                    pipe.hset(f"{prefix}:s:{consumer}", k, v)
                    flush()
        pipe.set(f"{prefix}:meta", orjson.dumps(sf.header))
        flush(force=True)
    finally:
        sf.env.close()


def write(
    r: Any,
    spec: Spec,
    store: Store,
    mask_key: bytes,
    version: int,
    fp: str,
    product: str,
    previous: RedisServing | None = None,
) -> None:
    """Project the published snapshot ``version`` and write it into Redis, then switch the pointer."""
    from c360.api.serving_write import write as write_file

    prefix = f"c360:{product}:{fp}"
    scratch = os.environ.get("C360_SERVING_DIR")  # the serving files' space, else TMPDIR
    if scratch:
        Path(scratch).mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = Path(tempfile.mkdtemp(prefix="c360-redis-", dir=scratch or None))
    try:
        path = tmp / "snapshot.lmdb"
        prev = None
        if previous is not None and previous.product == product and r.exists(f"{previous.prefix}:meta"):
            prev = continuity(previous)
        write_file(path, spec, store, mask_key, fp, version, prev)
        _drop(r, prefix)  # what an earlier writer that died left
        r.sadd(f"c360:{product}:prefixes", prefix)
        _copy(r, path, spec, version, fp, prefix)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    old = r.getset(f"c360:{product}:current", prefix)
    keep = {prefix} | ({old.decode()} if old else set())
    _drop_others(r, product, keep)


def in_child(url: str) -> Callable[..., None]:
    """:func:`write`, run in a child process (``python -m c360.api.serving_redis_write``) against ``url``."""

    def in_child(
        r: Any,
        spec: Spec,
        store: Store,
        mask_key: bytes,
        version: int,
        fp: str,
        product: str,
        previous: RedisServing | None = None,
    ) -> None:
        job = {
            "redis_url": url,
            "spec_path": str(spec.path),
            "spec_text": spec.text,
            "store_url": store.engine.url.render_as_string(hide_password=False),
            "mask_key": mask_key.hex(),
            "version": version,
            "fingerprint": fp,
            "product": product,
            "previous": None if previous is None else [previous.header["version"], previous.fp],
        }
        done = subprocess.run(
            [sys.executable, "-m", "c360.api.serving_redis_write"],
            input=orjson.dumps(job),
            capture_output=True,
            check=False,
        )
        if done.returncode != 0:
            tail = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["(no output)"]
            raise ServingFileError(f"writing snapshot {version} into redis failed: {tail[0]}")

    return in_child


def _main() -> None:
    from c360.spec.validate import load_spec_text

    lower_priority()
    job = orjson.loads(sys.stdin.buffer.read())
    spec = load_spec_text(job["spec_text"], job["spec_path"])
    store = Store.open(job["store_url"], migrate=False)
    r = client(job["redis_url"])
    previous = None
    if job["previous"]:
        try:
            previous = RedisServing(r, job["product"], version=int(job["previous"][0]), fp=job["previous"][1])
        except ServingFileError:  # gone meanwhile: change times start afresh
            previous = None
    try:
        write(
            r,
            spec,
            store,
            bytes.fromhex(job["mask_key"]),
            int(job["version"]),
            job["fingerprint"],
            job["product"],
            previous,
        )
    finally:
        store.close()


if __name__ == "__main__":
    _main()
