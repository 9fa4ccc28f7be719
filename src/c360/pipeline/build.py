"""The build: sync → normalise → resolve → materialise → check → publish.

The stages are plain functions, read top to bottom in :func:`build`. Nothing is
visible to readers until :func:`publish` flips the snapshot pointer, in the same
transaction that installs the new identity map: a build that fails at any stage
leaves the previous snapshot (and map) served.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from c360.connectors.base import Quarantined
from c360.core import jsonutil, logs
from c360.core.clock import utcnow
from c360.core.errors import BuildError, C360Error
from c360.core.ids import new_customer_id
from c360.engine.checks import Newest, freshness_inputs, gate
from c360.engine.columns import ColumnReader, Unmapped, ValueProblem
from c360.engine.materialise import SourceFrame, materialise
from c360.governance import majors, openlineage
from c360.governance.erasure import record_publish
from c360.identity.matching import reusable
from c360.identity.people import resolve_people
from c360.identity.person_match import reusable as person_reusable
from c360.identity.records import PERSON_NAME_ATTRIBUTES, IdentityRecord, make_record
from c360.identity.resolve import Resolution, resolve
from c360.identity.stable import Assignment, assign_ids
from c360.identity.transforms import Transform, compose
from c360.pipeline.metrics import push_build_metrics
from c360.pipeline.progress import Reporter, Silent
from c360.pipeline.sync import QuarantineReasons, SourceSync, quarantine_threshold, sync
from c360.spec.validate import IDENTITY_ATTRIBUTES, Spec
from c360.store import Store
from c360.store import identity as idmap

_LOG = logging.getLogger("c360.build")


@dataclass
class BuildReport:
    run_id: str
    version: int | None = None
    customers: int = 0
    synced: list[SourceSync] = field(default_factory=list)
    staged: dict[str, int] = field(default_factory=dict)
    quarantined: dict[str, int] = field(default_factory=dict)
    nulled: dict[str, int] = field(default_factory=dict)  # "source.column" -> bad values nulled (on_invalid)
    notices: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # source -> kind -> count, examples
    unmapped: dict[str, int] = field(default_factory=dict)
    unresolved: int = 0
    review: int = 0
    name_only: int = 0  # customers known by nothing but a name (person grain)
    shared_values: int = 0  # contact values several people hold: weight only, never a key
    refused_values: dict[str, int] = field(default_factory=dict)  # identity values refused, by reason
    identity_events: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    quality: dict[str, Any] = field(default_factory=dict)
    majors: dict[int, dict[str, Any]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "version": self.version,
            "customers": self.customers,
            "staged": self.staged,
            "quarantined": self.quarantined,
            "nulled": self.nulled,
            "notices": self.notices,
            "unmapped": self.unmapped,
            "unresolved": self.unresolved,
            "review": self.review,
            "name_only": self.name_only,
            "shared_values": self.shared_values,
            "refused_values": self.refused_values,
            "identity_events": self.identity_events,
            "seconds": self.seconds,
            "quality": self.quality,
            "majors": {str(m): v for m, v in self.majors.items()},
        }


@dataclass
class Normalised:
    frames: dict[str, SourceFrame]
    quarantined: dict[str, list[Quarantined]]
    unmapped: Unmapped
    nulled: dict[str, list[Quarantined]] = field(default_factory=dict)  # kept, with a field null


# -- stages ---------------------------------------------------------------------------


def normalise(
    spec: Spec, store: Store, reporter: Reporter, *, only: set[str] | None = None, label: str = ""
) -> Normalised:
    """Read staged records through the spec's column declarations; bad values are quarantined."""
    frames: dict[str, SourceFrame] = {}
    bad: dict[str, list[Quarantined]] = {}
    nulled: dict[str, list[Quarantined]] = {}
    unmapped = Unmapped()
    for name, src in spec.model.sources.items():
        if only is not None and name not in only:
            continue
        reader = ColumnReader(name, src, spec.model)
        frame = SourceFrame.for_source(src)
        task = f"normalise {name}{label}"
        reporter.start(task)
        problems: list[tuple[str, str]] = []
        for row in store.staged(name):
            try:
                values = reader.read(row.payload, unmapped, problems)
            except ValueProblem as exc:
                bad.setdefault(name, []).append(Quarantined(f"{name}:{row.key}", str(exc), ""))
                problems.clear()
                continue
            for column, problem in problems:
                nulled.setdefault(name, []).append(
                    Quarantined(
                        f"{name}:{row.key}",
                        f"column '{column}': {problem}; the record is kept with '{column}' null (on_invalid: null)",
                        column,
                    )
                )
            problems.clear()
            frame.append(row.key, row.fetched_at, values)
        reporter.finish(task, f"{len(frame)} records")
        frames[name] = frame
    return Normalised(frames, bad, unmapped, nulled)


