"""The hash-chained audit log: tamper-evident rows for every change and every read.

Each row carries ``HMAC-SHA256(key, content ‖ previous row's hash)``. Changing a
byte, deleting, inserting or reordering rows breaks the chain at that row, and
:func:`verify` names the first row where it breaks. Rows hold pseudonymous ids
only (customer ids, erasure pseudonyms), never personal data.

The key comes from configuration: ``C360_AUDIT_KEY``, else the file named by
``C360_AUDIT_KEY_FILE``, else ``audit.key`` beside a SQLite store (created on
first use, mode 0600), else ``~/.config/c360/audit.key``. It is never printed.
"""

from __future__ import annotations

import collections
import datetime as dt
import hashlib
import hmac
import logging
import os
import secrets
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Connection, Engine
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError

from c360.core import jsonutil
from c360.core.errors import StoreError
from c360.store import Store, audit_repo
from c360.store.audit_repo import GENESIS as GENESIS
from c360.store.audit_repo import Event as Event
from c360.store.audit_repo import content_text as content_text

log = logging.getLogger("c360.audit")

_SEP = b"\x1f"
_SEP_TEXT = _SEP.decode()


class AuditKey:
    """The audit HMAC key. Its repr and str never show the secret."""

    __slots__ = ("_base", "_secret")

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise StoreError("the audit key must be at least 16 bytes; set C360_AUDIT_KEY to a longer value")
        self._secret = secret
        self._base = hmac.new(secret, digestmod=hashlib.sha256)  # keyed once; copied per MAC

    def __repr__(self) -> str:
        return "AuditKey(**********)"

    __str__ = __repr__

    def mac(self, data: bytes) -> str:
        h = self._base.copy()
        h.update(data)
        return h.hexdigest()

    def derive(self, purpose: str) -> bytes:
        """A sub-key for one purpose (suppression hashes, pseudonyms, webhook signing)."""
        return hmac.new(self._secret, b"c360:" + purpose.encode(), hashlib.sha256).digest()


_keys: dict[tuple[str, str], AuditKey] = {}
_keys_lock = threading.Lock()


def key_path(url: URL) -> Path:
    explicit = os.environ.get("C360_AUDIT_KEY_FILE")
    if explicit:
        return Path(explicit)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database).resolve().parent / "audit.key"
    return Path.home() / ".config" / "c360" / "audit.key"


def audit_key(engine: Engine) -> AuditKey:
    """The configured key for this store (read once per source, then cached)."""
    env = os.environ.get("C360_AUDIT_KEY")
    if env:
        cache = ("env", hashlib.sha256(env.encode()).hexdigest())
    else:
        path = key_path(engine.url)
        cache = ("file", str(path))
    with _keys_lock:
        key = _keys.get(cache)
        if key is None:
            key = AuditKey(env.encode()) if env else _load_or_create(Path(cache[1]))
            _keys[cache] = key
    return key


def _load_or_create(path: Path) -> AuditKey:
    try:
        return AuditKey(bytes.fromhex(path.read_text().strip()))
    except FileNotFoundError:
        pass
    except ValueError:
        raise StoreError(f"the audit key file {path} is not hex; restore it or set C360_AUDIT_KEY") from None
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first: use theirs
        return AuditKey(bytes.fromhex(path.read_text().strip()))
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(32) + "\n")
    return AuditKey(bytes.fromhex(path.read_text().strip()))


# -- appending (the rows are the store's: :mod:`c360.store.audit_repo`) ------------------------


def _iso(ts: dt.datetime) -> str:
    return audit_repo.stamp(ts)


class _Stamps:
    """Epoch seconds → the audit log's time text (as :func:`_iso` formats it), the date part cached."""

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def __call__(self, t: float) -> str:
        second, micro = divmod(round(t * 1_000_000), 1_000_000)
        if second != self._second:
            self._second = second
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._prefix}.{micro:06d}Z"


def content(at: str, kind: str, actor: str, subject: str | None, detail: str) -> bytes:
    """The canonical bytes a row's MAC covers (with the previous hash appended).

    (UTF-8 of a join is the join of the parts' UTF-8: :func:`content_text` is this before encoding.)
    """
    return content_text(at, kind, actor, subject, detail).encode()


def lock(conn: Connection) -> None:
    """Take the chain's write lock inside the caller's transaction (held until it ends)."""
    audit_repo.lock(conn)


def append(conn: Connection, kind: str, actor: str, subject_pseudonym: str | None, detail: dict[str, Any]) -> int:
    """Append one row inside the caller's transaction; it commits or rolls back with it.

    >>> # with store.engine.begin() as conn:
    >>> #     append(conn, "publish", "cli:ana", None, {"version": 3})
    """
    return append_many(conn, [Event(kind, actor, subject_pseudonym, detail)])


def append_many(conn: Connection, events: Sequence[Event]) -> int:
    """Append ``events`` in order; returns the sequence number of the last one."""
    return audit_repo.append(conn, audit_key(conn.engine).mac, events)


