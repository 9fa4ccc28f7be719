"""Applying a GDPR erasure plan: :data:`APPLY_STEPS`, run in order inside one transaction.

Each step is a small function of the :class:`Apply` context that changes one kind of
state through the store's repository functions (:mod:`c360.store.erasure_apply`), all
on the caller's connection: the staged records, the identity map, every snapshot kept,
the quarantine, the suppression list, the request, the outbox and the audit row commit
together or not at all. After the steps named in :data:`CHECKPOINTS` the test hook is
called with the checkpoint's name (see :data:`c360.governance.erasure.STEPS`).
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from c360.core import jsonutil
from c360.core.clock import utcnow
from c360.core.records import get_path
from c360.governance import audit
from c360.governance.erasure_model import Hook, Plan, RecordChange
from c360.governance.suppression import ANONYMISE, DROP, ERASED, Keys, anonymise_payload, set_path
from c360.spec.models import ProductSpec
from c360.store import erasure as db
from c360.store import erasure_apply as write
from c360.store import erasure_outbox as outbox

# What the audit row of an erasure tells of its report (besides a hash of the reason).
AUDITED = (
    "erasure_id",
    "scope",
    "records",
    "customers",
    "customers_removed",
    "snapshot_rows",
    "scrubbed",
    "retained",
    "notify_sources",
)


def _scrub(value: Any, identifiers: Iterable[str], renames: Mapping[str, str]) -> Any:
    """``value`` with every renamed reference rewritten and every identifier masked."""
    if isinstance(value, str):
        if value in renames:
            return renames[value]
        low = value.lower()
        for x in identifiers:
            if x in low:
                return ERASED
        return value
    if isinstance(value, dict):
        return {k: _scrub(v, identifiers, renames) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, identifiers, renames) for v in value]
    return value


def _label(pseudonym: str) -> str:
    return f"erased:{pseudonym}"


@dataclass
class Apply:
    """One erasure being applied: the plan, and what its steps derive from it once."""

    conn: Connection
    product: ProductSpec
    plan: Plan
    keys: Keys
    actor: str
    reason: str
    hook: Hook
    now: dt.datetime
    # The suppression list as it stood (read whole, as every sync reads it).
    known: set[str] = field(default_factory=set)
    retained_from: dict[str, Any] | None = None  # the customer's newest snapshot record

    @property
    def customer_scope(self) -> bool:
        return self.plan.scope == "customer"

    @property
    def low_ids(self) -> list[str]:
        """The subject's identifiers in lower case, longest first."""
        return sorted({x.lower() for x in self.plan.identifiers}, key=len, reverse=True)

    @property
    def renames(self) -> dict[str, str]:
        """``source:key`` → ``source:pseudonymous key`` of every record kept anonymised."""
        return {f"{r.source}:{r.key}": f"{r.source}:{r.new_key}" for r in self.plan.records if r.new_key}

    @property
    def actions(self) -> dict[str, str]:
        """The plan's suppression digests → what a sync does with a record that matches one."""
        return dict.fromkeys(self.plan.digests, ANONYMISE if self.plan.scope == "person" else DROP)

    def records(self, action: str) -> list[RecordChange]:
        return [r for r in self.plan.records if r.action == action]


Step = Callable[[Apply], None]


# -- staging -------------------------------------------------------------------------------------


def read_suppression(ctx: Apply) -> None:
    """The list as it stands: the subject's records are anonymised against all of it, as a
    later sync will anonymise them on arrival."""
    ctx.known = db.suppression_digests(ctx.conn)


def delete_staged(ctx: Apply) -> None:
    """The subject's records deleted from staging (customer scope)."""
    for r in ctx.records("delete"):
        write.delete_staged(ctx.conn, r.source, r.key)


def anonymise_staged(ctx: Apply) -> None:
    """The subject's records kept anonymised under their pseudonymous keys (person scope)."""
    p = ctx.plan
    suppressed = frozenset(ctx.known | set(ctx.actions))
    for r in ctx.records("anonymise"):
        if (r.source, r.key) not in p.payloads:
            continue
        src = ctx.product.sources[r.source]
        body = anonymise_payload(src, p.payloads[(r.source, r.key)], ctx.keys, suppressed, r.new_key or "")
        write.rewrite_staged(ctx.conn, r.source, r.key, body, new_key=r.new_key)


def relink_children(ctx: Apply) -> None:
    """Children keep their facts but point at the parent's pseudonymous key (and lose the
    subject's email or phone from their text, as every other record does)."""
    p = ctx.plan
    new_keys = {(r.source, r.key): r.new_key for r in p.records if r.new_key}
    for r in ctx.records("relink"):
        src = ctx.product.sources[r.source]
        assert src.belongs_to is not None
        path = src.column_path(src.belongs_to.column)
        body = copy.deepcopy(p.scrubbed.get((r.source, r.key)) or p.payloads[(r.source, r.key)])
        ref = str(get_path(body, path))
        set_path(body, path, new_keys.get((src.belongs_to.source, ref), ref))
        write.rewrite_staged(ctx.conn, r.source, r.key, body)


