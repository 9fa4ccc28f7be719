"""The serving file: one snapshot's per-consumer answers in a read-only, memory-mapped LMDB file.

Every worker process of a server maps the same file read-only (``lock=False``), so the
operating system's page cache holds the snapshot once for all of them and a worker's own
memory does not grow with the customer base. A request is one LMDB ``get`` in a read
transaction kept per thread.

Layout of ``v<version>-<fingerprint>.lmdb`` (named databases):

``k``            customer id → stored record's hash (u64) and when it last changed (f64)
``r:<consumer>`` customer id → the consumer's pre-serialised projection (masks applied);
                 a customer a row filter hides is absent. LMDB keeps keys sorted: keyset paging
                 is a cursor ``set_range``.
``e:<consumer>`` lower-cased email → customer ids (duplicates sorted), from fields granted
                 in the clear
``s:<consumer>`` customer id → when this consumer's projection last changed, where earlier than
                 the record (a field it is not granted changed since)
main database    ``header``: format, snapshot version, spec version, run id, fingerprint
                 (snapshot, spec text, mask key), counts, the in-place edit sequence the file
                 includes, and a sentinel. The header is written last, in the last transaction.

A file is refused (:class:`ServingFileError`) when it is missing, shorter than its own meta
pages say (truncated: reading past the end would kill the process with SIGBUS), lacks the
header or its sentinel, names another snapshot or fingerprint, or holds other counts than its
header. The file is written once and never changed: erasures applied to a published snapshot
are kept by each worker in a small in-memory overlay that wins over the file
(:meth:`FileView.patched`).

The file is written (:mod:`c360.api.serving_write`) by the first worker that needs it, under an
exclusive ``flock``, into a temporary name renamed into place; the others wait on the lock and
open it. Big snapshots are written by a child process, so no worker keeps the writer's memory.
The constants and encodings of the layout are :mod:`c360.api.serving_layout`'s.
"""

from __future__ import annotations

import fcntl
import hashlib
import heapq
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import lmdb
import orjson

from c360.api.serving_layout import _META as _META
from c360.api.serving_layout import _TIME as _TIME
from c360.api.serving_layout import CHUNK as CHUNK
from c360.api.serving_layout import FORMAT as FORMAT
from c360.api.serving_layout import MAP_SIZE as MAP_SIZE
from c360.api.serving_layout import SENTINEL as SENTINEL
from c360.api.serving_layout import ServingFileError as ServingFileError
from c360.api.serving_layout import _email_key as _email_key
from c360.api.serving_layout import _max_dbs as _max_dbs
from c360.api.serving_layout import file_name as file_name
from c360.api.serving_layout import fingerprint as fingerprint
from c360.api.serving_layout import overlaid
from c360.api.serving_layout import record_hash as record_hash
from c360.api.serving_write import _history as _history
from c360.api.serving_write import write as write
from c360.core.priority import lower_priority
from c360.spec.validate import Spec
from c360.store import Store

if TYPE_CHECKING:
    from c360.api.state import Snapshot

log = logging.getLogger("c360.serving")

INLINE_MAX = 2_000  # snapshots up to this size are written in the worker itself (bigger: a child, off its GIL)
GRACE_SECONDS = 30.0  # a replaced file stays open this long for requests still reading it


def mode() -> str:
    """``C360_SERVING``: ``file`` (the default), ``memory`` or ``redis`` (needs ``C360_REDIS_URL``)."""
    value = (os.environ.get("C360_SERVING") or "file").strip().lower()
    if value not in {"file", "memory", "redis"}:
        raise ValueError(f"C360_SERVING={value!r}: expected 'file', 'memory' or 'redis'")
    if value == "redis" and not (os.environ.get("C360_REDIS_URL") or "").strip():
        raise ValueError("C360_SERVING=redis needs C360_REDIS_URL (e.g. redis://127.0.0.1:6379/0)")
    return value


def serving_dir(store: Store) -> Path | None:
    """Where a store's serving files live; None when none can be written (an in-memory SQLite).

    ``C360_SERVING_DIR`` if set; for SQLite, ``<db file>.serving/`` beside the database; for
    other stores, ``$XDG_CACHE_HOME/c360/serving/<store>`` (default ``~/.cache``).
    """
    url = store.engine.url
    env = os.environ.get("C360_SERVING_DIR")
    tag = hashlib.blake2b(url.render_as_string(hide_password=True).encode(), digest_size=6).hexdigest()
    if env:
        return Path(env) / tag
    if url.get_backend_name() == "sqlite":
        db = url.database
        if not db or db == ":memory:" or db.startswith("file::memory:"):
            return None
        return Path(db).resolve().parent / f"{Path(db).name}.serving"
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "c360" / "serving" / tag


