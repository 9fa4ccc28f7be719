"""Sync: each source read by its connector and landed in staging, resumable from its cursor.

Sources sync independently and at once (``sync_each``: a pool of ``parallel`` threads, 4 by
default): one that fails is recorded with its error and the others still sync; ``sync``
raises once every source has had its turn, if a *required* source failed. A source declared
``required: false`` that fails comes back as a :class:`SourceSync` marked ``failed``, so a
build goes on with what staging holds of it from its last good sync, and says so.

The store is shared by the threads: each of its calls takes a connection of its own from
the engine's pool (SQLAlchemy engines are thread-safe; connections are not shared). On
SQLite, whose one writer at a time would refuse a transaction that read before another
committed (``database is locked``, whatever the busy timeout), every write of a sync is
taken under one lock, so the sources' reads overlap and their writes queue. A store whose
pool keeps one connection per thread or one for all (an in-memory SQLite) syncs one source
at a time.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.pool import SingletonThreadPool, StaticPool

from c360.connectors.base import Connector, Notice, Quarantined, Record, get_path
from c360.connectors.pg_cdc import REREAD
from c360.connectors.registry import make_connector
from c360.core.errors import C360Error, SourceError, TransientSourceError
from c360.core.retry import Backoff, retry
from c360.engine.columns import ValueProblem, parse_timestamp
from c360.governance.suppression import Suppressor
from c360.pipeline.progress import Reporter, Silent
from c360.spec.validate import Spec
from c360.store import StageCounts, Store


@dataclass
class SourceSync:
    source: str
    counts: StageCounts = field(default_factory=StageCounts)
    batches: int = 0
    quarantined: int = 0
    tombstoned: int = 0
    seconds: float = 0.0
    cursor: str | None = None
    started_from: str | None = None  # the cursor before this read, restored if the build refuses it
    reasons: QuarantineReasons = field(default_factory=lambda: QuarantineReasons())
    notices: dict[str, dict[str, Any]] = field(default_factory=dict)  # kind -> {count, examples}
    refused: bool = False  # a full read mostly quarantined: what staging holds was not tombstoned
    # The sync of a ``required: false`` source failed (this is the message): staging keeps what
    # its last good sync left, and the build uses that.
    failed: str | None = None

    @property
    def records(self) -> int:
        c = self.counts
        return c.new + c.changed + c.unchanged

    def note(self, notices: Iterable[Notice], examples: int = 5) -> None:
        for n in notices:
            entry = self.notices.setdefault(n.kind, {"count": 0, "examples": []})
            entry["count"] += 1
            if len(entry["examples"]) < examples:
                entry["examples"].append(n.message)


@dataclass
class QuarantineReasons:
    """Quarantined records counted by their reason (the value left out), with a first location each."""

    counts: Counter[str] = field(default_factory=Counter)
    first: dict[str, str] = field(default_factory=dict)

    def add(self, items: Iterable[Quarantined]) -> None:
        for q in items:
            kind = reason_kind(q.reason)
            self.counts[kind] += 1
            self.first.setdefault(kind, q.location)

    def commonest(self) -> tuple[str, int, str] | None:
        if not self.counts:
            return None
        kind, n = self.counts.most_common(1)[0]
        return kind, n, self.first[kind]


_FOUND = re.compile(r",? found .*$", re.DOTALL)


def reason_kind(reason: str) -> str:
    """A reason without the offending value, so one cause counts once.

    >>> reason_kind("column 'Created': expected an ISO-8601 timestamp or Unix seconds, found 'x'")
    "column 'Created': expected an ISO-8601 timestamp or Unix seconds"
    """
    return _FOUND.sub("", reason) or reason


def quarantine_threshold(spec: Spec, source: str) -> float:
    own = spec.model.sources[source].quarantine_threshold
    return spec.model.quarantine_threshold if own is None else own


class KeyLedger:
    """The keys one read has met: a key met twice is reported, and the newer row kept.

    Without ``updated_at`` the later row wins (as staging would); with it, the row whose
    ``updated_at`` column is newer, so a stale duplicate later in an export cannot win.
    """

    def __init__(self, updated_at: str | None, path: str | None, sync: SourceSync) -> None:
        self.column, self.path, self.sync = updated_at, path, sync
        self.seen: dict[str, tuple[str | None, Any]] = {}

    def _stamp(self, r: Record) -> Any:
        if self.path is None:
            return None
        try:
            return parse_timestamp(get_path(r.data, self.path))
        except ValueProblem:
            return None

    def admit(self, records: Sequence[Record]) -> list[Record]:
        out = []
        for r in records:
            if r.deleted:
                self.seen.pop(r.key, None)
                out.append(r)
                continue
            stamp = self._stamp(r)
            prior = self.seen.get(r.key)
            if prior is not None:
                old_at, old_stamp = prior
                here = r.location or "a later row"
                there = old_at or "an earlier row"
                if self.column is None:
                    outcome = "the later row is kept"
                elif old_stamp is not None and (stamp is None or stamp < old_stamp):
                    self.sync.note(
                        [
                            Notice(
                                "duplicate_key",
                                f"key {r.key!r} at {here} repeats {there}; the row "
                                f"with the newer '{self.column}' is kept ({there})",
                            )
                        ]
                    )
                    continue
                else:
                    outcome = f"the row with the newer '{self.column}' is kept ({here})"
                self.sync.note([Notice("duplicate_key", f"key {r.key!r} at {here} repeats {there}; {outcome}")])
            self.seen[r.key] = (r.location, stamp)
            out.append(r)
        return out


def as_source(exc: SourceError, source: str, connector: str) -> SourceError:
    """The same failure, named by the spec's source (``invoices``) rather than its connector."""
    if exc.source == source:
        return exc
    detail = str(exc).split(": ", 1)[-1]
    message = f"({connector}) {detail}"
    if isinstance(exc, TransientSourceError):
        return TransientSourceError(source, message, retry_after=exc.retry_after)
    return type(exc)(source, message)


