"""Redis serving (``C360_SERVING=redis``): one snapshot's per-consumer answers in Redis, for many replicas.

The same answers as a serving file (:mod:`c360.api.serving`), kept in Redis
(``C360_REDIS_URL``) so stateless API replicas on any number of machines serve one copy.
Every key of a snapshot lives under a versioned prefix ``c360:{product}:{fingerprint}``
(``product``: ``C360_REDIS_PRODUCT``, default the spec's product name):

``…:meta``          the header (as a serving file's: version, fingerprint, counts, edit sequence,
                    sentinel), written after every other key
``…:k``             hash: customer id → stored record's hash (u64) and when it last changed (f64)
``…:r:<consumer>``  hash: customer id → the consumer's pre-serialised projection
``…:i:<consumer>``  sorted set (all scores 0) of the ids the consumer sees: keyset paging is
                    ``ZRANGEBYLEX``
``…:e:<consumer>:<email>``  set: the customer ids a lower-cased email finds
``…:x:<consumer>``  hash: customer id → its email keys (hex, comma-separated), so an erasure
                    can take it out of the email sets
``…:s:<consumer>``  hash: customer id → when this consumer's projection last changed, where
                    earlier than the record

``c360:{product}:current`` names the prefix being served; it is set once the snapshot's keys
are all written. One replica writes a version (it holds ``c360:{product}:lock:{fingerprint}``,
taken with ``SET NX PX``); the others wait until its header is there. The data is projected by
the serving file's writer into a temporary local file, then copied into Redis in pipelined
chunks (:mod:`c360.api.serving_redis_write`; by a child process for a big snapshot). On a
switch the prefixes before the one being replaced are deleted (the replaced one stays for
requests still reading it, until the next switch).

An erasure a worker applies (:func:`c360.api.state.apply_edits`) is written into the current
prefix at once (so no replica serves the erased customer), every other prefix of the product
is deleted, and the worker keeps an overlay as in file mode (:meth:`RedisView.patched`).

When Redis cannot be reached a request answers ``503 serving_store_unavailable`` and readiness
is red: no answer is ever served from anything but Redis.
"""

from __future__ import annotations

import heapq
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

import orjson

from c360.api.serving_layout import _META, _TIME, FORMAT, SENTINEL, ServingFileError, _email_key, overlaid
from c360.api.serving_layout import fingerprint as fingerprint
from c360.api.serving_redis_read import Batcher as Batcher
from c360.api.serving_redis_read import _unavailable
from c360.api.serving_redis_read import batcher as batcher_of
from c360.core.errors import MissingDependency
from c360.spec.validate import Spec
from c360.store import Store

if TYPE_CHECKING:
    from c360.api.state import Snapshot

log = logging.getLogger("c360.serving")

LOCK_MS = 600_000  # a writer that died frees its version's lock after this long
WAIT_SECONDS = 600.0  # how long a replica waits for another one to write a version
T = TypeVar("T")


def batcher(r: Any) -> Batcher:
    """The running event loop's batcher for the Redis that client ``r`` (from :func:`client`) reads."""
    url = _urls.get(id(r))
    if url is None:
        raise ValueError("this Redis client was not made by c360.api.serving_redis.client")
    return batcher_of(url)


class ServingStoreUnavailable(ServingFileError):
    """Redis cannot be reached: nothing is served until it can."""


def redis_url() -> str:
    """``C360_REDIS_URL``, required in redis mode."""
    url = (os.environ.get("C360_REDIS_URL") or "").strip()
    if not url:
        raise ValueError("C360_SERVING=redis needs C360_REDIS_URL (e.g. redis://127.0.0.1:6379/0)")
    return url


def product_key(spec: Spec) -> str:
    return (os.environ.get("C360_REDIS_PRODUCT") or spec.model.product).strip()


_clients: dict[str, Any] = {}
_urls: dict[int, str] = {}  # id of a client -> its URL (the event loop's batcher connects there too)
_clients_lock = threading.Lock()


def client(url: str) -> Any:
    """One Redis client (a connection pool) per URL in this process."""
    try:
        import redis
    except ImportError:  # pragma: no cover - the extra is installed where redis mode is tested
        raise MissingDependency("redis", "redis") from None
    with _clients_lock:
        if url not in _clients:
            _clients[url] = redis.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=1.0)
            _urls[id(_clients[url])] = url
        return _clients[url]


def _call(fn: Callable[[], T]) -> T:
    """Run one Redis call for a request: Redis down is a 503, never a stale answer."""
    from redis.exceptions import RedisError

    try:
        return fn()
    except RedisError as exc:
        raise _unavailable(exc) from None