# -- reading ------------------------------------------------------------------------------


class ServingFile:
    """One opened, verified serving file, mapped read-only."""

    def __init__(self, path: Path, *, version: int, fp: str, max_dbs: int) -> None:
        self.path = path
        if not path.exists():
            raise ServingFileError(f"serving file {path} is missing")
        size = path.stat().st_size
        try:
            env = lmdb.open(
                str(path), subdir=False, readonly=True, lock=False, max_dbs=max_dbs, readahead=False, create=False
            )
        except lmdb.Error as exc:
            raise ServingFileError(f"serving file {path} cannot be read as LMDB: {exc}") from None
        self.env = env
        try:
            need = (env.info()["last_pgno"] + 1) * env.stat()["psize"]
            if size < need:
                raise ServingFileError(f"serving file {path} is truncated: {size} bytes of {need}")
            with env.begin() as txn:
                raw = txn.get(b"header")
            if raw is None:
                raise ServingFileError(f"serving file {path} has no header (it was never completed)")
            header: dict[str, Any] = orjson.loads(raw)
            if header.get("sentinel") != SENTINEL or header.get("format") != FORMAT:
                raise ServingFileError(f"serving file {path} is incomplete or of another format")
            if header.get("version") != version or header.get("fingerprint") != fp:
                raise ServingFileError(
                    f"serving file {path} holds snapshot {header.get('version')} "
                    f"({header.get('fingerprint')}), not snapshot {version} ({fp})"
                )
            self.header = header
            # (Handles opened inside a read transaction do not outlive it: opened on their own.)
            self.meta_db = env.open_db(b"k", create=False)
            self.dbs: dict[str, tuple[Any, Any, Any]] = {}
            for consumer in header["consumers"]:
                self.dbs[consumer] = (
                    env.open_db(b"r:" + consumer.encode(), create=False),
                    env.open_db(b"e:" + consumer.encode(), create=False, dupsort=True),
                    env.open_db(b"s:" + consumer.encode(), create=False),
                )
            with env.begin() as txn:
                if txn.stat(self.meta_db)["entries"] != header["customers"]:
                    raise ServingFileError(f"serving file {path}: customer count differs from its header")
                for consumer, n in header["consumers"].items():
                    if txn.stat(self.dbs[consumer][0])["entries"] != n:
                        raise ServingFileError(
                            f"serving file {path}: consumer '{consumer}' count differs from its header"
                        )
        except ServingFileError:
            env.close()
            raise
        except (lmdb.Error, KeyError, ValueError, TypeError) as exc:
            env.close()
            raise ServingFileError(f"serving file {path} is damaged: {exc}") from None
        self._local = threading.local()
        self.closed = False
        self.refs = 1

    @property
    def customers(self) -> int:
        return int(self.header["customers"])

    def txn(self) -> Any:
        """This thread's read transaction (the file never changes, so it lives as long as the file)."""
        txn = getattr(self._local, "txn", None)
        if txn is None:
            txn = self._local.txn = self.env.begin(buffers=False)
        return txn

    def meta(self, cid: str) -> tuple[int, float] | None:
        raw = self.txn().get(cid.encode(), db=self.meta_db)
        return None if raw is None else _META.unpack(raw)  # type: ignore[return-value]

    def close(self) -> None:
        """Release this holder's use; the file is unmapped when its last holder in the process leaves."""
        with _open_lock:
            if self.closed:
                return
            self.refs -= 1
            if self.refs > 0:
                return
            self.closed = True
            _open.pop(str(self.path), None)
        self.env.close()


# LMDB opens a file once per process: the apps of one process (tests, a CLI) share it.
_open: dict[str, ServingFile] = {}
_open_lock = threading.Lock()


def open_file(path: Path, *, version: int, fp: str, max_dbs: int) -> ServingFile:
    """The verified serving file at ``path``, shared by every holder in this process."""
    key = str(path.resolve())
    with _open_lock:
        held = _open.get(key)
        if held is not None and not held.closed:
            if held.header.get("version") != version or held.header.get("fingerprint") != fp:
                raise ServingFileError(f"serving file {path} holds another snapshot")
            held.refs += 1
            return held
        opened = ServingFile(Path(key), version=version, fp=fp, max_dbs=max_dbs)
        _open[key] = opened
        return opened


