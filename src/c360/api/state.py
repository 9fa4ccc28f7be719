"""What a server process holds in memory: the published snapshot, pre-projected per consumer.

The served snapshot is swapped as a whole when a new version is published, so a
request sees one version from start to finish.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field

import orjson

from c360.core.clock import iso, utcnow
from c360.core.ids import hash_key
from c360.governance.access import granted_fields, project
from c360.spec.validate import Spec
from c360.store import Store
from c360.store import identity as idmap


@dataclass(frozen=True)
class Snapshot:
    version: int
    as_of: str
    built_at: str
    ids: tuple[str, ...]  # sorted, for paging
    # consumer → customer_id → the consumer's projection, already serialised
    projections: dict[str, dict[str, bytes]]
    aliases: dict[str, str]

    @property
    def headers(self) -> dict[str, str]:
        return {"X-C360-Snapshot": str(self.version), "X-C360-As-Of": self.as_of}


EMPTY = Snapshot(0, "", "", (), {}, {})


def load_snapshot(spec: Spec, store: Store) -> Snapshot:
    info = store.current_snapshot()
    if info is None:
        return EMPTY
    grants = {c: granted_fields(spec.model, c) for c in spec.model.consumers}
    projections: dict[str, dict[str, bytes]] = {c: {} for c in grants}
    ids = []
    for cid, data in store.snapshot_rows(info.version):
        record = orjson.loads(data)
        ids.append(cid)
        for consumer, fields in grants.items():
            projections[consumer][cid] = orjson.dumps(project(record, fields))
    return Snapshot(info.version, iso(info.as_of), iso(info.built_at), tuple(ids), projections,
                    idmap.aliases(store))


@dataclass
class ServerState:
    """The live state of one server process, refreshed in the background."""

    spec: Spec
    store: Store
    refresh_seconds: float = 1.0
    snapshot: Snapshot = EMPTY
    keys: dict[str, tuple[str, dt.datetime | None]] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def refresh(self) -> None:
        version = self.store.current_version()
        if version is not None and version != self.snapshot.version:
            self.snapshot = load_snapshot(self.spec, self.store)
        self.keys = self.store.active_keys()

    def consumer(self, bearer: str) -> str | None:
        hit = self.keys.get(hash_key(bearer))
        if hit is None:
            return None
        consumer, expires = hit
        if expires is not None and expires <= utcnow():
            return None
        return consumer

    def start(self) -> None:
        self.refresh()
        if self._thread is None and self.refresh_seconds > 0:
            self._thread = threading.Thread(target=self._loop, name="c360-refresh", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(self.refresh_seconds):
            try:
                self.refresh()
            except Exception:  # a store hiccup must not kill serving; the next tick retries
                continue
