"""The suppression list: keyed hashes of erased identifiers, applied to records as they arrive.

An erasure stores ``HMAC(key, identifier)`` for the subject's source keys and
email addresses, never the identifiers. When a sync lands records, each one is
hashed the same way: a match is dropped (the whole customer was erased) or
anonymised exactly as the erasure anonymised it (a person removed from an
account), so the next sync never resurrects the subject.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select

from c360.connectors.base import Quarantined, Record, get_path
from c360.core import jsonutil
from c360.governance.audit import audit_key
from c360.spec.models import ProductSpec, SourceSpec
from c360.store import Store
from c360.store.schema import suppression

DROP = "drop"
ANONYMISE = "anonymise"
ERASED = "[erased]"
# Identity attributes that describe a person rather than an organisation.
PERSON_ATTRIBUTES = ("email", "person_name", "phone")
_EMAIL = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


@dataclass(frozen=True)
class Keys:
    """The two sub-keys erasure needs: one for suppression hashes, one for pseudonyms."""

    suppress: bytes
    naming: bytes

    def __repr__(self) -> str:
        return "Keys(**********)"

    def digest(self, kind: str, source: str, value: str) -> str:
        return hmac.new(
            self.suppress, f"{kind}\x1f{source}\x1f{value}".encode(), hashlib.sha256
        ).hexdigest()

    def key_digest(self, source: str, key: str) -> str:
        return self.digest("key", source, key)

    def email_digest(self, email: str) -> str:
        return self.digest("email", "", normalise_email(email))

    def pseudonym_key(self, source: str, key: str) -> str:
        """The key an anonymised record is kept under: stable, so re-arrivals land on it."""
        mac = hmac.new(
            self.naming, f"key\x1f{source}\x1f{key}".encode(), hashlib.sha256
        ).hexdigest()
        return "erased_" + mac[:20]

    def pseudonym(self, value: str) -> str:
        """The pseudonymous id of an erasure's subject in the audit log and retained facts."""
        return (
            "p_"
            + hmac.new(self.naming, f"subject\x1f{value}".encode(), hashlib.sha256).hexdigest()[:24]
        )


def keys_for(store_or_conn: Store | Connection) -> Keys:
    key = audit_key(store_or_conn.engine)
    return Keys(key.derive("suppression"), key.derive("pseudonym"))


def normalise_email(value: str) -> str:
    return value.strip().lower()


def email_paths(src: SourceSpec) -> list[str]:
    """Where a source's records carry email addresses: its identity email and PII email columns."""
    cols = [c for a, c in src.identity.items() if a == "email"]
    cols += [
        c for c, spec in src.columns.items() if spec.pii and "email" in c.lower() and c not in cols
    ]
    return [src.column_path(c) for c in cols]


def person_paths(src: SourceSpec) -> list[str]:
    """Every path of a source holding a person's data: PII columns, person identity attributes."""
    cols = {c for c, spec in src.columns.items() if spec.pii}
    cols |= {c for a, c in src.identity.items() if a in PERSON_ATTRIBUTES}
    return sorted({src.column_path(c) for c in cols})


def anonymise_payload(
    src: SourceSpec, data: Mapping[str, Any], keys: Keys, suppressed: set[str], new_key: str
) -> dict[str, Any]:
    """The record without a person's data: PII paths removed, its own key replaced by the
    pseudonymous one, erased emails in free text masked."""
    out = copy.deepcopy(dict(data))
    for path in person_paths(src):
        _remove(out, path)
    set_path(out, src.column_path(src.key), new_key)
    return _mask_emails(out, keys, suppressed)  # type: ignore[no-any-return]


def _remove(data: dict[str, Any], path: str) -> None:
    if path in data:
        del data[path]
        return
    parts = path.split(".")
    node: Any = data
    for part in parts[:-1]:
        node = node.get(part) if isinstance(node, dict) else None
        if node is None:
            return
    if isinstance(node, dict):
        node.pop(parts[-1], None)


def set_path(data: dict[str, Any], path: str, value: Any) -> None:
    if path in data:
        data[path] = value
        return
    parts = path.split(".")
    node: Any = data
    for part in parts[:-1]:
        node = node.get(part) if isinstance(node, dict) else None
        if node is None:
            return
    if isinstance(node, dict) and parts[-1] in node:
        node[parts[-1]] = value