# (at, kind, actor, subject, detail as JSON text)
_Item = audit_repo.Item


def _append(conn: Connection, items: Sequence[_Item]) -> int:
    """Chain and write ``items`` after the head, under the chain's lock, in ``conn``'s transaction."""
    return audit_repo.append_items(conn, audit_key(conn.engine).mac, items)


def record(store: Store, kind: str, actor: str, subject_pseudonym: str | None, detail: dict[str, Any]) -> int:
    """Append one row in a transaction of its own."""
    with store.engine.begin() as conn:
        return append(conn, kind, actor, subject_pseudonym, detail)


def actor_of(name: str | None = None) -> str:
    """``cli:<os user>`` for commands run by a person, or the given consumer's name."""
    if name:
        return f"consumer:{name}"
    try:
        user = os.getlogin()
    except OSError:
        import getpass

        user = getpass.getuser()
    return f"cli:{user}"


# -- verifying --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    seq: int
    kind: str  # altered | deleted | inserted | reordered | truncated
    message: str

    def __str__(self) -> str:
        return f"row {self.seq}: {self.kind}: {self.message}"


@dataclass
class Verification:
    rows: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS
    problem: Problem | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.problem is None


def _rows(conn: Connection) -> Iterator[tuple[int, str, str, str, str | None, str, str, str]]:
    return audit_repo.rows(conn)


def verify(store: Store, checkpoints: Iterable[dict[str, Any]] = ()) -> Verification:
    """Recompute the chain; report the first row altered, deleted, inserted or reordered.

    ``checkpoints`` (from an earlier :func:`export`) pin the chain as it was: a row
    deleted from the end, with the head rewritten to match, still shows against them.
    """
    started = time.perf_counter()
    key = audit_key(store.engine)
    out = Verification()
    pins = {int(c["count"]): str(c["head"]) for c in checkpoints}
    try:
        _verify(store, out, key, pins)
    except SQLAlchemyError as exc:
        # A dropped table is tampering too: say so, never a traceback.
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        out.problem = Problem(
            0,
            "unreadable",
            f"the audit tables cannot be read ({reason}): they were dropped or altered, or the store is not migrated",
        )
    out.seconds = time.perf_counter() - started
    return out


def _verify(store: Store, out: Verification, key: AuditKey, pins: dict[int, str]) -> None:
    with store.engine.connect() as conn:
        head = audit_repo.head(conn)
        if head is None:
            out.problem = Problem(
                0,
                "deleted",
                "the chain's head row is gone: rows may have been removed "
                "from the end unseen; verify against an export's checkpoints",
            )
            return
        out.head_seq, out.head_hash = head
        expected_prev, expected_seq = GENESIS, 1
        mac = key.mac
        for seq, at, kind, actor, subject, detail, prev, h in _rows(conn):
            out.rows += 1
            if seq > out.head_seq:
                out.problem = Problem(seq, "inserted", f"it lies beyond the chain's head (row {out.head_seq})")
                break
            if mac(content(at, kind, actor, subject, detail) + prev.encode()) != h:
                out.problem = Problem(seq, "altered", "its content or hash does not match its MAC")
                break
            if prev != expected_prev:
                out.problem = _misplaced(conn, seq, expected_seq, prev)
                break
            if seq != expected_seq:
                out.problem = Problem(seq, "reordered", f"expected row {expected_seq} here")
                break
            pin = pins.get(seq)
            if pin is not None and pin != h:
                out.problem = Problem(seq, "altered", "it differs from the exported checkpoint")
                break
            expected_prev, expected_seq = h, seq + 1
        if out.problem is None:
            last = expected_seq - 1
            if last == out.head_seq and expected_prev != out.head_hash:
                out.problem = Problem(last, "altered", "the last row differs from the chain's head")
            elif last < out.head_seq:
                out.problem = Problem(
                    last + 1, "truncated", f"rows {last + 1}..{out.head_seq} were deleted from the end"
                )
            else:
                beyond = [n for n in pins if n > last]
                if beyond:
                    out.problem = Problem(
                        last + 1, "truncated", f"a checkpoint records {max(beyond)} row(s); the chain has {last}"
                    )


def _misplaced(conn: Connection, seq: int, expected_seq: int, prev: str) -> Problem:
    """Classify a row that does not follow its predecessor: where does its previous hash live?"""
    if seq > expected_seq:
        return Problem(seq, "deleted", f"rows {expected_seq}..{seq - 1} are missing")
    owner = audit_repo.seq_of_hash(conn, prev)
    if owner is not None and owner > seq:
        return Problem(seq, "reordered", f"it was written after row {owner}, which now comes later")
    if owner is not None:
        return Problem(seq, "inserted", f"it continues row {owner}, not row {seq - 1}: a row was put in between")
    return Problem(seq, "inserted", "it does not continue the chain")


# -- exporting --------------------------------------------------------------------------------