def refuse_unreadable(spec: Spec, store: Store, report: BuildReport, norm: Normalised) -> None:
    """Fail the build when a source's quarantined share is past its threshold.

    A renamed key column, a wrong encoding or a changed date format is not bad data but a
    broken source: publishing without it would empty its fields for every customer. The
    previous snapshot stays, and the refused read's cursor is put back so the next build
    reads it again.

    A ``required: false`` source whose sync failed is built from what staging held before
    (its ``not_synced`` notice, in the report, says how many records that is).
    """
    synced = {s.source: s for s in report.synced}
    refused = []
    for name in spec.model.sources:
        s = synced.get(name)
        if s is not None and s.failed is not None:
            held = len(norm.frames[name]) if name in norm.frames else 0
            s.notices["not_synced"]["examples"] = [
                f"{s.failed}; built from the {held:,} record(s) its last good sync staged (required: false)"
            ]
            report.notices.setdefault(name, s.notices)
        reasons = QuarantineReasons()
        if s is not None:
            reasons.counts.update(s.reasons.counts)
            reasons.first.update(s.reasons.first)
        reasons.add(norm.quarantined.get(name, []))
        bad = sum(reasons.counts.values())
        total = bad + (len(norm.frames[name]) if name in norm.frames else 0)
        limit = quarantine_threshold(spec, name)
        if not bad or bad <= limit * total:
            continue
        commonest = reasons.commonest()
        assert commonest is not None
        kind, n, where = commonest
        refused.append(
            f"source '{name}': {bad:,} of {total:,} records quarantined ({bad / total:.0%}), past its "
            f"quarantine_threshold of {limit:.0%}; commonest reason: {kind} ({n:,} records, first at "
            f"{where})"
        )
        if s is not None:
            store.restore_cursor(name, s.started_from)
    if refused:
        raise BuildError(
            "; ".join(refused) + ". The previous snapshot stays published; fix the source, or raise "
            "quarantine_threshold (per source, or for the product) if this is expected. "
            "`c360 quarantine SPEC` lists every record."
        )


def identifier_transforms(spec: Spec) -> dict[str, Transform]:
    """Each declared identifier attribute (one not built in) and the transform its values get."""
    declared = spec.model.identity.identifiers
    out: dict[str, Transform] = {}
    for src in spec.model.sources.values():
        for attr in src.identity:
            if attr in IDENTITY_ATTRIBUTES or attr in out:
                continue
            ident = declared.get(attr)
            out[attr] = compose(ident.transform, ident.pattern) if ident else compose(["trim"])
    return out


def identity_records(
    spec: Spec, frames: dict[str, SourceFrame], failed: dict[str, int] | None = None
) -> list[IdentityRecord]:
    rule_cols: dict[str, set[str]] = {}
    for r in spec.rules:
        rule_cols.setdefault(r.left_source, set()).add(r.left_column)
        rule_cols.setdefault(r.right_source, set()).add(r.right_column)
    transforms = identifier_transforms(spec)
    declared = spec.model.identity.identifiers
    out = []
    for name, src in spec.model.sources.items():
        if src.belongs_to is not None:
            continue
        frame = frames[name]
        cols = frozenset(rule_cols.get(name, ()))
        # A rule's column is a cross-reference to another source's record, not a key its own
        # records share: two Stripe customers citing one CRM account (one of them stale) are not
        # one customer for that alone. Declared under ``identity.identifiers`` it is both.
        mine = {
            a: transforms[a]
            for a, col in src.identity_columns
            if a in transforms and (a in declared or col not in cols)
        }
        pairs = src.identity_columns
        for key, row in zip(frame.keys, frame.rows(), strict=True):
            out.append(make_record(name, key, pairs, row, cols, identifiers=mine, failed=failed))
    return out


# A stored model is reused while the number of records stays within this share of what it was
# trained on; past it (or with ``retrain``) the build trains afresh.
RETRAIN_DRIFT = 0.25


