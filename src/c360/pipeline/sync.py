"""Sync: each source read by its connector and landed in staging, resumable from its cursor."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from c360.connectors.base import Connector
from c360.connectors.registry import make_connector
from c360.core.errors import SourceError, TransientSourceError
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

    @property
    def records(self) -> int:
        c = self.counts
        return c.new + c.changed + c.unchanged


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


def sync_source(
    spec: Spec,
    store: Store,
    source: str,
    *,
    run_id: str,
    full: bool = False,
    reporter: Reporter | None = None,
    retries: int = 3,
) -> SourceSync:
    """Read one source into staging. A transient failure resumes from the last committed cursor."""
    reporter = reporter or Silent()
    src = spec.model.sources[source]
    out = SourceSync(source)
    started = time.perf_counter()
    task = f"sync {source}"
    reporter.start(task)
    if full:
        store.reset_cursor(source)
    conn = open_connector(spec, source)
    # Erased subjects are dropped or anonymised on arrival, so a sync never brings them back.
    suppressor = Suppressor.load(store, spec.model)
    seen: set[str] = set()
    since = store.cursor(source)
    # Only a read from the beginning shows every live record, so only it can reveal deletions
    # by absence; incremental reads learn of deletions from the connector's tombstones.
    complete_read = since is None
    attempt = 0
    try:
        while True:
            try:
                for batch in conn.read(stream_name(spec, source), key=src.key, since=since):
                    records = suppressor.admit(source, batch.records)
                    counts = store.stage(source, records, cursor=batch.cursor,
                                         quarantined=suppressor.scrub_quarantined(batch.quarantined),
                                         run_id=run_id)
                    out.counts += counts
                    out.batches += 1
                    out.quarantined += len(batch.quarantined)
                    seen.update(r.key for r in records if not r.deleted)
                    if batch.cursor is not None:
                        since = out.cursor = batch.cursor
                    reporter.advance(task, len(batch.records), info=f"{out.batches} batch(es)")
                break
            except TransientSourceError as exc:
                attempt += 1
                if attempt > retries:
                    raise as_source(exc, source, src.connector) from exc
                time.sleep(min(2.0**attempt, 30.0))
            except SourceError as exc:
                raise as_source(exc, source, src.connector) from exc
        if complete_read:
            # A full read shows every live record: what staging holds beyond it was deleted at source.
            out.tombstoned = store.tombstone_missing(source, seen)
            out.counts.deleted += out.tombstoned
    finally:
        conn.close()
        out.seconds = time.perf_counter() - started
        reporter.finish(task, f"{out.records} records")
    return out


def sync(
    spec: Spec,
    store: Store,
    *,
    run_id: str,
    sources: list[str] | None = None,
    full: bool = False,
    reporter: Reporter | None = None,
) -> list[SourceSync]:
    names = sources or list(spec.model.sources)
    return [sync_source(spec, store, s, run_id=run_id, full=full, reporter=reporter) for s in names]