def problem(r: Any) -> str | None:
    """Why Redis cannot serve (None: it answers)."""
    from redis.exceptions import RedisError

    try:
        r.ping()
    except RedisError as exc:
        return f"the serving store (Redis) is unavailable: {exc}"
    return None


# -- reading ------------------------------------------------------------------------------


class RedisServing:
    """One complete snapshot in Redis (its header verified), read by the views."""

    def __init__(self, r: Any, product: str, *, version: int, fp: str) -> None:
        self.r, self.product, self.fp = r, product, fp
        self.prefix = f"c360:{product}:{fp}"
        self.path = self.prefix  # where it is served from (logged, as a file's path)
        raw = r.get(f"{self.prefix}:meta")
        if raw is None:
            raise ServingFileError(f"redis prefix {self.prefix} has no header (it was never completed)")
        header: dict[str, Any] = orjson.loads(raw)
        if header.get("sentinel") != SENTINEL or header.get("format") != FORMAT:
            raise ServingFileError(f"redis prefix {self.prefix} is incomplete or of another format")
        if header.get("version") != version or header.get("fingerprint") != fp:
            raise ServingFileError(f"redis prefix {self.prefix} holds another snapshot")
        self.header = header
        self.dbs = set(header["consumers"])
        self.closed = False

    @property
    def customers(self) -> int:
        return int(self.header["customers"])

    def key(self, kind: str, consumer: str) -> str:
        return f"{self.prefix}:{kind}:{consumer}"

    def meta(self, cid: str) -> tuple[int, float] | None:
        raw = _call(lambda: self.r.hget(f"{self.prefix}:k", cid))
        return None if raw is None else _META.unpack(raw)  # type: ignore[return-value,unused-ignore]

    def close(self) -> None:
        self.closed = True

    def erase(self, edited: dict[str, tuple[int, float] | None]) -> None:
        """Write erasures' record hashes into the served prefix; every other prefix of the product goes."""
        pipe = self.r.pipeline(transaction=False)
        for cid, meta in edited.items():
            if meta is None:
                pipe.hdel(f"{self.prefix}:k", cid)
            else:
                pipe.hset(f"{self.prefix}:k", cid, _META.pack(*meta))
        _call(pipe.execute)
        _call(lambda: _drop_others(self.r, self.product, keep={self.prefix}))