def resolve_identities(
    spec: Spec, store: Store, frames: dict[str, SourceFrame], run_id: str, *, retrain: bool = False
) -> tuple[Resolution, Assignment, list[idmap.MapRow]]:
    records = identity_records(spec, frames)
    stored = _stored_model(spec, store, len(records), retrain=retrain)
    model_path = _model_path(store, run_id)
    pins = idmap.pins(store)
    previous, created = idmap.previous_ids(store)
    # Sources that describe people (they carry a person's name) roll up to their account.
    people = frozenset(n for n, s in spec.model.sources.items() if PERSON_NAME_ATTRIBUTES & set(s.identity))
    resolution = _resolve(
        spec,
        records,
        model=stored.model if stored else None,
        model_path=model_path,
        pins=pins,
        previous=previous,
        people=people,
    )
    assignment = assign_ids(
        resolution.clusters,
        previous,
        created,
        new_customer_id,
        people=people if spec.model.grain == "account" else frozenset(),
    )
    rows = _map_rows(resolution, assignment)
    rows += _child_rows(spec, frames, assignment)
    return resolution, assignment, rows


def _stored_model(spec: Spec, store: Store, records: int, *, retrain: bool) -> idmap.StoredModel | None:
    """The stored matching model to score with, unless retraining or the data has drifted past it.

    Scoring with the stored model keeps ids stable: re-estimating parameters on slightly
    different data would move borderline pairs across the threshold for no reason.
    """
    stored = None if retrain else idmap.latest_model(store, spec.model.grain)
    usable_model = person_reusable if spec.model.grain == "person" else reusable
    if stored is not None and (
        abs(records - stored.records) > RETRAIN_DRIFT * max(stored.records, 1) or not usable_model(stored.model)
    ):
        return None
    return stored


def _model_path(store: Store, run_id: str) -> Path | None:
    """Where a SQLite store keeps the model this run trains, beside its database."""
    if store.dialect == "sqlite":
        db_path = store.engine.url.database
        if db_path:
            return Path(db_path).parent / "models" / f"{run_id}.json"
    return None


def _resolve(
    spec: Spec,
    records: list[IdentityRecord],
    *,
    model: dict[str, Any] | None,
    model_path: Path | None,
    pins: list[idmap.Pin],
    previous: dict[str, str],
    people: frozenset[str],
) -> Resolution:
    """Resolve the records at the spec's grain: people at person grain, customers at account grain."""
    match = spec.model.identity.match
    distinct = spec.model.identity.distinct
    evidence_ids = frozenset(a for a, i in spec.model.identity.identifiers.items() if i.strength == "evidence")
    link_pins = [(p.left, p.right) for p in pins if p.kind == "link"]
    unlink_pins = [(p.left, p.right) for p in pins if p.kind == "unlink"]
    if spec.model.grain == "person":
        return resolve_people(
            records,
            spec.rules,
            threshold=match.threshold,
            review_threshold=match.review_threshold,
            model_path=model_path,
            model=model,
            link_pins=link_pins,
            unlink_pins=unlink_pins,
            evidence_identifiers=evidence_ids,
        )
    return resolve(
        records,
        spec.rules,
        grain=spec.model.grain,
        threshold=match.threshold,
        review_threshold=match.review_threshold,
        attach_threshold=match.attach_threshold,
        model_path=model_path,
        model=model,
        link_pins=link_pins,
        unlink_pins=unlink_pins,
        person_sources=people,
        previous=previous,
        distinct_sources=frozenset(distinct) if distinct is not None else None,
        evidence_identifiers=evidence_ids,
    )


def _map_rows(resolution: Resolution, assignment: Assignment) -> list[idmap.MapRow]:
    """The identity map's row for each resolved record, with the link that placed it."""
    name_only = set(resolution.name_only)
    evidence = resolution.evidence()
    rows: list[idmap.MapRow] = []
    for rid, cid in assignment.ids.items():
        source, key = rid.split(":", 1)
        link = evidence.get(rid)
        if link is None:
            marked = rid in name_only
            detail = {"marked": "known only by a name"} if marked else None
            rows.append(idmap.MapRow(source, key, cid, "name_only" if marked else "singleton", None, detail))
        else:
            other = link.right if link.left == rid else link.left
            rows.append(idmap.MapRow(source, key, cid, link.method, link.score, {"with": other, **link.evidence}))
    return rows


def _child_rows(spec: Spec, frames: dict[str, SourceFrame], assignment: Assignment) -> list[idmap.MapRow]:
    """Records of child sources follow their parent (a subscription follows its Stripe customer)."""
    rows: list[idmap.MapRow] = []
    for name, src in spec.model.sources.items():
        if src.belongs_to is None:
            continue
        frame = frames[name]
        parent_col = frame.column(src.belongs_to.column)
        for i, key in enumerate(frame.keys):
            parent = f"{src.belongs_to.source}:{parent_col[i]}"
            owner = assignment.ids.get(parent)
            if owner is not None:
                rows.append(idmap.MapRow(name, key, owner, "belongs_to", None, {"parent": parent}))
    return rows


