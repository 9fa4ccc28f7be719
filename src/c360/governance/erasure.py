"""GDPR erasure: plan what to change, then change all of it in one store transaction, or none.

One :func:`erase` call, inside one transaction that first takes the audit chain's
lock: find every record of the data subject (identity map, source keys, email
addresses), then delete or anonymise them in staging, the identity map and every
snapshot version kept; scrub the subject's email addresses and phone numbers from
the free text of everyone else's staged records; keep the facts the spec retains
under a pseudonym with their legal basis; add keyed hashes of the identifiers to the
suppression list; queue the erasure event for each consumer's webhook; append the
audit row.

At ``grain: person``, and for ``--customer`` at any grain, the customer goes. At
``grain: account`` a person found by email or source key is removed from the
account's record: their records stay counted, anonymised under pseudonymous keys.

A dry run (:func:`dry_run`) changes nothing but is audited: it tells whoever asks whether
a person is in the store, so it leaves the same trace a read does.

The work is split: the types are in :mod:`c360.governance.erasure_model`, the planning
steps in :mod:`c360.governance.erasure_plan`, the applying steps in
:mod:`c360.governance.erasure_steps`, and every statement they run is a repository
function of :mod:`c360.store.erasure` and its siblings, on this module's one connection.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Connection

from c360.core import jsonutil
from c360.core.errors import C360Error, StoreError
from c360.governance import audit
from c360.governance.erasure_model import STEPS, Hook, Plan, RecordChange, Result, SubjectNotFound, SubjectRef
from c360.governance.erasure_plan import _find_by_email, plan
from c360.governance.erasure_steps import apply
from c360.governance.suppression import keys_for
from c360.spec.validate import Spec
from c360.store import Store
from c360.store import erasure as db
from c360.store import erasure_outbox as outbox

__all__ = [
    "STEPS",
    "ErasureRow",
    "Hook",
    "Plan",
    "RecordChange",
    "Result",
    "Shown",
    "SubjectNotFound",
    "SubjectRef",
    "_find_by_email",
    "dry_run",
    "erase",
    "plan",
    "record_publish",
    "requests",
]


def erase(
    store: Store,
    spec: Spec,
    who: SubjectRef,
    *,
    reason: str,
    actor: str | None = None,
    dry_run: bool = False,
    hook: Hook | None = None,
    compact: bool = False,
) -> Result:
    """Erase the subject in one transaction (or, with ``dry_run``, only plan it).

    ``dry_run`` here plans and records nothing: it is for code that holds the store anyway.
    What answers a person (the API, the CLI) calls :func:`dry_run`, which is audited.
    """
    if not reason.strip():
        raise C360Error("an erasure needs a reason (e.g. 'Art. 17 request, ticket 4711')")
    step = hook or (lambda _: None)
    who_acts = actor or audit.actor_of()
    if dry_run:
        with store.engine.connect() as conn:
            return Result(plan(conn, spec, who), committed=False)
    try:
        p = _erase(store, spec, who, reason=reason, actor=who_acts, step=step)
    except SubjectNotFound:
        # Asking to erase someone absent says they are absent: audited as a look-up is.
        audit.record(
            store,
            "erasure_not_found",
            who_acts,
            keys_for(store).pseudonym(who.primary),
            {"selector": _selector(who), "reason_sha256": hashlib.sha256(reason.encode()).hexdigest()},
        )
        raise
    result = Result(p, committed=True)
    if store.dialect == "sqlite":
        result.wal_checkpointed = _checkpoint(store)
        if compact:
            result.compacted = _vacuum(store)
    return result


def _selector(who: SubjectRef) -> str:
    return "customer" if who.customer_id is not None else "email" if who.email else "key"


def _erase(store: Store, spec: Spec, who: SubjectRef, *, reason: str, actor: str, step: Hook) -> Plan:
    """The erasure's one transaction; raises :class:`SubjectNotFound` with nothing changed."""
    with store.engine.begin() as conn:
        db.secure_delete(conn)  # freed pages zeroed (SQLite)
        # Lock first: erasures, builds' publishes and audit writers queue behind this one.
        audit.lock(conn)
        step("locked")
        keys = keys_for(conn)
        p = plan(conn, spec, who, keys=keys)
        apply(conn, spec.model, p, keys, actor=actor, reason=reason, hook=step)
        step("commit")
    return p


