"""The suppression list: keyed hashes of erased identifiers, applied to records as they arrive.

An erasure stores ``HMAC(key, identifier)`` for the subject's source keys, email
addresses, phone numbers and other identifying values, never the identifiers. When
a sync lands records, each one is hashed the same way: a match is dropped (the whole
customer was erased) or anonymised exactly as the erasure anonymised it (a person
removed from an account), so the next sync never resurrects the subject. Every other
arriving record has the erased emails and phones masked in its text, as the erasure
scrubbed them from the records it kept, so a re-sync does not write them back either.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from c360.core import jsonutil
from c360.core.records import Quarantined, Record, get_path
from c360.governance.audit import audit_key
from c360.spec.models import ProductSpec, SourceSpec
from c360.store import Store
from c360.store import erasure as db

DROP = "drop"
ANONYMISE = "anonymise"
ERASED = "[erased]"
# Identity attributes that describe a person rather than an organisation.
PERSON_ATTRIBUTES = ("email", "person_name", "first_name", "last_name", "phone", "dob")
_EMAIL = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
# A phone as people write it: digits in groups separated by spaces, dots, dashes, slashes or
# parentheses, perhaps after a "+". Exactly these separators, so the erasure's SQL pre-filter
# (which strips them, see PHONE_SEPARATORS) never misses a number this finds.
# It neither starts nor ends inside a longer run of digits and separators (2025-02-19T06:00).
_PHONE = re.compile(r"(?<![\w+])(?<!\d[-./])(?:\+|\(\+?)?\d[\d ()./-]{5,24}\d(?!\w|[-./]\d)")
PHONE_SEPARATORS = " ()./-+"
_DIGITS = re.compile(r"\d+")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# A number shorter than this is compared only whole (a local number matches too much).
_PHONE_SUFFIX_MIN = 8
_PHONE_MIN = 7
_PHONE_MAX = 16
# Keys naming an id: ``id``, ``user_id``, ``externalId``, ``requesterID``.
_ID_KEY = re.compile(r"(?:^|_)id$|[a-z0-9]Id$|ID$", re.IGNORECASE)


@dataclass(frozen=True)
class Keys:
    """The two sub-keys erasure needs: one for suppression hashes, one for pseudonyms."""

    suppress: bytes
    naming: bytes
    # Keyed once and copied per hash: a sync hashes candidate emails and phones of every record.
    _base: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_base", hmac.new(self.suppress, digestmod=hashlib.sha256))

    def __repr__(self) -> str:
        return "Keys(**********)"

    def digest(self, kind: str, source: str, value: str) -> str:
        h = self._base.copy()
        h.update(f"{kind}\x1f{source}\x1f{value}".encode())
        return str(h.hexdigest())

    def key_digest(self, source: str, key: str) -> str:
        return self.digest("key", source, key)

    def email_digest(self, email: str) -> str:
        return self.digest("email", "", normalise_email(email))

    def value_digest(self, value: str) -> str:
        """An identifying value (an id, a name) as :func:`identifying_value` writes it."""
        return self.digest("value", "", value)

    def phone_digests(self, phone: str) -> set[str]:
        """What a phone number is stored as: its digits, and each ending of them that drops a
        country code, so :func:`mask_free_text` finds it written with or without one."""
        digits = phone_digits(phone)
        if len(digits) < _PHONE_MIN:
            return set()
        out = {self.digest("phone", "", digits)}
        for cut in (1, 2, 3):
            rest = digits[cut:]
            if len(rest) >= _PHONE_SUFFIX_MIN and not rest.startswith("0"):
                out.add(self.digest("phone", "short", rest))
        return out

    def phone_erased(self, digits: str, suppressed: set[str] | frozenset[str]) -> bool:
        """Whether ``digits`` (leading zeros dropped) is an erased number: the same digits, the
        erased number without its country code, or the erased number with one (1-3 digits)."""
        if self.digest("phone", "", digits) in suppressed:
            return True
        if len(digits) >= _PHONE_SUFFIX_MIN and self.digest("phone", "short", digits) in suppressed:
            return True
        for cut in (1, 2, 3):
            rest = digits[cut:]
            if (
                len(rest) >= _PHONE_SUFFIX_MIN
                and not rest.startswith("0")
                and (self.digest("phone", "", rest) in suppressed)
            ):
                return True
        return False

    def pseudonym_key(self, source: str, key: str) -> str:
        """The key an anonymised record is kept under: stable, so re-arrivals land on it."""
        mac = hmac.new(self.naming, f"key\x1f{source}\x1f{key}".encode(), hashlib.sha256).hexdigest()
        return "erased_" + mac[:20]

    def pseudonym(self, value: str) -> str:
        """The pseudonymous id of an erasure's subject in the audit log and retained facts."""
        return "p_" + hmac.new(self.naming, f"subject\x1f{value}".encode(), hashlib.sha256).hexdigest()[:24]