def attach_ids(frames: dict[str, SourceFrame], rows: list[idmap.MapRow]) -> None:
    ids = {(r.source, r.key): r.customer_id for r in rows}
    for name, frame in frames.items():
        frame.customer_ids = [ids.get((name, k)) for k in frame.keys]


def newest_times(spec: Spec, store: Store, frames: dict[str, SourceFrame]) -> Newest:
    """What the freshness checks judge: each source's last sync, or a column's newest value."""
    synced = store.sync_times()
    out: dict[tuple[str, str | None], dt.datetime | None] = {}
    for source, column in freshness_inputs(spec.model):
        if column is None:
            out[(source, column)] = synced.get(source)
        else:
            values = [v for v in frames[source].column(column) if v is not None]
            out[(source, column)] = max(values) if values else None
    return out


def materialise_majors(
    spec: Spec,
    store: Store,
    norm: Normalised,
    rows: list[idmap.MapRow],
    customer_ids: list[str],
    version: int,
    as_of: dt.datetime,
    reporter: Reporter,
) -> dict[int, dict[str, Any]]:
    """The snapshot in the shape of every earlier major still pinned, for its consumers.

    The same customers and identity map; the fields, types and units of the major's last
    recorded spec. A source declared alike in both specs reuses this build's normalised
    frame; one declared differently is normalised again with the older declaration.
    """
    out: dict[int, dict[str, Any]] = {}
    for m in majors.pinned(store, spec, utcnow()):  # sunsets are wall-clock dates
        old = m.spec.model
        same = {n for n, src in old.sources.items() if n in spec.model.sources and spec.model.sources[n] == src}
        again = normalise(m.spec, store, reporter, only=set(old.sources) - same, label=f" (major {m.major})")
        attach_ids(again.frames, rows)
        frames = {**{n: norm.frames[n] for n in same}, **again.frames}
        task = f"materialise major {m.major}"
        reporter.start(task, total=len(customer_ids))
        n = store.write_view(version, m.major, old.version, materialise(old, frames, customer_ids, as_of))
        reporter.finish(task, f"{n} customers, spec {old.version}, for {', '.join(m.consumers)}")
        out[m.major] = {
            "spec_version": old.version,
            "customers": n,
            "consumers": list(m.consumers),
            "quarantined": {k: len(v) for k, v in again.quarantined.items()},
            "renormalised": sorted(again.frames),
        }
    return out


def publish(
    store: Store,
    version: int,
    run_id: str,
    rows: list[idmap.MapRow],
    assignment: Assignment,
    resolution: Resolution,
    *,
    grain: str,
    records: int,
) -> None:
    """Install the identity map (and a newly trained model) and flip the snapshot, atomically."""
    events = [idmap.IdentityEventRow(e.kind, e.customer_id, e.other_id, e.detail) for e in assignment.events]
    # Evidence a constraint refused first (the steward sees why), then the borderline pairs.
    review: list[tuple[str, str, float, dict[str, Any]]] = [
        (c.left, c.right, c.score, dict(c.evidence)) for c in resolution.conflicts
    ]
    review += [(m.left, m.right, m.probability, {"weights": m.weights}) for m in resolution.review]

    def install(conn: Connection) -> None:
        idmap.write_map(conn, run_id, rows, events)
        idmap.write_review(conn, run_id, review)
        if resolution.trained and resolution.model is not None:
            idmap.save_model(conn, run_id, grain, records, resolution.model)
        # The publish's audit row, in its transaction; refused if an erasure committed meanwhile.
        record_publish(conn, run_id=run_id, version=version)

    store.publish(version, also=install)


# -- the whole build ---------------------------------------------------------------------