Shown = Literal["plan", "counts"]


def dry_run(
    store: Store, spec: Spec, who: SubjectRef, *, reason: str, actor: str | None = None, shown: Shown = "plan"
) -> Result:
    """Plan an erasure, change nothing, and audit that it was asked for, found or not.

    A dry run answers whether a person is in the store, so the audit row says who asked,
    when, for which subject (its pseudonym, the keyed hash an erasure of the same selector
    would record), whether anyone was found, and what the caller was shown (``plan``: every
    record; ``counts``: :meth:`Plan.tally`). The row is written before the answer is given:
    if it cannot be, there is no answer. A subject that is not found raises
    :class:`SubjectNotFound` after its row is written.
    """
    if not reason.strip():
        raise C360Error("an erasure needs a reason (e.g. 'Art. 17 request, ticket 4711')")
    who.check(spec.model)  # a malformed request looks nothing up, so there is nothing to audit
    keys = keys_for(store)
    found: Plan | None = None
    missing: SubjectNotFound | None = None
    with store.engine.connect() as conn:
        try:
            found = plan(conn, spec, who, keys=keys)
        except SubjectNotFound as exc:
            missing = exc
    detail: dict[str, Any] = {
        "selector": _selector(who),
        **({"source": who.source} if who.source is not None else {}),
        "found": found is not None,
        "shown": shown,
        **(found.tally() if found is not None else {}),
        "reason_sha256": hashlib.sha256(reason.encode()).hexdigest(),
    }
    audit.record(store, "erasure_dry_run", actor or audit.actor_of(), keys.pseudonym(who.primary), detail)
    if missing is not None:
        raise missing
    assert found is not None
    return Result(found, committed=False)


def _checkpoint(store: Store) -> bool:
    """Move the WAL into the database and truncate it, so old page images do not linger."""
    return db.checkpoint_wal(store.engine)


def _vacuum(store: Store) -> bool:
    """Rebuild the SQLite file so no freed page keeps old bytes; skipped when readers hold it."""
    return db.vacuum(store.engine)


# -- requests and builds -------------------------------------------------------------------------


@dataclass(frozen=True)
class ErasureRow:
    erasure_id: str
    requested_at: dt.datetime
    actor: str
    scope: str
    subject: str
    report: dict[str, Any]
    deliveries: dict[str, str]  # consumer → state (with attempts)


def requests(store: Store) -> list[ErasureRow]:
    """Every erasure, newest first, with the delivery state per consumer."""
    with store.engine.connect() as conn:
        states: dict[str, dict[str, str]] = {}
        for d in outbox.delivery_states(conn):
            shown = (
                d.state
                if d.state == "delivered"
                else f"{d.state} ({d.attempts} attempt(s){'; ' + d.last_error if d.last_error else ''})"
            )
            states.setdefault(d.erasure_id, {})[d.consumer] = shown
        rows = db.erasure_requests(conn)
    return [
        ErasureRow(
            r.erasure_id,
            r.requested_at if r.requested_at.tzinfo else r.requested_at.replace(tzinfo=dt.UTC),
            r.actor,
            r.scope,
            r.subject,
            jsonutil.loads(r.report),
            states.get(r.erasure_id, {}),
        )
        for r in rows
    ]


def record_publish(
    conn: Connection, *, run_id: str, version: int, customers: int | None = None, actor: str | None = None
) -> None:
    """Audit a publish, inside its transaction; refuse it if an erasure committed during the build.

    The build read staging before that erasure, so its snapshot and identity map could
    bring the subject back: the publish rolls back and the next build starts clean.
    """
    audit.append(
        conn, "publish", actor or audit.actor_of(), None, {"run_id": run_id, "version": version, "customers": customers}
    )
    started = db.run_started_at(conn, run_id)
    if started is None:
        return
    later = db.erasure_since(conn, started)
    if later is not None:
        raise StoreError(
            f"erasure {later} was committed while this build ran; build again so the published snapshot reflects it"
        )
