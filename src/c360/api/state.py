"""What a server process serves: the published snapshot, pre-projected per consumer.

Held in this process's memory (``C360_SERVING=memory``), or read from the snapshot's serving
file, one memory-mapped LMDB file all workers share (``file``, the default: see
:mod:`c360.api.serving`); both are built by the same projection code (:mod:`c360.api.projection`),
for the shape each consumer is served (:mod:`c360.api.shapes`).

Masks and row filters are applied once per snapshot, into each consumer's
pre-serialised bytes: a request is a dict hit, never a policy evaluation. The served
snapshot is swapped as a whole when a new version is published, so a request sees
one version from start to finish.

An erasure rewrites the published version in place and says which customers it touched
(``snapshot_edits``). Every worker polls for such edits every ``ERASURE_POLL_SECONDS`` and
re-projects just those customers into a new snapshot object, swapped in whole like a new
version; the worker that applies an erasure through the API does so before it answers. In
file mode the re-projected customers are an overlay over the file, and the file is then
rewritten with the erasure in it (so the erased data leaves the disk too).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from c360.api import serving, serving_redis
from c360.api.projection import ConsumerView as ConsumerView
from c360.api.projection import build_views as build_views
from c360.api.projection import email_fields as email_fields
from c360.api.projection import patched as _patched
from c360.api.projection import project as project
from c360.api.serving import FileView, ServingFile, ServingFileError
from c360.api.serving_redis import RedisServing, RedisView
from c360.api.shapes import Shapes as Shapes
from c360.api.shapes import retained_versions as retained_versions
from c360.api.shapes import shapes as shapes
from c360.core.clock import iso
from c360.governance.access import ConsumerPolicy, policy_for
from c360.spec.validate import Spec
from c360.store import Store
from c360.store import identity as idmap

log = logging.getLogger("c360.serving")
JSON = b"application/json"

# How often each serving worker checks the store for erasures applied to its snapshot in place.
ERASURE_POLL_SECONDS = 0.5
FULL_REFRESH_SECONDS = 30.0  # the poller reloads everything at least this often


# A consumer's view: held in this process, or read from the shared serving file.
View = ConsumerView | FileView | RedisView


@dataclass(frozen=True)
class Snapshot:
    version: int
    as_of: str
    built_at: str
    built_ts: float
    views: dict[str, View]
    aliases: dict[str, str]
    hashes: dict[str, int]  # customer → hash of its stored record (changes between versions)
    changed: dict[str, float]  # customer → when its record last changed (epoch seconds)
    changes_known_since: float  # changes before this are not known: such a feed returns everyone
    headers: dict[str, str] = field(default_factory=dict)
    raw_headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    # Consumers pinned to an earlier major: the spec and policy of the shape they are served,
    # or why that shape is not in this snapshot.
    specs: dict[str, Spec] = field(default_factory=dict)
    policies: dict[str, ConsumerPolicy] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)
    edit_seq: int = 0  # the last in-place edit (``snapshot_edits.seq``) these views include
    # Earlier majors served beside the snapshot's own shape: their spec and consumers' policies.
    majors: dict[int, tuple[Spec, dict[str, ConsumerPolicy]]] = field(default_factory=dict)
    # Served from a serving file: the file, and customers erasures changed since it was written
    # (their record's hash and change time; None: gone). ``hashes`` and ``changed`` are empty then.
    file: ServingFile | RedisServing | None = None
    edited: dict[str, tuple[int, float] | None] = field(default_factory=dict)

    def holds(self, cid: str) -> bool:
        """Whether the snapshot (as edited since) holds a record of ``cid``."""
        if self.file is not None:
            return self.edited[cid] is not None if cid in self.edited else self.file.meta(cid) is not None
        return cid in self.hashes

    @property
    def customers(self) -> int:
        if self.file is not None:
            return self.file.customers - sum(1 for e in self.edited.values() if e is None)
        return len(self.hashes)


def _headers(version: int, as_of: str) -> tuple[dict[str, str], list[tuple[bytes, bytes]]]:
    h = {"X-C360-Snapshot": str(version), "X-C360-As-Of": as_of, "X-C360-Mode": "materialised"}
    return h, [(k.lower().encode(), v.encode()) for k, v in h.items()]


EMPTY = Snapshot(0, "", "", 0.0, {}, {}, {}, {}, 0.0, *_headers(0, ""))


def _history(
    store: Store,
    current: dict[str, int],
    current_ts: float,
    version: int,
    seen: Sequence[tuple[dict[str, ConsumerPolicy], frozenset[str], dict[str, ConsumerView]]] = (),
    mask_key: bytes = b"",
) -> tuple[dict[str, float], float]:
    """When each customer's record last changed, from the versions the store still keeps.

    A record equal in every kept version changed at or before the oldest of them; a
    change feed asked about earlier times therefore includes it (over-reporting is safe,
    missing a change is not). ``seen`` (policies, email fields, their views): where a record
    changed but a consumer's projection of it did not, that view's ``since`` says so.
    """
    changed = dict.fromkeys(current, current_ts)
    known_since = current_ts
    stable = set(current)
    # Per view and consumer: customers whose record changed but whose projection has not (yet).
    unchanged: list[dict[str, set[str]]] = [{c: set() for c in p} for p, _, _ in seen]
    for v, built_at in reversed(retained_versions(store, version)):
        older = dict(store.snapshot_rows(v))
        if not older:
            break  # pruned: nothing older is known
        ts = built_at.timestamp()
        moved = {c for c in stable if hash(older.get(c)) != current[c]}
        stable -= moved
        for c in stable:
            changed[c] = ts
        for (policies, emails, views), still in zip(seen, unchanged, strict=True):
            ask = {consumer: moved | ids for consumer, ids in still.items()}
            for cid in set().union(*ask.values()):
                data = older.get(cid)
                then = project(policies, emails, data, mask_key) if data is not None else {}
                for consumer, wanted in ask.items():
                    body = then.get(consumer)
                    if cid in wanted and body is not None and body[0] == views[consumer].rows.get(cid):
                        views[consumer].since[cid] = ts
                        still[consumer].add(cid)
                    else:
                        still[consumer].discard(cid)
        known_since = ts
        if not stable and not any(ids for still in unchanged for ids in still.values()):
            break
    return changed, known_since


def load_snapshot(
    spec: Spec,
    store: Store,
    mask_key: bytes,
    previous: Snapshot = EMPTY,
    policies: dict[str, ConsumerPolicy] | None = None,
) -> Snapshot:
    info = store.current_snapshot()
    if info is None:
        return EMPTY
    if policies is None:
        policies = {c: policy_for(spec.model, c) for c in spec.model.consumers}
    served = shapes(spec, store, info.version, info.spec_version, policies)
    # Edits committed from here on are applied after loading (applying one twice is harmless).
    seq = store.last_edit()
    hashes: dict[str, int] = {}
    built = build_views(spec.model, served.main, store.snapshot_rows(info.version), mask_key, hashes)
    for major, (old, pinned) in served.majors.items():
        built.update(build_views(old.model, pinned, store.view_rows(info.version, major), mask_key, {}))
    views: dict[str, View] = {**built}
    built_ts = float(int(info.built_at.timestamp()))
    if previous.version:
        # A version loaded before in this process: unchanged records keep their change time, and
        # a consumer whose projection of a changed record is the same keeps its own.
        changed = {c: (previous.changed[c] if previous.hashes.get(c) == h else built_ts) for c, h in hashes.items()}
        for consumer, view in built.items():
            before = previous.views.get(consumer)
            if not isinstance(before, ConsumerView):
                continue
            for cid, body in view.rows.items():
                if previous.hashes.get(cid) == hashes[cid]:
                    if cid in before.since:
                        view.since[cid] = before.since[cid]
                elif before.rows.get(cid) == body:
                    view.since[cid] = before.changed_at(previous, cid)
        known_since = previous.changes_known_since
    else:
        changed, known_since = _history(
            store, hashes, built_ts, info.version, [(served.main, email_fields(spec.model), built)], mask_key
        )
    as_of = iso(info.as_of)
    return Snapshot(
        info.version,
        as_of,
        iso(info.built_at),
        built_ts,
        views,
        idmap.aliases(store),
        hashes,
        changed,
        known_since,
        *_headers(info.version, as_of),
        served.specs,
        served.policies,
        served.unavailable,
        seq,
        served.majors,
    )


def load_file_snapshot(
    spec: Spec,
    store: Store,
    mask_key: bytes,
    directory: Path,
    previous: Snapshot = EMPTY,
    policies: dict[str, ConsumerPolicy] | None = None,
) -> Snapshot:
    """The published snapshot served from its serving file (written first if no one has yet).

    Raises :class:`ServingFileError` when the file is missing, truncated or another snapshot's.
    """
    info = store.current_snapshot()
    if info is None:
        return EMPTY
    if policies is None:
        policies = {c: policy_for(spec.model, c) for c in spec.model.consumers}
    served = shapes(spec, store, info.version, info.spec_version, policies)
    # Erasures applied to this version in place: a file written before them is not this one.
    mark = serving.edit_mark(store, info.version)
    prepared = serving.prepare(
        spec,
        store,
        mask_key,
        directory,
        info.version,
        info.run_id,
        info.customers,
        serving.Continuity.of(previous),
        mark=mark,
    )
    sf = prepared.file
    log.info(
        "serving snapshot %s from %s (%s in %.1fs)",
        info.version,
        sf.path,
        "written" if prepared.written else "opened",
        prepared.seconds,
    )
    as_of = iso(info.as_of)
    views: dict[str, View] = {c: FileView(sf, c) for c in sf.header["consumers"]}
    return Snapshot(
        info.version,
        as_of,
        iso(info.built_at),
        float(sf.header["built_ts"]),
        views,
        idmap.aliases(store),
        {},
        {},
        float(sf.header["known_since"]),
        *_headers(info.version, as_of),
        served.specs,
        served.policies,
        served.unavailable,
        int(sf.header["edit_seq"]),
        served.majors,
        sf,
    )


def apply_edits(
    spec: Spec,
    store: Store,
    mask_key: bytes,
    snap: Snapshot,
    ids: Iterable[str],
    at: float,
    seq: int,
    policies: dict[str, ConsumerPolicy],
) -> Snapshot:
    """``snap`` with some customers' stored records re-read (an erasure changed them in place).

    A customer whose record is gone leaves every view; the others are re-projected. The
    change feed lists a customer for a consumer only when what that consumer is served changed.
    """
    wanted = sorted(set(ids))
    fresh = store.records_of(snap.version, wanted)
    hashes, changed = dict(snap.hashes), dict(snap.changed)
    edited = dict(snap.edited)
    for cid in wanted:
        data = fresh.get(cid)
        if snap.file is not None:
            if data is None:
                edited[cid] = None
                continue
            h = serving.record_hash(data)
            before = edited[cid] if cid in edited else snap.file.meta(cid)
            if before is None or before[0] != h:
                edited[cid] = (h, at)
        elif data is None:
            hashes.pop(cid, None)
            changed.pop(cid, None)
        elif hashes.get(cid) != (h := hash(data)):
            hashes[cid], changed[cid] = h, at
    # Consumers served the snapshot's own records (a consumer pinned to the snapshot's own major
    # reads them too, by its pinned policy); those of earlier majors are patched below.
    elsewhere = {c for _, pinned in snap.majors.values() for c in pinned}
    main = {c: snap.policies.get(c, p) for c, p in policies.items() if c not in elsewhere and c not in snap.unavailable}
    groups = [(spec.model, main, fresh)] + [
        (old.model, pinned, store.records_of(snap.version, wanted, major))
        for major, (old, pinned) in snap.majors.items()
    ]
    views = dict(snap.views)
    for product, group, records in groups:
        emails = email_fields(product)
        live = {c: p for c, p in group.items() if not p.denied}
        now = {cid: project(live, emails, data, mask_key) for cid, data in records.items()}
        for consumer in live:
            view = snap.views.get(consumer)
            if isinstance(view, FileView | RedisView):
                views[consumer] = view.patched(snap, wanted, now)
            elif view is not None:
                views[consumer] = _patched(view, snap, consumer, wanted, now)
    if isinstance(snap.file, RedisServing):  # no replica serves what was erased from here on
        snap.file.erase({c: edited[c] for c in wanted if c in edited})
    return replace(snap, views=views, hashes=hashes, changed=changed, edited=edited, edit_seq=seq)


@dataclass
class ServerState:
    """The served snapshot and keys of one server process, refreshed in the background."""

    spec: Spec
    store: Store
    mask_key: bytes
    refresh_seconds: float = 1.0
    snapshot: Snapshot = EMPTY
    policies: dict[str, ConsumerPolicy] = field(default_factory=dict)
    keys: dict[str, tuple[str, float | None]] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    # ``file`` (the shared, memory-mapped serving file) or ``memory`` (C360_SERVING).
    serving: str = field(default_factory=serving.mode)
    directory: Path | None = None  # where serving files live (file mode)
    problem: str | None = None  # why the published snapshot is not served (readiness says so)
    retry_seconds: float = 10.0  # a refused serving file is tried again after this long
    _failed: tuple[int, float] = (0, 0.0)
    _rewrite: bool = False  # an erasure edited the served version: its file is to be rewritten
    _retired: list[tuple[float, ServingFile | RedisServing]] = field(default_factory=list)
    redis_url: str | None = None  # the serving store (redis mode: C360_REDIS_URL)

    def __post_init__(self) -> None:
        if not self.policies:
            self.policies = {c: policy_for(self.spec.model, c) for c in self.spec.model.consumers}
        if self.serving == "redis":
            self.redis_url = self.redis_url or serving_redis.redis_url()
        if self.serving == "file":
            self.directory = self.directory or serving.serving_dir(self.store)
            try:
                if self.directory is None:
                    raise OSError("the store is in memory")
                self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
                if not os.access(self.directory, os.W_OK | os.X_OK):
                    raise OSError(f"{self.directory} is not writable")
            except OSError as exc:
                log.warning("no serving file can be written (%s): serving from memory", exc)
                self.serving, self.directory = "memory", None

    def policy(self, consumer: str) -> ConsumerPolicy:
        """The consumer's policy; an unknown consumer (a token naming one) is denied everything.

        A consumer pinned to an earlier major gets that major's policy for it.
        """
        p = self.snapshot.policies.get(consumer) or self.policies.get(consumer)
        return p if p is not None else policy_for(self.spec.model, consumer)

    def spec_for(self, consumer: str) -> Spec:
        """The spec whose shape ``consumer`` is served: its pinned major's, else the current one."""
        return self.snapshot.specs.get(consumer, self.spec)

    def refresh(self) -> None:
        """Load a newly published version, else apply in-place edits; re-read the keys."""
        with self._lock:
            version = self.store.current_version()
            if version is not None and version != self.snapshot.version:
                if self.directory is not None or self.redis_url is not None:
                    self._load_file(version)
                else:
                    self.snapshot = load_snapshot(self.spec, self.store, self.mask_key, self.snapshot, self.policies)
            self._apply_edits()
            if self._rewrite and version is not None and version == self.snapshot.version:
                # The overlay already hides what was erased; the file still holds it on disk. A
                # file of this version with the erasure in it replaces it (the first worker here
                # writes it) and every older file is removed.
                self._load_file(version)
                self._apply_edits()
            self._close_retired()
        self.keys = {h: (c, e.timestamp() if e else None) for h, (c, e) in self.store.active_keys().items()}

    def _load_file(self, version: int) -> None:
        """Swap to the new version's serving file; refuse a bad one and keep the previous."""
        failed, when = self._failed
        if failed == version and time.monotonic() - when < self.retry_seconds:
            return
        old = self.snapshot
        try:
            if self.redis_url is not None:
                new = serving_redis.load_snapshot(
                    self.spec, self.store, self.mask_key, self.redis_url, old, self.policies
                )
            else:
                assert self.directory is not None
                new = load_file_snapshot(self.spec, self.store, self.mask_key, self.directory, old, self.policies)
        except (ServingFileError, OSError, ValueError) as exc:
            self.problem = f"snapshot {version} is not served: {exc}"
            self._failed = (version, time.monotonic())
            if isinstance(exc, serving_redis.ServingStoreUnavailable) and not old.version:
                self.snapshot = serving_redis.unreachable(old, list(self.spec.model.consumers), str(exc))
            log.error("serving file refused, still serving snapshot %s: %s", old.version, exc)
            return
        self.problem, self._failed, self._rewrite = None, (0, 0.0), False
        self.snapshot = new
        if old.file is not None and old.file is not new.file:
            self._retired.append((time.monotonic(), old.file))

    def unready(self) -> str | None:
        """Why readiness is red as far as serving goes (None: it is not); Redis is asked each time."""
        if self.problem is None and isinstance(self.snapshot.file, RedisServing):
            return serving_redis.problem(self.snapshot.file.r)
        return self.problem

    def _close_retired(self) -> None:
        """Close replaced files once no request can still be reading them."""
        now = time.monotonic()
        while self._retired and now - self._retired[0][0] > serving.GRACE_SECONDS:
            self._retired.pop(0)[1].close()

    def apply_edits(self) -> int:
        """Apply erasures committed since the served snapshot was loaded; the customers touched."""
        with self._lock:
            return self._apply_edits()

    def _apply_edits(self) -> int:
        snap = self.snapshot
        if not snap.version:
            return 0
        edits = self.store.edits_since(snap.edit_seq)
        if not edits:
            return 0
        mine = [(c, at) for _, v, c, at in edits if v == snap.version]
        seq = edits[-1][0]
        if not mine:
            self.snapshot = replace(snap, edit_seq=seq)
            return 0
        at = max(a for _, a in mine).timestamp()
        self._rewrite = isinstance(self.snapshot.file, ServingFile)
        self.snapshot = apply_edits(
            self.spec, self.store, self.mask_key, snap, (c for c, _ in mine), at, seq, self.policies
        )
        return len({c for c, _ in mine})

    def start(self) -> None:
        self.refresh()
        if self._thread is None and self.refresh_seconds > 0:
            self._thread = threading.Thread(target=self._loop, name="c360-refresh", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        # Erasures are looked for at least every ERASURE_POLL_SECONDS, whatever the refresh period.
        # Each look is one cheap statement; the full refresh runs only when it shows a change (a
        # new version, an erasure, a key), while something is pending (a refused file, a file to
        # rewrite or to close), and every FULL_REFRESH_SECONDS whatever it shows.
        tick = min(self.refresh_seconds, ERASURE_POLL_SECONDS)
        watch = self.store.change_watch()
        seen: tuple[Any, ...] | None = None
        full_at = time.monotonic()
        try:
            while not self._stop.wait(tick):
                try:
                    mark: tuple[Any, ...] | None = watch.mark()
                except Exception:  # not known: the full refresh finds out what is wrong
                    mark = None
                now = time.monotonic()
                retire = bool(self._retired) and now - self._retired[0][0] > serving.GRACE_SECONDS
                pending = self.problem is not None or self._rewrite or retire
                if mark is not None and mark == seen and not pending and now - full_at < FULL_REFRESH_SECONDS:
                    continue
                try:
                    self.refresh()
                except Exception:  # a store hiccup must not kill serving; the next tick retries
                    continue
                seen, full_at = mark, now
        finally:
            watch.close()
