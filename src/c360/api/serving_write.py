"""Writing a serving file (see :mod:`c360.api.serving` for its layout and how it is read).

The published snapshot is projected for every consumer (its own records, and each earlier
major's view for the consumers pinned to one) into a temporary file, a chunk of records per
write transaction; the header goes last, and the file is renamed into place once complete.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import lmdb
import orjson

from c360.api.projection import email_fields, project
from c360.api.serving_layout import (
    _META,
    _TIME,
    CHUNK,
    FORMAT,
    MAP_SIZE,
    SENTINEL,
    ServingFileError,
    _email_key,
    _max_dbs,
    record_hash,
)
from c360.api.shapes import Shapes, retained_versions, shapes
from c360.governance.access import ConsumerPolicy, policy_for
from c360.spec.validate import Spec
from c360.store import SnapshotInfo, Store

if TYPE_CHECKING:
    from c360.api.serving import Continuity

# A consumer's databases: its projections, its emails, its own change times.
Dbs = dict[str, tuple[Any, Any, Any]]


def write(
    path: Path, spec: Spec, store: Store, mask_key: bytes, fp: str, version: int, previous: Continuity | None = None
) -> None:
    """Write the serving file of snapshot ``version`` (the published one) to ``path``.

    Written under a temporary name and renamed into place once complete.
    """
    info = store.current_snapshot()
    if info is None or info.version != version:
        raise ServingFileError(f"snapshot {version} is no longer the published one")
    policies = {c: policy_for(spec.model, c) for c in spec.model.consumers}
    served: Shapes = shapes(spec, store, info.version, info.spec_version, policies)
    seq = store.last_edit()  # edits committed from here on are applied by the readers
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    tmp.unlink(missing_ok=True)
    env = _open_env(tmp, spec)
    try:
        _fill(env, spec, store, mask_key, fp, info, served, seq, previous)
        env.sync(True)
    except BaseException:
        env.close()
        tmp.unlink(missing_ok=True)
        raise
    env.close()
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _open_env(tmp: Path, spec: Spec) -> Any:
    return lmdb.open(
        str(tmp),
        subdir=False,
        map_size=MAP_SIZE,
        max_dbs=_max_dbs(spec),
        lock=False,
        sync=False,
        metasync=False,
        meminit=True,  # unused page bytes are zeroed: never stale heap (an erased record) on disk
        readahead=False,
        mode=0o600,
    )


def _fill(
    env: Any,
    spec: Spec,
    store: Store,
    mask_key: bytes,
    fp: str,
    info: SnapshotInfo,
    served: Shapes,
    seq: int,
    previous: Continuity | None,
) -> None:
    """Every record, projection, email and change time of the snapshot, then the header."""
    built_ts = float(int(info.built_at.timestamp()))
    groups: list[tuple[Spec, dict[str, ConsumerPolicy], int | None]] = [(spec, served.main, None)]
    groups += [(old, pinned, major) for major, (old, pinned) in served.majors.items()]
    w = _Writer(env, env.open_db(b"k"), _open_dbs(env, groups), mask_key, built_ts, previous)
    for product, group, major in groups:
        rows = store.snapshot_rows(info.version) if major is None else store.view_rows(info.version, major)
        w.group(product, group, rows, main=major is None)
    if previous is not None:
        known_since = float(previous.file.header["known_since"])
    else:
        main = {c: p for c, p in served.main.items() if not p.denied}
        known_since = _history(
            env,
            store,
            info.version,
            built_ts,
            w.stable,
            main,
            email_fields(spec.model),
            mask_key,
            w.meta_db,
            w.dbs,
            retained_versions,
        )
    header = {
        "format": FORMAT,
        "version": info.version,
        "spec_version": info.spec_version,
        "run_id": info.run_id,
        "fingerprint": fp,
        "built_ts": built_ts,
        "known_since": known_since,
        "edit_seq": seq,
        "customers": w.customers,
        "consumers": w.counts,
        "majors": {str(m): sorted(p) for m, (_, p) in served.majors.items()},
        "written_at": time.time(),
        "sentinel": SENTINEL,
    }
    with env.begin(write=True) as txn:
        txn.put(b"header", orjson.dumps(header))


def _open_dbs(env: Any, groups: list[tuple[Spec, dict[str, ConsumerPolicy], int | None]]) -> Dbs:
    dbs: Dbs = {}
    for _, group, _ in groups:
        for c in group:
            dbs[c] = (
                env.open_db(b"r:" + c.encode()),
                env.open_db(b"e:" + c.encode(), dupsort=True),
                env.open_db(b"s:" + c.encode()),
            )
    return dbs


@dataclass
class _Writer:
    """The file being written: its databases, and what has been counted so far."""

    env: Any
    meta_db: Any
    dbs: Dbs
    mask_key: bytes
    built_ts: float
    previous: Continuity | None
    counts: dict[str, int] = field(default_factory=dict)
    customers: int = 0
    stable: set[str] = field(default_factory=set)  # customers whose change time older versions may set

    def __post_init__(self) -> None:
        self.counts = dict.fromkeys(self.dbs, 0)

    def group(
        self, product: Spec, group: dict[str, ConsumerPolicy], rows: Iterator[tuple[str, bytes]], main: bool
    ) -> None:
        """Project ``rows`` (the snapshot's own records when ``main``, else a major's view) for ``group``."""
        emails = email_fields(product.model)
        live = {c: p for c, p in group.items() if not p.denied}
        txn = self.env.begin(write=True)
        for n, (cid, data) in enumerate(rows, 1):
            key = cid.encode()
            h, before = self._record(txn, cid, key, data) if main else self._known(txn, cid, key)
            for consumer, (body, found) in project(live, emails, data, self.mask_key).items():
                self._put(txn, consumer, cid, key, body, found, h, before)
            if n % CHUNK == 0:
                txn.commit()
                txn = self.env.begin(write=True)
        txn.commit()

    def _record(self, txn: Any, cid: str, key: bytes, data: bytes) -> tuple[int, tuple[int, float] | None]:
        """Write a stored record's hash and change time; its hash, and what was served before."""
        h = record_hash(data)
        before = self.previous.meta(cid) if self.previous is not None else None
        txn.put(key, _META.pack(h, before[1] if before and before[0] == h else self.built_ts), db=self.meta_db)
        self.customers += 1
        if self.previous is None:
            self.stable.add(cid)
        return h, before

    def _known(self, txn: Any, cid: str, key: bytes) -> tuple[int, tuple[int, float] | None]:
        """A view's customer: the hash of its stored record (written before), and what was served before."""
        raw = txn.get(key, db=self.meta_db)
        before = self.previous.meta(cid) if self.previous is not None else None
        return (_META.unpack(raw)[0] if raw is not None else 0), before

    def _put(
        self,
        txn: Any,
        consumer: str,
        cid: str,
        key: bytes,
        body: bytes,
        found: list[str],
        h: int,
        before: tuple[int, float] | None,
    ) -> None:
        rdb, edb, sdb = self.dbs[consumer]
        txn.put(key, body, db=rdb)
        self.counts[consumer] += 1
        for e in found:
            txn.put(_email_key(e), key, db=edb)
        previous = self.previous
        if previous is not None:
            t: float | None = None
            if before is not None and before[0] == h:
                t = previous.own_since(consumer, cid)
            elif previous.body(consumer, cid) == body:
                t = previous.changed_at(consumer, cid)
            if t is not None:
                txn.put(key, _TIME.pack(t), db=sdb)