def build(
    spec: Spec,
    store: Store,
    *,
    skip_sync: bool = False,
    full: bool = False,
    as_of: dt.datetime | None = None,
    reporter: Reporter | None = None,
    fail_after: Callable[[str], None] | None = None,
    retrain: bool = False,
) -> BuildReport:
    """Run every stage and publish a new snapshot. ``fail_after`` is a test hook per stage."""
    reporter = reporter or Silent()
    as_of = as_of or utcnow()
    lineage = openlineage.emitter(spec.model)
    run_id = store.start_run("build")
    report = BuildReport(run_id)
    lineage.start(run_id)
    version: int | None = None
    clock = time.perf_counter()

    logs.event(
        _LOG,
        "build started",
        run_id=run_id,
        product=spec.model.product,
        spec_version=spec.model.version,
        full=full,
        skip_sync=skip_sync,
    )

    def lap(stage: str, **counts: Any) -> None:
        nonlocal clock
        now = time.perf_counter()
        report.seconds[stage] = round(now - clock, 3)
        clock = now
        logs.event(_LOG, "build stage", run_id=run_id, stage=stage, seconds=report.seconds[stage], **counts)
        if fail_after is not None:
            fail_after(stage)

    try:
        store.record_spec(spec.model.product, spec.model.version, spec.text)
        if not skip_sync:
            report.synced = sync(spec, store, run_id=run_id, full=full, reporter=reporter)
            for s in report.synced:
                report.quarantined[s.source] = s.quarantined
        lap("sync", records={s.source: s.records for s in report.synced}, quarantined=sum(report.quarantined.values()))

        norm = normalise(spec, store, reporter)
        for name, items in norm.quarantined.items():
            store.add_quarantine(run_id, name, items)
            report.quarantined[name] = report.quarantined.get(name, 0) + len(items)
        for name, items in norm.nulled.items():
            store.add_quarantine(run_id, name, items)
            for q in items:
                report.nulled[f"{name}.{q.raw}"] = report.nulled.get(f"{name}.{q.raw}", 0) + 1
        report.notices = {s.source: s.notices for s in report.synced if s.notices}
        refuse_unreadable(spec, store, report, norm)
        report.staged = {n: len(f) for n, f in norm.frames.items()}
        report.unmapped = {f"{s}.{c}={v}": n for (s, c, v), n in norm.unmapped.counts.items()}
        lap(
            "normalise",
            records=report.staged,
            quarantined=sum(report.quarantined.values()),
            nulled=sum(report.nulled.values()),
        )

        reporter.start("resolve identities")
        resolution, assignment, rows = resolve_identities(spec, store, norm.frames, run_id, retrain=retrain)
        report.unresolved = len(resolution.unresolved)
        report.review = len(resolution.review)
        report.name_only = len(resolution.name_only)
        report.shared_values = resolution.shared_values
        report.refused_values = resolution.refused_values
        for e in assignment.events:
            report.identity_events[e.kind] = report.identity_events.get(e.kind, 0) + 1
        reporter.finish("resolve identities", f"{len(resolution.clusters)} customers")
        lap(
            "resolve",
            customers=len(resolution.clusters),
            unresolved=report.unresolved,
            review=report.review,
            identity_events=report.identity_events,
        )

        attach_ids(norm.frames, rows)
        customer_ids = sorted(set(assignment.ids.values()))
        version = store.begin_snapshot(run_id, spec.model.version, as_of)
        reporter.start("materialise", total=len(customer_ids))
        records = materialise(spec.model, norm.frames, customer_ids, as_of)
        report.customers = store.write_snapshot(version, records)
        reporter.finish("materialise", f"{report.customers} customers")
        report.majors = materialise_majors(spec, store, norm, rows, customer_ids, version, as_of, reporter)
        lap("materialise", customers=report.customers, majors=len(report.majors))

        # Quality gates read back what was written; an error-level failure raises before publish.
        written = ((c, jsonutil.loads(d)) for c, d in store.snapshot_rows(version))
        report.quality = gate(spec.model, written, newest=newest_times(spec, store, norm.frames), as_of=as_of).as_dict()
        lap("check", warnings=len(report.quality.get("warnings", [])))

        publish(
            store, version, run_id, rows, assignment, resolution, grain=spec.model.grain, records=resolution.records
        )
        report.version = version
        lap("publish", version=version)
    except Exception as exc:
        if version is not None:
            store.fail_snapshot(version)
        store.finish_run(run_id, "failed", {**report.as_dict(), "error": str(exc)})
        lineage.fail(run_id, str(exc))
        # The error's kind only: its message may quote a source value (the CLI prints it).
        logs.event(
            _LOG,
            "build failed",
            logging.ERROR,
            run_id=run_id,
            error=type(exc).__name__,
            seconds=round(sum(report.seconds.values()), 3),
        )
        push_build_metrics(spec, store, run_id)
        if isinstance(exc, C360Error):
            raise
        raise BuildError(f"build failed: {type(exc).__name__}: {exc}") from exc
    store.finish_run(run_id, "succeeded", report.as_dict())
    lineage.complete(run_id, report.customers)
    logs.event(
        _LOG,
        "build finished",
        run_id=run_id,
        version=version,
        customers=report.customers,
        quarantined=sum(report.quarantined.values()),
        seconds=round(sum(report.seconds.values()), 3),
    )
    push_build_metrics(spec, store, run_id)
    return report