def open_connector(spec: Spec, source: str) -> Connector:
    src = spec.model.sources[source]
    try:
        return make_connector(src.connector, src.options, base_dir=spec.base_dir)
    except SourceError as exc:
        raise as_source(exc, source, src.connector) from exc


def stream_name(spec: Spec, source: str) -> str:
    return spec.model.sources[source].stream or ""


class SyncCancelled(C360Error):
    """Another source's sync was interrupted (Ctrl-C): this one stopped between two batches."""


def sync_source(
    spec: Spec,
    store: Store,
    source: str,
    *,
    run_id: str,
    full: bool = False,
    reporter: Reporter | None = None,
    retries: int = 3,
    write_lock: threading.Lock | None = None,
    stop: threading.Event | None = None,
) -> SourceSync:
    """Read one source into staging. A transient failure resumes from the last committed cursor.

    ``write_lock``, when given, is held for each write to the store (see the module's note);
    ``stop``, when set, ends the read between two batches (what was committed stays).
    """
    reporter = reporter or Silent()
    src = spec.model.sources[source]
    out = SourceSync(source)
    started = time.perf_counter()
    task = f"sync {source}"
    reporter.start(task)

    def writing() -> contextlib.AbstractContextManager[Any]:
        return write_lock if write_lock is not None else contextlib.nullcontext()

    def check_stop() -> None:
        if stop is not None and stop.is_set():
            raise SyncCancelled(
                f"source '{source}': sync interrupted; what it committed is kept, and the next sync resumes from there"
            )

    out.started_from = store.cursor(source)
    if full:
        with writing():
            store.reset_cursor(source)
    conn = open_connector(spec, source)
    # Erased subjects are dropped or anonymised on arrival, so a sync never brings them back.
    suppressor = Suppressor.load(store, spec.model)
    ledger = KeyLedger(src.updated_at, src.column_path(src.updated_at) if src.updated_at else None, out)
    since = store.cursor(source)
    # Only a read from the beginning shows every live record, so only it can reveal deletions
    # by absence; incremental reads learn of deletions from the connector's tombstones.
    complete_read = since is None

    def read_on() -> None:
        """Read from the last committed cursor to the end; a retry resumes where this stopped."""
        nonlocal since, complete_read
        for batch in conn.read(stream_name(spec, source), key=src.key, since=since):
            check_stop()
            if not out.batches and any(n.kind == REREAD for n in batch.notices):
                # The connector could not resume (a replication slot gone) and reads the
                # source from the beginning: a complete read, which may reveal deletions.
                complete_read = True
            records = ledger.admit(suppressor.admit(source, batch.records))
            with writing():
                counts = store.stage(
                    source,
                    records,
                    cursor=batch.cursor,
                    quarantined=suppressor.scrub_quarantined(batch.quarantined),
                    run_id=run_id,
                )
            out.counts += counts
            out.batches += 1
            out.quarantined += len(batch.quarantined)
            out.reasons.add(batch.quarantined)
            out.note(batch.notices)
            if batch.cursor is not None:
                since = out.cursor = batch.cursor
            reporter.advance(task, len(batch.records), info=f"{out.batches} batch(es)")

    def pause(seconds: float) -> None:
        if stop is None:
            time.sleep(seconds)
            return
        stop.wait(seconds)
        check_stop()

    try:
        try:
            # A connector that retries its own calls gives up with RetriesExhausted, which is not
            # retried again here: sync's retries cover failures that end a read (a dropped connection).
            retry(read_on, Backoff(max_retries=retries, base=2.0, cap=30.0), sleep=pause)
        except SourceError as exc:
            raise as_source(exc, source, src.connector) from exc
        if complete_read and out.quarantined > quarantine_threshold(spec, source) * (out.quarantined + out.records):
            # Mostly unreadable (a renamed key column, a wrong encoding): absence proves nothing,
            # and the read is not taken as done, so the next one meets the source again.
            out.refused = True
            with writing():
                store.restore_cursor(source, out.started_from)
        elif complete_read:
            # A full read shows every live record: what staging holds beyond it was deleted at source.
            with writing():
                out.tombstoned = store.tombstone_missing(source, ledger.seen.keys())
            out.counts.deleted += out.tombstoned
    finally:
        conn.close()
        out.seconds = time.perf_counter() - started
        reporter.finish(task, f"{out.records} records")
    return out