def checkpoint(key: AuditKey, count: int, head: str) -> dict[str, Any]:
    """A signed statement of the chain's length and head that an outside party can keep."""
    sig = key.mac(f"checkpoint\x1f{count}\x1f{head}".encode())
    return {"checkpoint": True, "count": count, "head": head, "signature": sig}


def check_signature(key: AuditKey, cp: dict[str, Any]) -> bool:
    return hmac.compare_digest(
        checkpoint(key, int(cp["count"]), str(cp["head"]))["signature"], str(cp.get("signature", ""))
    )


def export(store: Store, out: IO[bytes], *, every: int = 1000) -> int:
    """Write the chain as JSON Lines, a signed checkpoint every ``every`` rows and at the end."""
    key = audit_key(store.engine)
    n, last = 0, GENESIS
    with store.engine.connect() as conn:
        for seq, at, kind, actor, subject, detail, prev, h in _rows(conn):
            out.write(
                jsonutil.dumps(
                    {
                        "seq": seq,
                        "at": at,
                        "kind": kind,
                        "actor": actor,
                        "subject": subject,
                        "detail": jsonutil.loads(detail),
                        "prev_hash": prev,
                        "hash": h,
                    }
                )
            )
            out.write(b"\n")
            n, last = seq, h
            if every and n % every == 0:
                out.write(jsonutil.dumps(checkpoint(key, n, last)) + b"\n")
    if not every or n % every:
        out.write(jsonutil.dumps(checkpoint(key, n, last)) + b"\n")
    return n


def read_checkpoints(lines: Iterable[bytes | str]) -> list[dict[str, Any]]:
    return [d for d in (jsonutil.loads(x) for x in lines if x.strip()) if d.get("checkpoint")]


# -- read auditing ------------------------------------------------------------------------------


@dataclass
class ReadAuditor:
    """Durable, batched audit of reads: ``record`` queues in memory; a thread group-commits.

    ``record`` costs a tuple and a deque append on the serving thread. The writer
    commits everything queued every ``interval`` seconds (or sooner once ``batch``
    reads wait) as one transaction, so a read is durable within ``interval``.
    ``close`` flushes what is left.
    """

    store: Store
    interval: float = 0.2
    batch: int = 5000
    flushed: int = 0
    failures: int = 0
    _queue: collections.deque[tuple[float, str, str, Sequence[str], str]] = field(default_factory=collections.deque)
    _wake: threading.Event = field(default_factory=threading.Event)
    _stop: threading.Event = field(default_factory=threading.Event)
    _flush_lock: threading.Lock = field(default_factory=threading.Lock)
    _thread: threading.Thread | None = None
    _stamp: _Stamps = field(default_factory=_Stamps)

    def __post_init__(self) -> None:
        audit_key(self.store.engine)  # fail at start-up, not on the first flush
        self._thread = threading.Thread(target=self._run, name="c360-read-audit", daemon=True)
        self._thread.start()

    def record(
        self,
        consumer: str,
        customer_id: str,
        fields: Sequence[str],
        mode: str = "materialised",
        at: float | None = None,
    ) -> None:
        """Queue one read: who, which customer (its pseudonymous id), which fields, how, when."""
        q = self._queue
        q.append((at if at is not None else time.time(), consumer, customer_id, fields, mode))
        if len(q) >= self.batch:
            self._wake.set()

    def record_many(
        self, consumer: str, customer_ids: Sequence[str], fields: Sequence[str], mode: str = "materialised"
    ) -> None:
        """Queue the reads of one request (a batch, a page), one per customer."""
        at = time.time()
        for cid in customer_ids:
            self.record(consumer, cid, fields, mode, at=at)

    def pending(self) -> int:
        return len(self._queue)

    def flush(self) -> int:
        """Commit every queued read now; returns how many."""
        with self._flush_lock:
            q = self._queue
            taken = [q.popleft() for _ in range(len(q))]
            if not taken:
                return 0
            # Reads come by the thousand with few distinct consumers and field lists: their
            # actor and detail text are made once each.
            actors: dict[str, str] = {}
            details: dict[tuple[Sequence[str], str], str] = {}
            items: list[_Item] = []
            stamp = self._stamp
            for t, c, cid, f, m in taken:
                actor = actors.get(c) or actors.setdefault(c, f"consumer:{c}")
                key = (f if isinstance(f, tuple) else tuple(f), m)
                detail = details.get(key)
                if detail is None:
                    detail = details[key] = jsonutil.dumps({"fields": list(f), "mode": m}).decode()
                items.append((stamp(t), "read", actor, cid, detail))
            try:
                with self.store.engine.begin() as conn:
                    _append(conn, items)
            except Exception:
                # Keep them queued for the next flush: a store hiccup must not lose audit rows.
                q.extendleft(reversed(taken))
                self.failures += 1
                raise
            self.flushed += len(taken)
            return len(taken)

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.flush()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            try:
                self.flush()
            except Exception as exc:  # counted in ``failures``; retried on the next tick
                log.warning("read audit: commit failed, retrying: %s: %s", type(exc).__name__, exc)
                time.sleep(self.interval)