@dataclass(frozen=True)
class RedisView:
    """One consumer's side of a snapshot in Redis, with the in-place edits this process applied since."""

    file: RedisServing
    consumer: str
    overlay: dict[str, bytes | None] = field(default_factory=dict)  # None: no longer served
    osince: dict[str, float | None] = field(default_factory=dict)
    oemails: dict[str, tuple[str, ...]] = field(default_factory=dict)
    batch: int = 256

    def get(self, cid: str) -> bytes | None:
        if self.overlay and cid in self.overlay:
            return self.overlay[cid]
        body: bytes | None = _call(lambda: self.file.r.hget(self.file.key("r", self.consumer), cid))
        return body

    async def fetch(self, cid: str) -> bytes | None:
        """:meth:`get` for a request on the event loop: its read goes with the others of that turn."""
        if self.overlay and cid in self.overlay:
            return self.overlay[cid]
        return await batcher(self.file.r).hget(self.file.key("r", self.consumer), cid)

    def get_many(self, cids: Sequence[str]) -> list[bytes | None]:
        """The answers of ``cids`` in order (None: not served): one HMGET for those not edited here."""
        overlay = self.overlay
        asked = [c for c in dict.fromkeys(cids) if not (overlay and c in overlay)]
        got: list[bytes | None] = (
            _call(lambda: self.file.r.hmget(self.file.key("r", self.consumer), asked)) if asked else []
        )
        found = dict(zip(asked, got, strict=True))
        return [overlay[c] if overlay and c in overlay else found[c] for c in cids]

    def _keys(self, cursor: str | None) -> Iterator[str]:
        key = self.file.key("i", self.consumer)
        low = f"({cursor}" if cursor else "-"

        def page(lo: str) -> list[bytes]:
            got: list[bytes] = self.file.r.zrangebylex(key, lo, "+", start=0, num=self.batch)
            return got

        while True:
            got = _call(partial(page, low))
            for raw in got:
                yield raw.decode()
            if len(got) < self.batch:
                return
            low = "(" + got[-1].decode()

    def after(self, cursor: str | None) -> Iterator[str]:
        """Ids this consumer sees, in order, after ``cursor`` (from the first without one)."""
        if not self.overlay:
            yield from self._keys(cursor)
            return
        added = sorted(c for c, b in self.overlay.items() if b is not None and (not cursor or c > cursor))
        last = None
        for cid in heapq.merge(self._keys(cursor), added):
            if cid == last or self.overlay.get(cid, b"") is None:
                continue
            last = cid
            yield cid

    def emails_of(self, email: str) -> tuple[str, ...]:
        out: list[str] = []
        if email:
            key = self.file.key("e", self.consumer).encode() + b":" + _email_key(email)
            out = sorted(m.decode() for m in _call(lambda: self.file.r.smembers(key)))
        if self.overlay:
            out = [c for c in out if c not in self.overlay]
            out.extend(self.oemails.get(email, ()))
        return tuple(out)

    def record_changed(self, snap: Snapshot, cid: str) -> float:
        if cid in snap.edited:
            edit = snap.edited[cid]
            return edit[1] if edit is not None else 0.0
        meta = self.file.meta(cid)
        return meta[1] if meta is not None else 0.0

    def changed_at(self, snap: Snapshot, cid: str) -> float:
        """When what this consumer is served of ``cid`` last changed (0: not known)."""
        if cid in self.osince:
            t = self.osince[cid]
            return t if t is not None else self.record_changed(snap, cid)
        raw = _call(lambda: self.file.r.hget(self.file.key("s", self.consumer), cid))
        if raw is not None:
            return float(_TIME.unpack(raw)[0])
        return self.record_changed(snap, cid)

    def patched(
        self, snap: Snapshot, wanted: Sequence[str], now: dict[str, dict[str, tuple[bytes, list[str]]]]
    ) -> RedisView:
        """This view with ``wanted`` re-projected (``now``), written into Redis and kept as an overlay."""
        overlay, osince, oemails = overlaid(self, snap, wanted, now)
        self._write(wanted, now, osince)
        return RedisView(self.file, self.consumer, overlay, osince, oemails)

    def _write(
        self, wanted: Sequence[str], now: dict[str, dict[str, tuple[bytes, list[str]]]], osince: dict[str, float | None]
    ) -> None:
        """The re-projected customers into the served prefix: no replica serves what was erased."""
        f, c = self.file, self.consumer
        olds = _call(lambda: f.r.hmget(f.key("x", c), list(wanted))) if wanted else []
        pipe = f.r.pipeline(transaction=True)
        ekey = f.key("e", c).encode() + b":"
        for cid, old in zip(wanted, olds, strict=True):
            for hexed in (old or b"").split(b","):
                if hexed:
                    pipe.srem(ekey + bytes.fromhex(hexed.decode()), cid)
            body, found = now.get(cid, {}).get(c, (None, []))
            if body is None:
                pipe.hdel(f.key("r", c), cid)
                pipe.zrem(f.key("i", c), cid)
                pipe.hdel(f.key("s", c), cid)
                pipe.hdel(f.key("x", c), cid)
                continue
            pipe.hset(f.key("r", c), cid, body)
            pipe.zadd(f.key("i", c), {cid: 0})
            keys = [_email_key(e) for e in found]
            for k in keys:
                pipe.sadd(ekey + k, cid)
            pipe.hset(f.key("x", c), cid, b",".join(k.hex().encode() for k in keys))
            t = osince.get(cid)
            if t is None:
                pipe.hdel(f.key("s", c), cid)
            else:
                pipe.hset(f.key("s", c), cid, _TIME.pack(t))
        _call(pipe.execute)


# -- writing ------------------------------------------------------------------------------


def _drop(r: Any, prefix: str) -> None:
    batch: list[bytes] = []
    for key in r.scan_iter(match=f"{prefix}:*", count=1000):
        batch.append(key)
        if len(batch) >= 1000:
            r.unlink(*batch)
            batch = []
    if batch:
        r.unlink(*batch)


def _drop_others(r: Any, product: str, keep: set[str]) -> None:
    """Delete every prefix of ``product`` but those in ``keep``."""
    registry = f"c360:{product}:prefixes"
    for raw in r.smembers(registry):
        prefix = raw.decode()
        if prefix not in keep:
            _drop(r, prefix)
            r.srem(registry, prefix)