@dataclass
class SourceFailure:
    """A source whose sync failed, and why (the error names the source)."""

    source: str
    error: Exception

    @property
    def message(self) -> str:
        """The error as one line that names the source: ``source 'crm': ...``."""
        if isinstance(self.error, SourceError) and self.error.source == self.source:
            return str(self.error)
        kind = "" if isinstance(self.error, C360Error) else f"{type(self.error).__name__}: "
        return f"source '{self.source}': {kind}{self.error}"


@dataclass
class SyncOutcome:
    """What one sync of several sources did: those that synced, those that failed."""

    synced: list[SourceSync] = field(default_factory=list)
    failed: list[SourceFailure] = field(default_factory=list)


class SyncFailed(C360Error):
    """Several sources failed in one sync; ``failures`` holds each, named by its source."""

    def __init__(self, failures: list[SourceFailure]) -> None:
        self.failures = failures
        super().__init__(f"{len(failures)} sources failed to sync:\n" + "\n".join(f"  {f.message}" for f in failures))


DEFAULT_PARALLEL = 4  # sources synced at once: reads mostly wait on the network


def shares_connections(store: Store) -> bool:
    """Whether threads may use ``store`` at once: false when its pool gives every thread its own
    connection (an in-memory SQLite database is then a different one in each thread) or hands
    one connection to all."""
    return not isinstance(store.engine.pool, SingletonThreadPool | StaticPool)


def sync_each(
    spec: Spec,
    store: Store,
    *,
    run_id: str,
    sources: list[str] | None = None,
    full: bool = False,
    reporter: Reporter | None = None,
    parallel: int = DEFAULT_PARALLEL,
) -> SyncOutcome:
    """Sync every source on its own, ``parallel`` at a time: a failing source is recorded and
    the rest still sync.

    Each source commits its own batches and cursor, so a failure in one (bad credentials,
    a missing file) neither loses nor blocks what the others read. ``synced`` and ``failed``
    list the sources in the spec's order, whichever finished first.
    """
    names = list(sources or spec.model.sources)
    workers = max(1, min(parallel, len(names))) if shares_connections(store) else 1
    lock = threading.Lock() if store.dialect == "sqlite" else None
    stop = threading.Event()

    def one(name: str) -> SourceSync | SourceFailure:
        try:
            return sync_source(
                spec, store, name, run_id=run_id, full=full, reporter=reporter, write_lock=lock, stop=stop
            )
        except Exception as exc:  # reported per source, so the rest still sync
            return SourceFailure(name, exc)

    results: list[SourceSync | SourceFailure] = []
    if workers == 1:
        results = [one(name) for name in names]
    else:
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="c360-sync")
        try:
            futures = [pool.submit(one, name) for name in names]
            results = [f.result() for f in futures]
        except BaseException:
            # Interrupted: sources not started never start; those reading stop after their batch.
            stop.set()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
    outcome = SyncOutcome()
    for r in results:
        if isinstance(r, SourceFailure):
            outcome.failed.append(r)
        else:
            outcome.synced.append(r)
    return outcome


def sync(
    spec: Spec,
    store: Store,
    *,
    run_id: str,
    sources: list[str] | None = None,
    full: bool = False,
    reporter: Reporter | None = None,
    parallel: int = DEFAULT_PARALLEL,
) -> list[SourceSync]:
    """Sync every source (see ``sync_each``), then raise if a required source failed.

    One failure is raised as it is; several as :class:`SyncFailed`, naming each source. A
    source declared ``required: false`` that failed is returned as a :class:`SourceSync`
    with ``failed`` set and a ``not_synced`` notice: what staging holds of it stays, and a
    build goes on with it.
    """
    outcome = sync_each(spec, store, run_id=run_id, sources=sources, full=full, reporter=reporter, parallel=parallel)
    required = [f for f in outcome.failed if spec.model.sources[f.source].required]
    if len(required) == 1:
        raise required[0].error
    if required:
        raise SyncFailed(required)
    synced = {s.source: s for s in outcome.synced}
    for f in outcome.failed:
        stale = SourceSync(f.source, failed=f.message)
        stale.started_from = stale.cursor = store.cursor(f.source)
        stale.note([Notice("not_synced", f"{f.message}; built from what its last good sync staged (required: false)")])
        synced[f.source] = stale
    order = list(sources or spec.model.sources)
    return [synced[n] for n in order if n in synced]