def keys_for(store_or_conn: Store | Connection) -> Keys:
    key = audit_key(store_or_conn.engine)
    return Keys(key.derive("suppression"), key.derive("pseudonym"))


def normalise_email(value: str) -> str:
    return value.strip().lower()


def phone_digits(value: str) -> str:
    """A phone number's digits without the trunk zeros that national forms put in front."""
    return re.sub(r"\D", "", value).lstrip("0")


def identifying_value(value: Any) -> str | None:
    """``value`` as an identifier is compared (trimmed, lower case), or None when it is too
    short to identify anyone: fewer than 3 characters, or a number of fewer than 6 digits
    (a short number equals counts, amounts and ticket numbers of unrelated records)."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value).strip().lower()
    if len(text) < 3 or (text.isdigit() and len(text) < 6):
        return None
    return text


def email_paths(src: SourceSpec) -> list[str]:
    """Where a source's records carry email addresses: its identity email and PII email columns."""
    cols = src.identity_of("email")
    cols += [c for c, spec in src.columns.items() if spec.pii and "email" in c.lower() and c not in cols]
    return [src.column_path(c) for c in cols]


def person_paths(src: SourceSpec) -> list[str]:
    """Every path of a source holding a person's data: PII columns, person identity attributes."""
    cols = {c for c, spec in src.columns.items() if spec.pii}
    cols |= {c for a, c in src.identity_columns if a in PERSON_ATTRIBUTES}
    return sorted({src.column_path(c) for c in cols})


def phone_paths(src: SourceSpec) -> list[str]:
    """Where a source's records carry phone numbers: its identity phone and PII phone columns."""
    cols = src.identity_of("phone")
    cols += [c for c, spec in src.columns.items() if spec.pii and "phone" in c.lower() and c not in cols]
    return [src.column_path(c) for c in cols]


def identity_paths(src: SourceSpec) -> frozenset[str]:
    """The paths of a source's identity attributes: what identifies that record's own subject.

    The free-text scrub leaves these alone in other people's records: an account's phone in
    the CRM is the account's, even when an erased person gave the same switchboard number,
    and changing it would change how the account is matched.
    """
    return frozenset(src.column_path(c) for _, c in src.identity_columns)


def person_ids(src: SourceSpec, data: Mapping[str, Any]) -> set[str]:
    """The ids of the person in the objects of a record that carry their declared data.

    A ticket's ``requester`` object holds the person's declared email and name, and beside
    them the support desk's own id of that person (``requester.id``), which no column
    declares. Only nested objects count: the record itself is described by its key.
    """
    declared = {src.column_path(c) for c in src.columns}
    out: set[str] = set()
    for parent in {p.rsplit(".", 1)[0] for p in person_paths(src) if "." in p}:
        node = get_path(data, parent)
        if not isinstance(node, dict):
            continue
        for k, v in node.items():
            if _ID_KEY.search(k) and f"{parent}.{k}" not in declared:
                found = identifying_value(v)
                if found is not None:
                    out.add(found)
    return out


def anonymise_payload(
    src: SourceSpec, data: Mapping[str, Any], keys: Keys, suppressed: set[str] | frozenset[str], new_key: str
) -> dict[str, Any]:
    """The record without a person's data: PII paths removed, its own key replaced by the
    pseudonymous one, the ids beside the person's data (``requester.id``) and every
    undeclared value that is an erased identifier replaced, erased emails and phones in
    free text masked. The same on every arrival, so a re-sync finds the record unchanged."""
    out = copy.deepcopy(dict(data))
    for path in person_paths(src):
        parent = path.rsplit(".", 1)[0] if "." in path and path not in out else None
        _remove(out, path)
        if parent is not None:
            _erase_ids(out, parent, src)
    set_path(out, src.column_path(src.key), new_key)
    declared = frozenset(src.column_path(c) for c in src.columns)
    return _mask_values(out, keys, suppressed, "", declared)  # type: ignore[no-any-return]


def _erase_ids(data: dict[str, Any], parent: str, src: SourceSpec) -> None:
    node = get_path(data, parent)
    if not isinstance(node, dict):
        return
    declared = {src.column_path(c) for c in src.columns}
    for k in list(node):
        if _ID_KEY.search(k) and f"{parent}.{k}" not in declared and node[k] is not None:
            node[k] = ERASED