def prepare(
    spec: Spec,
    store: Store,
    mask_key: bytes,
    url: str,
    version: int,
    run_id: str,
    previous: RedisServing | None = None,
    *,
    customers: int = 0,
) -> tuple[RedisServing, bool]:
    """The snapshot ``version`` in Redis: opened if there, else written by one replica (the others
    wait). A snapshot of more than ``INLINE_MAX`` customers is written by a child process, so the
    worker's requests never wait on the writer for its GIL. Redis down raises
    :class:`ServingStoreUnavailable`."""
    from redis.exceptions import RedisError

    from c360.api.serving import INLINE_MAX
    from c360.api.serving_redis_write import in_child, write

    r = client(url)
    product = product_key(spec)
    fp = fingerprint(version, run_id, spec, mask_key, 0)
    writer = in_child(url) if customers > INLINE_MAX else write
    try:
        return _prepare(r, spec, store, mask_key, version, fp, product, previous, writer)
    except RedisError as exc:
        raise ServingStoreUnavailable(f"the serving store (Redis) is unavailable: {exc}") from None


def _prepare(
    r: Any,
    spec: Spec,
    store: Store,
    mask_key: bytes,
    version: int,
    fp: str,
    product: str,
    previous: RedisServing | None,
    writer: Callable[..., None],
) -> tuple[RedisServing, bool]:
    prefix = f"c360:{product}:{fp}"
    if r.exists(f"{prefix}:meta"):
        return RedisServing(r, product, version=version, fp=fp), False
    lock, token = f"c360:{product}:lock:{fp}", secrets.token_hex(8)
    if r.set(lock, token, nx=True, px=LOCK_MS):
        try:
            if not r.exists(f"{prefix}:meta"):
                writer(r, spec, store, mask_key, version, fp, product, previous)
                return RedisServing(r, product, version=version, fp=fp), True
        finally:
            if r.get(lock) == token.encode():
                r.delete(lock)
        return RedisServing(r, product, version=version, fp=fp), False
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if r.exists(f"{prefix}:meta"):
            return RedisServing(r, product, version=version, fp=fp), False
        if not r.exists(lock):
            return _prepare(r, spec, store, mask_key, version, fp, product, previous, writer)  # its writer died
        time.sleep(0.05)
    raise ServingFileError(f"snapshot {version} was not written into Redis within {WAIT_SECONDS:.0f}s")


def load_snapshot(
    spec: Spec,
    store: Store,
    mask_key: bytes,
    url: str,
    previous: Snapshot | None = None,
    policies: dict[str, Any] | None = None,
) -> Snapshot:
    """The published snapshot served from Redis (written first if no replica has yet)."""
    from c360.api.shapes import shapes
    from c360.api.state import EMPTY, Snapshot, _headers
    from c360.core.clock import iso
    from c360.governance.access import policy_for
    from c360.store import identity as idmap

    info = store.current_snapshot()
    if info is None:
        return EMPTY
    if policies is None:
        policies = {c: policy_for(spec.model, c) for c in spec.model.consumers}
    served = shapes(spec, store, info.version, info.spec_version, policies)
    started = time.perf_counter()
    prev = previous.file if previous is not None and isinstance(previous.file, RedisServing) else None
    rs, written = prepare(spec, store, mask_key, url, info.version, info.run_id, prev, customers=info.customers)
    log.info(
        "serving snapshot %s from redis %s (%s in %.1fs)",
        info.version,
        rs.prefix,
        "written" if written else "opened",
        time.perf_counter() - started,
    )
    as_of = iso(info.as_of)
    return Snapshot(
        info.version,
        as_of,
        iso(info.built_at),
        float(rs.header["built_ts"]),
        {c: RedisView(rs, c) for c in rs.header["consumers"]},
        idmap.aliases(store),
        {},
        {},
        float(rs.header["known_since"]),
        *_headers(info.version, as_of),
        served.specs,
        served.policies,
        served.unavailable,
        int(rs.header["edit_seq"]),
        served.majors,
        rs,
    )


class _Down(RedisView):
    """A consumer's view while no snapshot could be read from Redis: every read is a 503."""

    def _raise(self) -> Exception:
        from c360.api.service import ApiError

        return ApiError(503, "serving_store_unavailable", self.consumer, [(b"retry-after", b"5")])

    def get(self, cid: str) -> bytes | None:
        raise self._raise()

    async def fetch(self, cid: str) -> bytes | None:
        raise self._raise()

    def get_many(self, cids: Sequence[str]) -> list[bytes | None]:
        raise self._raise()

    def after(self, cursor: str | None) -> Iterator[str]:
        raise self._raise()

    def emails_of(self, email: str) -> tuple[str, ...]:
        raise self._raise()


def unreachable(snap: Snapshot, consumers: Sequence[str], reason: str) -> Snapshot:
    """``snap`` (none loaded yet) answering 503 to every read until Redis can be read."""
    from dataclasses import replace

    down = _Down.__new__(_Down)
    object.__setattr__(down, "consumer", reason)
    return replace(snap, views=dict.fromkeys(consumers, down))