@dataclass(frozen=True)
class FileView:
    """One consumer's side of a serving file, with the in-place edits this process applied since."""

    file: ServingFile
    consumer: str
    overlay: dict[str, bytes | None] = field(default_factory=dict)  # None: no longer served
    osince: dict[str, float | None] = field(default_factory=dict)  # edited: own change time, if any
    oemails: dict[str, tuple[str, ...]] = field(default_factory=dict)  # edited customers' emails

    def get(self, cid: str) -> bytes | None:
        if self.overlay and cid in self.overlay:
            return self.overlay[cid]
        body: bytes | None = self.file.txn().get(cid.encode(), db=self.file.dbs[self.consumer][0])
        return body

    def get_many(self, cids: Sequence[str]) -> list[bytes | None]:
        """The answers of ``cids`` in order (None: not served), read in one transaction."""
        txn, db, overlay = self.file.txn(), self.file.dbs[self.consumer][0], self.overlay
        return [overlay[c] if overlay and c in overlay else txn.get(c.encode(), db=db) for c in cids]

    def after(self, cursor: str | None) -> Iterator[str]:
        """Ids this consumer sees, in order, after ``cursor`` (from the first without one)."""
        cur = self.file.txn().cursor(db=self.file.dbs[self.consumer][0])
        start = cursor.encode() if cursor else b""
        found = cur.set_range(start) if start else cur.first()

        def keys() -> Iterator[str]:
            if not found:
                return
            for key in cur.iternext(keys=True, values=False):
                cid = bytes(key).decode()
                if cid != cursor:
                    yield cid

        if not self.overlay:
            yield from keys()
            return
        added = sorted(c for c, b in self.overlay.items() if b is not None and (not cursor or c > cursor))
        last = None
        for cid in heapq.merge(keys(), added):
            if cid == last or self.overlay.get(cid, b"") is None:
                continue
            last = cid
            yield cid

    def emails_of(self, email: str) -> tuple[str, ...]:
        cur = self.file.txn().cursor(db=self.file.dbs[self.consumer][1])
        out: list[str] = []
        # No email is indexed empty, and LMDB refuses an empty key (as memory mode, no customer).
        if email and cur.set_key(_email_key(email)):
            out = [bytes(v).decode() for v in cur.iternext_dup(keys=False, values=True)]
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
        raw = self.file.txn().get(cid.encode(), db=self.file.dbs[self.consumer][2])
        if raw is not None:
            return float(_TIME.unpack(raw)[0])
        return self.record_changed(snap, cid)

    def patched(
        self, snap: Snapshot, wanted: Sequence[str], now: dict[str, dict[str, tuple[bytes, list[str]]]]
    ) -> FileView:
        """This view with ``wanted`` re-projected (``now``): they are served from the overlay."""
        overlay, osince, oemails = overlaid(self, snap, wanted, now)
        return FileView(self.file, self.consumer, overlay, osince, oemails)


# -- writing ------------------------------------------------------------------------------


@dataclass
class Continuity:
    """What a process served before (a file and its overlay of erasures): change times carry over.

    ``edited``: the snapshot's edited records (hash, change time; None: gone); ``views``: per
    consumer, its overlay bodies and own change times (see :class:`FileView`).
    """

    file: ServingFile
    edited: dict[str, tuple[int, float] | None] = field(default_factory=dict)
    views: dict[str, tuple[dict[str, bytes | None], dict[str, float | None]]] = field(default_factory=dict)

    @classmethod
    def of(cls, snap: Snapshot) -> Continuity | None:
        if not isinstance(snap.file, ServingFile) or snap.file.closed:
            return None
        views = {c: (v.overlay, v.osince) for c, v in snap.views.items() if isinstance(v, FileView) and v.overlay}
        return cls(snap.file, dict(snap.edited), views)

    def meta(self, cid: str) -> tuple[int, float] | None:
        return self.edited[cid] if cid in self.edited else self.file.meta(cid)

    def own_since(self, consumer: str, cid: str) -> float | None:
        ov = self.views.get(consumer)
        if ov is not None and cid in ov[1]:
            return ov[1][cid]
        if consumer not in self.file.dbs:
            return None
        raw = self.file.txn().get(cid.encode(), db=self.file.dbs[consumer][2])
        return float(_TIME.unpack(raw)[0]) if raw is not None else None

    def body(self, consumer: str, cid: str) -> bytes | None:
        ov = self.views.get(consumer)
        if ov is not None and cid in ov[0]:
            return ov[0][cid]
        if consumer not in self.file.dbs:
            return None
        body: bytes | None = self.file.txn().get(cid.encode(), db=self.file.dbs[consumer][0])
        return body

    def changed_at(self, consumer: str, cid: str) -> float | None:
        t = self.own_since(consumer, cid)
        if t is not None:
            return t
        meta = self.meta(cid)
        return meta[1] if meta is not None else None

    def as_json(self) -> dict[str, Any]:
        return {
            "path": str(self.file.path),
            "version": self.file.header["version"],
            "fingerprint": self.file.header["fingerprint"],
            "edited": {c: list(e) if e is not None else None for c, e in self.edited.items()},
            "views": {
                c: [{k: b.hex() if b is not None else None for k, b in bodies.items()}, since]
                for c, (bodies, since) in self.views.items()
            },
        }

    @classmethod
    def from_json(cls, job: dict[str, Any], max_dbs: int) -> Continuity:
        file = ServingFile(Path(job["path"]), version=job["version"], fp=job["fingerprint"], max_dbs=max_dbs)
        edited = {c: (int(e[0]), float(e[1])) if e is not None else None for c, e in job["edited"].items()}
        views = {
            c: ({k: bytes.fromhex(b) if b is not None else None for k, b in bodies.items()}, since)
            for c, (bodies, since) in job["views"].items()
        }
        return cls(file, edited, views)