def _mask_values(
    value: Any, keys: Keys, suppressed: set[str] | frozenset[str], path: str, declared: frozenset[str]
) -> Any:
    """Undeclared scalars equal to an erased identifier replaced; emails and phones in text masked.

    Declared columns keep their values here: what happens to them is the spec's to say
    (PII columns were removed, the rest describe the account and are kept).
    """
    if isinstance(value, dict):
        return {k: _mask_values(v, keys, suppressed, f"{path}.{k}" if path else k, declared) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_values(v, keys, suppressed, path, declared) for v in value]
    if path not in declared:
        found = identifying_value(value)
        if found is not None and keys.value_digest(found) in suppressed:
            return ERASED
    return _mask_text(value, keys, suppressed) if isinstance(value, str) else value


def mask_free_text(
    value: Any, keys: Keys, suppressed: set[str] | frozenset[str], keep: frozenset[str] = frozenset(), path: str = ""
) -> Any:
    """``value`` with erased emails and phone numbers masked in every string, except at the
    paths in ``keep``. Returns ``value`` itself when nothing is masked, so the records that
    hold nothing erased (nearly all) are neither copied nor rewritten.

    An email is compared whole and in any case; a phone by its digits, so ``(303) 932-8211``,
    ``+1 303 932 8211`` and ``3039328211`` are the same number.
    """
    if isinstance(value, str):
        return value if path in keep else _mask_text(value, keys, suppressed)
    if isinstance(value, dict):
        return _mask_dict(value, keys, suppressed, keep, path)
    if isinstance(value, list):
        items = [mask_free_text(v, keys, suppressed, keep, path) for v in value]
        return value if all(a is b for a, b in zip(items, value, strict=True)) else items
    return value


def _mask_dict(
    value: dict[str, Any], keys: Keys, suppressed: set[str] | frozenset[str], keep: frozenset[str], path: str
) -> dict[str, Any]:
    """:func:`mask_free_text` of a dict: ``value`` itself when nothing in it is masked.

    Every arriving record is walked once the list is not empty: strings are handled here
    rather than by a call each, and paths are only spelt out when some are kept.
    """
    out: dict[str, Any] | None = None
    for k, v in value.items():
        if isinstance(v, str):
            if keep and (f"{path}.{k}" if path else k) in keep:
                continue
            masked: Any = _mask_text(v, keys, suppressed)
        elif isinstance(v, dict | list):
            masked = mask_free_text(v, keys, suppressed, keep, f"{path}.{k}" if path else k)
        else:
            continue  # numbers, booleans, nulls: nothing to mask
        if masked is not v:
            out = dict(value) if out is None else out
            out[k] = masked
    return value if out is None else out


def _mask_text(text: str, keys: Keys, suppressed: set[str] | frozenset[str]) -> str:
    """``text`` with erased emails and phones masked; ``text`` itself when none is there."""
    out = text
    if len(out) < 6:  # shorter than a@b.io: status, priority, country codes, most strings
        return text
    if "@" in out:
        out = _EMAIL.sub(lambda m: ERASED if keys.email_digest(m.group(0)) in suppressed else m.group(0), out)
    if _PHONE.search(out):
        out = _PHONE.sub(lambda m: _mask_phone(m.group(0), keys, suppressed), out)
    return text if out == text else out


def _mask_phone(found: str, keys: Keys, suppressed: set[str] | frozenset[str]) -> str:
    """The number masked if erased; else the leading and the trailing run of its digit groups
    that is an erased number: two numbers written side by side, or a ticket number before
    one, are matched as one run first. (A number between two others is not looked for: it
    would cost a hash per pair of groups, for every such string of every record synced.)"""
    whole = phone_digits(found)
    if len(whole) < _PHONE_MIN or _DATE.match(found):  # 2025-02-19 06:00 is a time
        return found
    if len(whole) <= _PHONE_MAX and keys.phone_erased(whole, suppressed):
        return ERASED
    groups = list(_DIGITS.finditer(found))
    runs = _erased_runs(groups, keys, suppressed)
    if not runs:
        return found
    out, last = [], 0
    for i, j in runs:
        start = groups[i].start()
        if start > 0 and found[start - 1] in "(+":
            start -= 1
        out += [found[last:start], ERASED]
        last = groups[j].end()
    return "".join([*out, found[last:]])