def _mask_emails(value: Any, keys: Keys, suppressed: set[str]) -> Any:
    if isinstance(value, str):
        if "@" not in value:
            return value
        return _EMAIL.sub(
            lambda m: ERASED if keys.email_digest(m.group(0)) in suppressed else m.group(0), value
        )
    if isinstance(value, dict):
        return {k: _mask_emails(v, keys, suppressed) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_emails(v, keys, suppressed) for v in value]
    return value


@dataclass
class Suppressor:
    """Applies the suppression list to arriving records of one product."""

    product: ProductSpec
    keys: Keys
    entries: dict[str, str] = field(default_factory=dict)  # digest → action
    dropped: int = 0
    anonymised: int = 0

    @classmethod
    def load(cls, store: Store, product: ProductSpec) -> Suppressor:
        with store.engine.connect() as conn:
            entries = {
                d: a for d, a in conn.execute(select(suppression.c.digest, suppression.c.action))
            }
        return cls(product, keys_for(store) if entries else Keys(b"", b""), entries)

    def __bool__(self) -> bool:
        return bool(self.entries)

    def admit(self, source: str, records: Sequence[Record]) -> list[Record]:
        """The records to stage: suppressed ones dropped or anonymised, the rest untouched."""
        if not self.entries:
            return list(records)
        src = self.product.sources[source]
        parent = src.belongs_to
        parent_path = src.column_path(parent.column) if parent else None
        emails = email_paths(src)
        out = []
        for rec in records:
            action = self._action(source, rec, emails)
            if action == DROP:
                self.dropped += 1
                continue
            data = rec.data
            if parent is not None and parent_path is not None and not rec.deleted:
                ref = get_path(data, parent_path)
                if ref is not None:
                    parent_action = self.entries.get(self.keys.key_digest(parent.source, str(ref)))
                    if parent_action == DROP:
                        self.dropped += 1
                        continue
                    if parent_action == ANONYMISE:
                        data = copy.deepcopy(data)
                        set_path(
                            data, parent_path, self.keys.pseudonym_key(parent.source, str(ref))
                        )
            if action == ANONYMISE:
                self.anonymised += 1
                key = self.keys.pseudonym_key(source, rec.key)
                body = (
                    {}
                    if rec.deleted
                    else anonymise_payload(src, data, self.keys, set(self.entries), key)
                )
                out.append(Record(key, body, rec.deleted))
            elif data is not rec.data:
                out.append(Record(rec.key, data, rec.deleted))
            else:
                out.append(rec)
        return out

    def scrub_quarantined(self, items: Sequence[Quarantined]) -> list[Quarantined]:
        """Unreadable rows keep their raw text for a person to fix, erased emails masked."""
        if not self.entries:
            return list(items)
        digests = set(self.entries)
        return [
            Quarantined(q.location, q.reason, _mask_emails(q.raw, self.keys, digests))
            for q in items
        ]

    def _action(self, source: str, rec: Record, emails: Iterable[str]) -> str | None:
        action = self.entries.get(self.keys.key_digest(source, rec.key))
        if action is not None or rec.deleted:
            return action
        for path in emails:
            value = get_path(rec.data, path)
            if isinstance(value, str) and "@" in value:
                action = self.entries.get(self.keys.email_digest(value))
                if action is not None:
                    return action
        return None


def is_suppressed(
    store: Store, *, source: str | None = None, key: str | None = None, email: str | None = None
) -> bool:
    """Whether an identifier was erased (by its keyed hash; the identifier is never stored)."""
    keys = keys_for(store)
    digests = []
    if source is not None and key is not None:
        digests.append(keys.key_digest(source, key))
    if email:
        digests.append(keys.email_digest(email))
    if not digests:
        return False
    with store.engine.connect() as conn:
        return (
            conn.execute(
                select(suppression.c.digest).where(suppression.c.digest.in_(digests))
            ).first()
            is not None
        )


def content_hash(data: Mapping[str, Any]) -> str:
    return jsonutil.content_hash(data)