@dataclass
class Prepared:
    file: ServingFile
    seconds: float
    written: bool


def edit_mark(store: Store, version: int) -> int:
    """The sequence number of the last in-place edit (erasure) of ``version`` (0: none)."""
    return max((seq for seq, v, _, _ in store.edits_since(0) if v == version), default=0)


def prepare(
    spec: Spec,
    store: Store,
    mask_key: bytes,
    directory: Path,
    version: int,
    run_id: str,
    customers: int,
    previous: Continuity | None = None,
    *,
    mark: int = 0,
) -> Prepared:
    """The verified serving file of ``version`` as of edit ``mark``: opened if there, else written
    first (one writer)."""
    started = time.perf_counter()
    fp = fingerprint(version, run_id, spec, mask_key, mark)
    path = directory / file_name(version, fp)
    written = False
    if not path.exists():
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(directory / f"{path.name}.lock", "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                if not path.exists():
                    prev = previous if previous is not None and not previous.file.closed else None
                    if customers <= INLINE_MAX:
                        write(path, spec, store, mask_key, fp, version, prev)
                    else:
                        _write_in_child(path, spec, store, mask_key, fp, version, prev)
                    written = True
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
        (directory / f"{path.name}.lock").unlink(missing_ok=True)
    opened = open_file(path, version=version, fp=fp, max_dbs=_max_dbs(spec))
    if written:
        remove_old(directory, version, keep=path if mark else None)
    return Prepared(opened, time.perf_counter() - started, written)


def _write_in_child(
    path: Path, spec: Spec, store: Store, mask_key: bytes, fp: str, version: int, previous: Continuity | None
) -> None:
    """Write in a child process: the writer's transient memory is never a worker's."""
    job = {
        "path": str(path),
        "spec_path": str(spec.path),
        "spec_text": spec.text,
        "store_url": store.engine.url.render_as_string(hide_password=False),
        "mask_key": mask_key.hex(),
        "fingerprint": fp,
        "version": version,
        "previous": previous.as_json() if previous is not None else None,
    }
    done = subprocess.run(
        [sys.executable, "-m", "c360.api.serving"], input=orjson.dumps(job), capture_output=True, check=False
    )
    if done.returncode != 0:
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["(no output)"]
        raise ServingFileError(f"writing serving file {path} failed: {tail[0]}")


def remove_old(directory: Path, version: int, keep: Path | None = None) -> None:
    """Remove files of versions before the previous one, and abandoned temporary files.

    With ``keep`` (a file rewritten after an erasure) every other file goes: they may hold the
    erased subject. A worker still mapping a removed file keeps reading it (POSIX unlink) until
    it swaps; the space is freed when the last worker closes it.
    """
    now = time.time()
    for p in directory.iterdir():
        name = p.name
        try:
            if ".tmp-" in name:
                if now - p.stat().st_mtime > 3600:
                    p.unlink(missing_ok=True)
                continue
            if name.startswith("v") and name.endswith(".lmdb"):
                v = int(name[1:].split("-", 1)[0])
                if v < version - 1 or (keep is not None and v <= version and name != keep.name):
                    p.unlink(missing_ok=True)
        except (OSError, ValueError):
            continue


def _main() -> None:
    from c360.spec.validate import load_spec_text

    lower_priority()
    job = orjson.loads(sys.stdin.buffer.read())
    spec = load_spec_text(job["spec_text"], job["spec_path"])
    store = Store.open(job["store_url"], migrate=False)
    previous = None
    if job["previous"]:
        try:
            previous = Continuity.from_json(job["previous"], _max_dbs(spec))
        except ServingFileError:
            previous = None
    try:
        write(
            Path(job["path"]),
            spec,
            store,
            bytes.fromhex(job["mask_key"]),
            job["fingerprint"],
            int(job["version"]),
            previous,
        )
    finally:
        store.close()


if __name__ == "__main__":
    _main()