def _erased_runs(
    groups: Sequence[re.Match[str]], keys: Keys, suppressed: set[str] | frozenset[str]
) -> list[tuple[int, int]]:
    """The leading and the trailing run of digit groups (first and last index) that is an
    erased number, the longest leading one first."""
    n = len(groups)

    def erased(i: int, j: int) -> bool:
        digits = "".join(g.group(0) for g in groups[i : j + 1]).lstrip("0")
        return _PHONE_MIN <= len(digits) <= _PHONE_MAX and keys.phone_erased(digits, suppressed)

    runs: list[tuple[int, int]] = []
    lead = next((j for j in range(n - 2, -1, -1) if erased(0, j)), None)  # longest first
    if lead is not None:
        runs.append((0, lead))
    tail = next((i for i in range((lead or 0) + 1, n) if erased(i, n - 1)), None)
    if tail is not None:
        runs.append((tail, n - 1))
    return runs


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


def _mask_emails(value: Any, keys: Keys, suppressed: set[str] | frozenset[str]) -> Any:
    if isinstance(value, str):
        if "@" not in value:
            return value
        return _EMAIL.sub(lambda m: ERASED if keys.email_digest(m.group(0)) in suppressed else m.group(0), value)
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
    scrubbed: int = 0  # other records with an erased email or phone masked in their text

    @classmethod
    def load(cls, store: Store, product: ProductSpec) -> Suppressor:
        with store.engine.connect() as conn:
            entries = db.suppression_entries(conn)
        return cls(product, keys_for(store) if entries else Keys(b"", b""), entries)

    def __bool__(self) -> bool:
        return bool(self.entries)

    def admit(self, source: str, records: Sequence[Record]) -> list[Record]:
        """The records to stage: suppressed ones dropped or anonymised, the rest with erased
        emails and phones masked in their text (identity columns aside, see
        :func:`identity_paths`) and otherwise untouched.

        Once the list is not empty every arriving record is walked: measured at about 6 us
        for a support ticket with nothing erased in it, and about 40 us more for each string
        holding a phone-like number, which costs a dozen keyed hashes to compare.
        """
        if not self.entries:
            return list(records)
        src = self.product.sources[source]
        parent = src.belongs_to
        parent_path = src.column_path(parent.column) if parent else None
        emails = email_paths(src)
        digests = frozenset(self.entries)
        keep = identity_paths(src)
        out = []
        for rec in records:
            action = self._action(source, rec, emails)
            if action == DROP:
                self.dropped += 1
                continue
            data = rec.data
            if parent is not None and parent_path is not None and not rec.deleted:
                linked = self._relinked(parent.source, parent_path, data)
                if linked is None:
                    self.dropped += 1
                    continue
                data = linked
            if action == ANONYMISE:
                self.anonymised += 1
                key = self.keys.pseudonym_key(source, rec.key)
                body = {} if rec.deleted else anonymise_payload(src, data, self.keys, digests, key)
                out.append(Record(key, body, rec.deleted))
                continue
            if not rec.deleted:
                # As the erasure scrubbed the records it kept: so a re-sync changes nothing.
                masked = mask_free_text(data, self.keys, digests, keep)
                if masked is not data:
                    self.scrubbed += 1
                    data = masked
            if data is not rec.data:
                out.append(Record(rec.key, data, rec.deleted))
            else:
                out.append(rec)
        return out

    def _relinked(self, parent: str, path: str, data: dict[str, Any]) -> dict[str, Any] | None:
        """A child record as its erased parent leaves it: None when the parent was dropped, a
        copy pointing at the parent's pseudonymous key when it was anonymised, else ``data``."""
        ref = get_path(data, path)
        if ref is None:
            return data
        action = self.entries.get(self.keys.key_digest(parent, str(ref)))
        if action == DROP:
            return None
        if action == ANONYMISE:
            data = copy.deepcopy(data)
            set_path(data, path, self.keys.pseudonym_key(parent, str(ref)))
        return data

    def scrub_quarantined(self, items: Sequence[Quarantined]) -> list[Quarantined]:
        """Unreadable rows keep their raw text for a person to fix, erased emails masked."""
        if not self.entries:
            return list(items)
        digests = set(self.entries)
        return [Quarantined(q.location, q.reason, _mask_emails(q.raw, self.keys, digests)) for q in items]

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


def is_suppressed(store: Store, *, source: str | None = None, key: str | None = None, email: str | None = None) -> bool:
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
        return db.any_suppressed(conn, digests)


def content_hash(data: Mapping[str, Any]) -> str:
    return jsonutil.content_hash(data)
