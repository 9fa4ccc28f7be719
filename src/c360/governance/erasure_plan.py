"""Planning a GDPR erasure: find every record of the subject and decide what happens to each.

:func:`plan` runs :data:`PLAN_STEPS` in order over one :class:`Search`, each step a small
function that reads through the store's repository functions (:mod:`c360.store.erasure`)
and adds to what the search knows; nothing is written. The last step's result is turned
into the :class:`~c360.governance.erasure_model.Plan` that
:mod:`c360.governance.erasure_steps` applies.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from c360.core import jsonutil
from c360.core.records import get_path
from c360.governance.erasure_model import Plan, RecordChange, SubjectNotFound, SubjectRef
from c360.governance.lineage import field_lineage
from c360.governance.suppression import (
    PHONE_SEPARATORS,
    Keys,
    email_paths,
    identifying_value,
    identity_paths,
    keys_for,
    mask_free_text,
    normalise_email,
    person_ids,
    person_paths,
    phone_digits,
    phone_paths,
)
from c360.spec.models import ProductSpec
from c360.spec.validate import Spec
from c360.store import erasure as db

Pair = tuple[str, str]  # (source, key) of a staged record
Records = dict[Pair, dict[str, Any]]

# Rounds of records → emails → more records → their customers → ... before the search stops.
ROUNDS = 4


@dataclass
class Search:
    """What the planning steps know so far about one subject."""

    conn: Connection
    product: ProductSpec
    who: SubjectRef
    keys: Keys
    free_text: bool
    scope: str  # customer | person
    searched: set[str]  # normalised emails looked for so far
    matched: Records = field(default_factory=dict)  # the subject's own records (payload, or {} if only mapped)
    cids: set[str] = field(default_factory=set)  # the customers that go (customer scope)
    owners: dict[Pair, str] = field(default_factory=dict)  # record → its customer
    children: Records = field(default_factory=dict)  # child-source records pointing at a matched one
    changes: list[RecordChange] = field(default_factory=list)
    identifiers: set[str] = field(default_factory=set)
    phones: set[str] = field(default_factory=set)
    digests: dict[str, str] = field(default_factory=dict)
    scrubbed: Records = field(default_factory=dict)
    snapshot_rows: dict[int, list[str]] = field(default_factory=dict)
    quarantine_ids: list[int] = field(default_factory=list)

    @property
    def affected(self) -> list[str]:
        """Every customer the erasure touches: those that go and those whose records change."""
        return sorted(self.cids | set(self.owners.values()))

    @property
    def subject_sources(self) -> set[str]:
        return {s for (s, _) in self.matched}


Step = Callable[[Search], None]


# -- finding the subject ------------------------------------------------------------------------


def _find_by_email(conn: Connection, product: ProductSpec, emails: set[str]) -> Records:
    """Staged records with one of ``emails`` (normalised) in an email path of their source."""
    found: Records = {}
    for name, src in product.sources.items():
        paths = email_paths(src)
        if not paths:
            continue
        for key, data in db.staged_containing(conn, name, emails):
            for path in paths:
                v = get_path(data, path)
                if isinstance(v, str) and normalise_email(v) in emails:
                    found[(name, key)] = data
                    break
    return found


def _emails_in(product: ProductSpec, records: Mapping[Pair, Mapping[str, Any]]) -> set[str]:
    out = set()
    for (s, _), data in records.items():
        for path in email_paths(product.sources[s]):
            v = get_path(data, path)
            if isinstance(v, str) and "@" in v:
                out.add(normalise_email(v))
    return out


def find_subject(ctx: Search) -> None:
    """The records the request names: a customer's mapped records, an email's, or one source record."""
    who, conn = ctx.who, ctx.conn
    if who.customer_id is not None:
        cid = db.surviving_customer(conn, who.customer_id)
        if cid is None:
            raise SubjectNotFound(f"no customer '{who.customer_id}' in the store")
        ctx.cids.add(cid)
        ctx.matched.update(db.staged_payloads(conn, db.mapped_records(conn, cid)))
    elif who.email is not None:
        ctx.matched.update(_find_by_email(conn, ctx.product, {normalise_email(who.email)}))
    else:
        assert who.source is not None and who.key is not None
        ctx.matched.update(db.staged_payloads(conn, [(who.source, who.key)]))
        if not ctx.matched and not db.map_owners(conn, [(who.source, who.key)]):
            raise SubjectNotFound(f"no record '{who.key}' of source '{who.source}' in the store")


def _widen(ctx: Search) -> bool:
    """One round of the search: the emails found, their records, and (customer scope) every
    record of their customers. False when nothing more can be found."""
    conn = ctx.conn
    emails = _emails_in(ctx.product, ctx.matched) | ctx.searched
    if emails - ctx.searched:
        ctx.matched.update(_find_by_email(conn, ctx.product, emails - ctx.searched))
        ctx.searched |= emails
    ctx.owners.update(db.map_owners(conn, [p for p in ctx.matched if p not in ctx.owners]))
    if ctx.scope != "customer" or ctx.cids >= set(ctx.owners.values()):
        return False
    ctx.cids |= set(ctx.owners.values())
    for cid in sorted(ctx.cids):
        more = [p for p in db.mapped_records(conn, cid) if p not in ctx.matched]
        ctx.matched.update(db.staged_payloads(conn, more))
        ctx.owners.update({p: cid for p in more})
        for p in more:  # mapped but no longer staged: still deleted from the map
            ctx.matched.setdefault(p, {})
    return True


def follow_links(ctx: Search) -> None:
    """To a fixed point: records → emails → more records → their customers → ..."""
    for _ in range(ROUNDS):
        if not _widen(ctx):
            break
    if not ctx.matched and not ctx.cids:
        raise SubjectNotFound("no record of this subject in the store (nothing to erase)")


def find_children(ctx: Search) -> None:
    """Records of child sources that point at a subject record (invoices of a billing customer)."""
    for name, src in ctx.product.sources.items():
        if src.belongs_to is None:
            continue
        parents = {k for (s, k) in ctx.matched if s == src.belongs_to.source}
        if not parents:
            continue
        path = src.column_path(src.belongs_to.column)
        for key, data in db.staged_containing(ctx.conn, name, parents):
            ref = get_path(data, path)
            if ref is not None and str(ref) in parents and (name, key) not in ctx.matched:
                ctx.children[(name, key)] = data
    ctx.owners.update(db.map_owners(ctx.conn, [p for p in ctx.children if p not in ctx.owners]))


# -- deciding -----------------------------------------------------------------------------------


def decide_changes(ctx: Search) -> None:
    """Each record deleted (customer scope) or anonymised under its pseudonymous key; children
    deleted with their parent, or relinked to its pseudonymous key."""
    for s, k in sorted(ctx.matched):
        if ctx.scope == "customer":
            ctx.changes.append(RecordChange(s, k, "delete", ctx.owners.get((s, k))))
        else:
            ctx.changes.append(RecordChange(s, k, "anonymise", ctx.owners.get((s, k)), ctx.keys.pseudonym_key(s, k)))
    for s, k in sorted(ctx.children):
        action = "delete" if ctx.scope == "customer" else "relink"
        ctx.changes.append(RecordChange(s, k, action, ctx.owners.get((s, k))))


def _identifiers(
    product: ProductSpec, matched: Mapping[Pair, Mapping[str, Any]], emails: set[str], scope: str
) -> set[str]:
    """The subject's identifying strings: emails, names, phones, their records' source keys, and
    the ids other systems gave the person beside their data (a support desk's requester id)."""
    out = set(emails)
    for (s, k), data in matched.items():
        src = product.sources[s]
        if len(k) >= 6 and not k.isdigit():  # short numeric keys would match unrelated values
            out.add(k)
        out |= person_ids(src, data)
        paths = set(person_paths(src))
        if scope == "customer" and product.grain == "person":
            paths |= {src.column_path(c) for c in src.identity_of("name")}
        for path in paths:
            v = get_path(data, path)
            if isinstance(v, str | int) and not isinstance(v, bool) and str(v).strip():
                out.add(str(v).strip())
    return {x for x in out if len(x) >= 3}


def _phones_in(product: ProductSpec, records: Mapping[Pair, Mapping[str, Any]]) -> set[str]:
    """The subject's phone numbers, as digits (see :func:`phone_digits`)."""
    out = set()
    for (s, _), data in records.items():
        for path in phone_paths(product.sources[s]):
            v = get_path(data, path)
            if isinstance(v, str | int) and not isinstance(v, bool):
                digits = phone_digits(str(v))
                if len(digits) >= 7:
                    out.add(digits)
    return out


def collect_identifiers(ctx: Search) -> None:
    """The subject's identifying strings and phone numbers, from their own records."""
    ctx.identifiers = _identifiers(ctx.product, ctx.matched, ctx.searched, ctx.scope)
    ctx.phones = _phones_in(ctx.product, ctx.matched)


def _digests(
    keys: Keys,
    changes: Iterable[RecordChange],
    emails: Iterable[str],
    phones: Iterable[str],
    identifiers: Iterable[str],
) -> dict[str, str]:
    """The suppression entries of this erasure: keyed hash → kind.

    Keys and emails decide which arriving records are the subject's; phones and values
    (ids, names, keys, emails compared whole) decide what is masked in them and, for
    emails and phones, in everyone else's records, as this erasure masked them.
    """
    out: dict[str, str] = {}
    for x in identifiers:
        v = identifying_value(x)
        if v is not None:
            out[keys.value_digest(v)] = "value"
    for r in changes:
        if r.action != "relink":
            out[keys.key_digest(r.source, r.key)] = "key"
            v = identifying_value(r.key)
            if v is not None:
                out[keys.value_digest(v)] = "value"
    for phone in phones:
        out.update(dict.fromkeys(keys.phone_digests(phone), "phone"))
    for e in emails:
        if e:
            out[keys.email_digest(e)] = "email"
    return out


def collect_digests(ctx: Search) -> None:
    """The keyed hashes the suppression list gets, so no later sync brings the subject back."""
    ctx.digests = _digests(ctx.keys, ctx.changes, ctx.searched, ctx.phones, ctx.identifiers)


def _scrub_others(
    conn: Connection, product: ProductSpec, keys: Keys, emails: set[str], phones: set[str], handled: set[Pair]
) -> Records:
    """Everyone else's staged records whose text holds the subject's email or phone, scrubbed.

    Cost: one query per source, each a sequential scan of that source's staged payloads
    inside the database (``LIKE '%...%'`` can use no index), with one LIKE per email and
    per phone OR'ed together; a phone is looked for by its last 7 digits in the payload
    with the separators stripped, so every written form of it is found. Only the rows a
    needle matches are decoded and walked in Python. An erasure therefore reads all of
    staging once in SQL and decodes a handful of rows: measured on 200,000 staged records
    (77 MB of payload, in cache, 2 cores), 0.8 s on SQLite and 2.5 s on PostgreSQL 15. It
    runs inside the erasure's transaction, holding the audit chain's lock that long.
    """
    mails = sorted({e.lower() for e in emails if e})
    tails = sorted({p[-7:] for p in phones})
    if not mails and not tails:
        return {}
    digests = frozenset({keys.email_digest(e) for e in mails} | {d for p in phones for d in keys.phone_digests(p)})
    keep = {name: identity_paths(src) for name, src in product.sources.items()}
    out: Records = {}
    for name, key, raw in db.staged_with_text(conn, product.sources, mails, tails, PHONE_SEPARATORS):
        if (name, key) in handled:
            continue
        data = jsonutil.loads(raw)
        masked = mask_free_text(data, keys, digests, keep[name])
        if masked is not data:
            out[(name, key)] = masked
    return out


def scrub_others(ctx: Search) -> None:
    """Everyone else's records that name the subject's email or phone, as they will be kept."""
    if not ctx.free_text:
        return
    handled = {(r.source, r.key) for r in ctx.changes if r.action != "relink"}
    ctx.scrubbed = _scrub_others(ctx.conn, ctx.product, ctx.keys, ctx.searched, ctx.phones, handled)


def find_snapshot_rows(ctx: Search) -> None:
    """Which customers each snapshot version kept holds."""
    ctx.snapshot_rows = db.snapshot_rows_of(ctx.conn, ctx.affected)


def find_quarantined(ctx: Search) -> None:
    """Quarantined rows whose raw text or location names one of the subject's identifiers."""
    lowered = [x.lower() for x in ctx.identifiers if len(x) >= 5]
    ctx.quarantine_ids = [
        i for i, raw, loc in db.quarantine_texts(ctx.conn) if any(x in f"{raw}\n{loc}".lower() for x in lowered)
    ]


def _field_actions(product: ProductSpec, scope: str, subject_sources: set[str]) -> dict[str, str]:
    er = product.erasure
    out: dict[str, str] = {}
    for name in product.fields:
        if scope == "customer":
            if name in er.retain:
                out[name] = f"retained under the pseudonym ({er.retain[name]})"
            elif name in er.anonymise:
                out[name] = "anonymised"
            else:
                out[name] = "deleted"
            continue
        feeds = {ref["source"] for ref in field_lineage(product, name)}
        if name in er.retain:
            out[name] = f"kept ({er.retain[name]})"
        elif name in er.delete and feeds & subject_sources:
            out[name] = "deleted"
        elif feeds & subject_sources:
            out[name] = "kept; cleared where it holds the subject's data"
    return out


PLAN_STEPS: tuple[Step, ...] = (
    find_subject,
    follow_links,
    find_children,
    decide_changes,
    collect_identifiers,
    collect_digests,
    scrub_others,
    find_snapshot_rows,
    find_quarantined,
)


def _to_plan(ctx: Search) -> Plan:
    product = ctx.product
    subject_sources = ctx.subject_sources
    return Plan(
        erasure_id="er_" + secrets.token_hex(8),
        subject=ctx.keys.pseudonym(ctx.who.primary),
        scope=ctx.scope,
        grain=product.grain,
        customers=ctx.affected,
        removed=sorted(ctx.cids) if ctx.scope == "customer" else [],
        records=ctx.changes,
        snapshot_rows=ctx.snapshot_rows,
        fields=_field_actions(product, ctx.scope, subject_sources),
        retained=dict(product.erasure.retain) if ctx.scope == "customer" else {},
        quarantine_ids=ctx.quarantine_ids,
        consumers=sorted(c for c, cs in product.consumers.items() if cs.webhook),
        notify_sources=sorted(set(product.erasure.notify_sources) | subject_sources),
        payloads={**ctx.matched, **ctx.children},
        identifiers=frozenset(ctx.identifiers),
        emails=frozenset(ctx.searched - {""}),
        digests=ctx.digests,
        scrubbed=ctx.scrubbed,
    )


def plan(conn: Connection, spec: Spec, who: SubjectRef, *, keys: Keys | None = None, free_text: bool = True) -> Plan:
    """Find every record of the subject and decide what happens to each (no writes).

    ``free_text=False`` skips the search of everyone else's records for the subject's email
    and phone (a scan of all staging, see :func:`_scrub_others`) when only the subject's own
    records are wanted, as for a subject access export.
    """
    product = spec.model
    who.check(product)
    ctx = Search(
        conn=conn,
        product=product,
        who=who,
        keys=keys or keys_for(conn),
        free_text=free_text,
        scope="customer" if who.customer_id is not None or product.grain == "person" else "person",
        searched={normalise_email(who.email)} if who.email else set(),
    )
    for step in PLAN_STEPS:
        step(ctx)
    return _to_plan(ctx)