def rewrite_scrubbed(ctx: Apply) -> None:
    """Everyone else's records that named the subject's email or phone in their text."""
    relinked = {(r.source, r.key) for r in ctx.records("relink")}
    for (s, k), body in sorted(ctx.plan.scrubbed.items()):
        if (s, k) not in relinked:
            write.rewrite_staged(ctx.conn, s, k, body)


# -- identity map --------------------------------------------------------------------------------


def forget_customers(ctx: Apply) -> None:
    """The customers' identity map rows go and the customers are marked erased (customer scope)."""
    if not ctx.customer_scope:
        return
    p = ctx.plan
    for cid in p.removed:
        write.forget_customer_map(ctx.conn, cid)
    for r in ctx.records("delete"):
        write.delete_map_row(ctx.conn, r.source, r.key)
    if p.removed:
        write.mark_erased(ctx.conn, p.removed)


def rekey_map(ctx: Apply) -> None:
    """The person's identity map rows re-keyed to their pseudonymous keys (person scope)."""
    if ctx.customer_scope:
        return
    for r in ctx.plan.records:
        if r.new_key:
            write.rekey_map_row(ctx.conn, r.source, r.key, r.new_key)


def scrub_evidence(ctx: Apply) -> None:
    """Match evidence of the affected customers: renamed keys rewritten, identifiers masked."""
    low_ids, renames = ctx.low_ids, ctx.renames
    for cid in ctx.plan.customers:
        for s, k, ev in db.map_evidence(ctx.conn, cid):
            scrubbed = jsonutil.dumps(_scrub(jsonutil.loads(ev), low_ids, renames)).decode()
            if scrubbed != ev:
                write.set_map_evidence(ctx.conn, s, k, scrubbed)


def drop_pins_and_reviews(ctx: Apply) -> None:
    """Steward pins and review pairs name source records: the subject's go with them."""
    write.delete_pins_and_reviews(ctx.conn, sorted({f"{r.source}:{r.key}" for r in ctx.plan.records}))


# -- snapshots -----------------------------------------------------------------------------------


def remove_from_snapshots(ctx: Apply) -> None:
    """Every snapshot version kept loses the customers' records, and its earlier-major views
    theirs (customer scope); the newest record is kept for the retained facts."""
    if not ctx.customer_scope:
        return
    for v in sorted(ctx.plan.snapshot_rows, reverse=True):
        ids = ctx.plan.snapshot_rows[v]
        rows = write.snapshot_records_in(ctx.conn, v, ids)
        # The version's earlier-major views hold the same customers in an older shape.
        views = write.snapshot_views_in(ctx.conn, v, ids)
        if ctx.retained_from is None and rows:
            ctx.retained_from = jsonutil.loads(rows[0][1])
        write.remove_snapshot_customers(ctx.conn, v, ids, len(rows))
        for major in sorted({m for m, _, _ in views}):
            n_gone = sum(1 for m, _, _ in views if m == major)
            write.remove_view_customers(ctx.conn, v, major, ids, n_gone)


def _clear_record(product: ProductSpec, record: dict[str, Any], p: Plan, low_ids: list[str]) -> dict[str, Any]:
    out = dict(record)
    er = product.erasure
    for name, value in record.items():
        if name == "customer_id" or name in er.retain:
            continue
        action = p.fields.get(name)
        holds = _scrub(value, low_ids, {}) != value
        if action == "deleted" or holds:
            out[name] = _label(p.subject) if name in er.anonymise else None
    return out


def clear_in_snapshots(ctx: Apply) -> None:
    """Every snapshot version kept: the person's data cleared from the account's record, and
    from its earlier-major views, whose field names may differ (person scope)."""
    if ctx.customer_scope:
        return
    p, low_ids = ctx.plan, ctx.low_ids
    for v in sorted(p.snapshot_rows, reverse=True):
        ids = p.snapshot_rows[v]
        rows = write.snapshot_records_in(ctx.conn, v, ids)
        views = write.snapshot_views_in(ctx.conn, v, ids)
        for cid, data in rows:
            record = jsonutil.loads(data)
            cleared = _clear_record(ctx.product, record, p, low_ids)
            if cleared != record:
                write.set_snapshot_record(ctx.conn, v, cid, cleared)
        for major, cid, data in views:
            record = jsonutil.loads(data)
            cleared = _clear_record(ctx.product, record, p, low_ids)
            if cleared != record:
                write.set_view_record(ctx.conn, v, major, cid, cleared)