def _history(
    env: Any,
    store: Store,
    version: int,
    built_ts: float,
    stable: set[str],
    policies: dict[str, ConsumerPolicy],
    emails: frozenset[str],
    mask_key: bytes,
    meta_db: Any,
    dbs: dict[str, tuple[Any, Any, Any]],
    retained: Any,
) -> float:
    """When each customer's record (and each consumer's projection) last changed, from older versions.

    The streaming twin of :func:`c360.api.state._history`, updating the file being written.
    """
    known_since = built_ts
    still: dict[str, set[str]] = {c: set() for c in policies}
    for v, built_at in reversed(retained(store, version)):
        ts = built_at.timestamp()
        seen: set[str] = set()
        moved: set[str] = set()
        txn = env.begin(write=True)
        for n, (cid, data) in enumerate(store.snapshot_rows(v), 1):
            seen.add(cid)
            key = cid.encode()
            if cid in stable:
                raw = txn.get(key, db=meta_db)
                h = _META.unpack(raw)[0]
                if h == record_hash(data):
                    txn.put(key, _META.pack(h, ts), db=meta_db)
                else:
                    stable.discard(cid)
                    moved.add(cid)
            ask = {c: p for c, p in policies.items() if cid in moved or cid in still[c]}
            if ask:
                then = project(ask, emails, data, mask_key)
                for c in ask:
                    body = then.get(c)
                    if body is not None and body[0] == txn.get(key, db=dbs[c][0]):
                        txn.put(key, _TIME.pack(ts), db=dbs[c][2])
                        still[c].add(cid)
                    else:
                        still[c].discard(cid)
            if n % CHUNK == 0:
                txn.commit()
                txn = env.begin(write=True)
        if not seen:
            txn.abort()
            break  # pruned: nothing older is known
        txn.commit()
        stable -= stable - seen  # absent from the older version: changed since
        for c in still:
            still[c] &= seen
        known_since = ts
        if not stable and not any(still.values()):
            break
    return known_since
