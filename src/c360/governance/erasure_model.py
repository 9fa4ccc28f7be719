"""What a GDPR erasure is about and what it changes: the subject, the plan, the result.

The types :mod:`c360.governance.erasure` is used with (re-exported there); the planning
is in :mod:`c360.governance.erasure_plan`, the change in :mod:`c360.governance.erasure_steps`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from c360.core.errors import C360Error, NotFound
from c360.governance.suppression import normalise_email
from c360.spec.models import ProductSpec

# The checkpoints of the erasure transaction, in order: the hook is called with each name
# (after the lock, after the steps of erasure_steps.CHECKPOINTS, before the commit), and a
# test hook may fail at any of them.
STEPS = (
    "locked",
    "staging",
    "children",
    "scrub",
    "identity",
    "snapshots",
    "quarantine",
    "suppression",
    "request",
    "outbox",
    "audit",
    "commit",
)

Hook = Callable[[str], None]


class SubjectNotFound(NotFound):
    """No record of the subject: nothing to erase (the request itself is still audited)."""


@dataclass(frozen=True)
class SubjectRef:
    """Who to erase: a customer id, an email address, or one source record."""

    customer_id: str | None = None
    email: str | None = None
    source: str | None = None
    key: str | None = None

    def check(self, product: ProductSpec) -> None:
        given = sum(x is not None for x in (self.customer_id, self.email, self.source))
        if given != 1 or (self.source is None) != (self.key is None):
            raise C360Error("name the subject by exactly one of: a customer id, an email address, or a source and key")
        if self.source is not None and self.source not in product.sources:
            raise C360Error(f"unknown source '{self.source}' (known: {', '.join(product.sources)})")

    @property
    def primary(self) -> str:
        if self.customer_id:
            return f"customer\x1f{self.customer_id}"
        if self.email:
            return f"email\x1f{normalise_email(self.email)}"
        return f"key\x1f{self.source}\x1f{self.key}"


@dataclass(frozen=True)
class RecordChange:
    source: str
    key: str
    action: str  # delete | anonymise | relink
    customer_id: str | None
    new_key: str | None = None


@dataclass
class Plan:
    """Exactly what an erasure changes. ``describe()`` shows it; nothing here is stored as is."""

    erasure_id: str
    subject: str  # the pseudonym
    scope: str  # customer | person
    grain: str
    customers: list[str]
    removed: list[str]
    records: list[RecordChange]
    snapshot_rows: dict[int, list[str]]  # version → customer ids touched
    fields: dict[str, str]  # field → what happens to it
    retained: dict[str, str]  # field → legal basis
    quarantine_ids: list[int]
    consumers: list[str]
    notify_sources: list[str]
    payloads: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict, repr=False)
    identifiers: frozenset[str] = field(default=frozenset(), repr=False)
    emails: frozenset[str] = field(default=frozenset(), repr=False)
    # Suppression entries to add: keyed hash → kind (key | email | phone | value).
    digests: dict[str, str] = field(default_factory=dict, repr=False)
    # Other people's records whose text named the subject's email or phone, as they are kept.
    scrubbed: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict, repr=False)

    def counts(self) -> dict[str, Any]:
        by: dict[str, int] = {}
        for r in self.records:
            by[r.action] = by.get(r.action, 0) + 1
        return {
            "records": by,
            "customers": len(self.customers),
            "customers_removed": len(self.removed),
            "snapshot_rows": sum(len(v) for v in self.snapshot_rows.values()),
            "snapshot_versions": sorted(self.snapshot_rows),
            "quarantined": len(self.quarantine_ids),
            "suppressed": len(self.digests),
            "scrubbed": len(self.scrubbed),
        }

    def tally(self) -> dict[str, Any]:
        """What a dry run tells a caller who may not see the plan: how many records of each
        source and how many customers; no key, customer id, field or pseudonymous key."""
        by: dict[str, int] = {}
        for r in self.records:
            by[r.source] = by.get(r.source, 0) + 1
        return {"records_by_source": dict(sorted(by.items())), "customers": len(self.customers)}

    def summary(self) -> dict[str, Any]:
        """What is stored and audited: counts, fields and systems; no identifiers."""
        return {
            "erasure_id": self.erasure_id,
            "scope": self.scope,
            "grain": self.grain,
            **self.counts(),
            "fields": self.fields,
            "retained": self.retained,
            "consumers": self.consumers,
            "notify_sources": self.notify_sources,
        }

    def describe(self) -> dict[str, Any]:
        """The full plan for the operator (a dry run): every record and how it changes."""
        return {
            **self.summary(),
            "customer_ids": self.customers,
            "changes": [
                {"source": r.source, "key": r.key, "action": r.action, "customer_id": r.customer_id}
                for r in self.records
            ],
        }


@dataclass
class Result:
    plan: Plan
    committed: bool
    wal_checkpointed: bool | None = None
    compacted: bool = False