def keep_retained_facts(ctx: Apply) -> None:
    """The facts the spec retains, kept apart under the pseudonym with their legal basis, and
    the anonymised ones under the erased label (customer scope)."""
    record = ctx.retained_from
    if not ctx.customer_scope or record is None:
        return
    p, er = ctx.plan, ctx.product.erasure

    def fact(name: str, value: Any, basis: str) -> dict[str, Any]:
        return {
            "erasure_id": p.erasure_id,
            "subject": p.subject,
            "field": name,
            "value": jsonutil.dumps(value).decode(),
            "basis": basis,
        }

    facts = [fact(f, record.get(f), basis) for f, basis in er.retain.items() if f in record]
    facts += [fact(f, _label(p.subject), "anonymised") for f in er.anonymise if f in record and f not in er.retain]
    write.add_retained(ctx.conn, facts)


def note_snapshot_edits(ctx: Apply) -> None:
    """Running servers re-read these customers of the snapshot they serve (see c360.api.state)."""
    write.note_edits(ctx.conn, ctx.plan.snapshot_rows, ctx.now)


# -- the rest ------------------------------------------------------------------------------------


def delete_quarantined(ctx: Apply) -> None:
    write.delete_quarantined(ctx.conn, ctx.plan.quarantine_ids)


def add_suppression(ctx: Apply) -> None:
    """The keyed hashes of the subject's identifiers not on the list yet."""
    p = ctx.plan
    fresh = {d: (p.digests[d], a) for d, a in ctx.actions.items() if d not in ctx.known}
    write.add_suppression(ctx.conn, fresh, erasure_id=p.erasure_id, at=ctx.now)


def record_request(ctx: Apply) -> None:
    """The request with its report: counts, fields and systems, no identifiers."""
    p = ctx.plan
    write.record_request(
        ctx.conn,
        erasure_id=p.erasure_id,
        requested_at=ctx.now,
        actor=ctx.actor,
        scope=p.scope,
        subject=p.subject,
        reason=ctx.reason,
        report=jsonutil.dumps(p.summary()).decode(),
    )


def queue_outbox(ctx: Apply) -> None:
    """The erasure event for each consumer's webhook, delivered once this commits."""
    p = ctx.plan
    event = jsonutil.dumps(
        {
            "event": "erasure",
            "erasure_id": p.erasure_id,
            "subject": p.subject,
            "scope": p.scope,
            "customer_ids": p.removed if ctx.customer_scope else [],
            "product": ctx.product.product,
            "requested_at": ctx.now.isoformat(),
        }
    ).decode()
    consumers = ctx.product.consumers
    events = [outbox.Event(p.erasure_id, c, consumers[c].webhook or "", event) for c in p.consumers]
    outbox.queue(ctx.conn, events, at=ctx.now)


def write_audit_row(ctx: Apply) -> None:
    """The audit row, appended to the hash chain whose lock this transaction holds."""
    summary = ctx.plan.summary()
    detail = {**{k: summary[k] for k in AUDITED}, "reason_sha256": hashlib.sha256(ctx.reason.encode()).hexdigest()}
    audit.append(ctx.conn, "erasure", ctx.actor, ctx.plan.subject, detail)


APPLY_STEPS: tuple[Step, ...] = (
    read_suppression,
    delete_staged,
    anonymise_staged,
    relink_children,
    rewrite_scrubbed,
    forget_customers,
    rekey_map,
    scrub_evidence,
    drop_pins_and_reviews,
    remove_from_snapshots,
    clear_in_snapshots,
    keep_retained_facts,
    note_snapshot_edits,
    delete_quarantined,
    add_suppression,
    record_request,
    queue_outbox,
    write_audit_row,
)

# The step after which the hook is called, and with which name (see erasure.STEPS).
CHECKPOINTS: dict[Step, str] = {
    anonymise_staged: "staging",
    relink_children: "children",
    rewrite_scrubbed: "scrub",
    drop_pins_and_reviews: "identity",
    note_snapshot_edits: "snapshots",
    delete_quarantined: "quarantine",
    add_suppression: "suppression",
    record_request: "request",
    queue_outbox: "outbox",
    write_audit_row: "audit",
}


def apply(conn: Connection, product: ProductSpec, p: Plan, keys: Keys, *, actor: str, reason: str, hook: Hook) -> None:
    """Make every change of plan ``p`` on ``conn``, inside the caller's transaction."""
    ctx = Apply(conn, product, p, keys, actor, reason, hook, utcnow())
    for step in APPLY_STEPS:
        step(ctx)
        name = CHECKPOINTS.get(step)
        if name is not None:
            ctx.hook(name)
