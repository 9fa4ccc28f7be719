"""Identity records: each staged source record projected onto normalised identity attributes."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from c360.identity.normalise import ATTRIBUTE_NAMES, MULTI_VALUED, IdentityAttributes, normalise_attributes
from c360.identity.transforms import Transform

# The attribute naming another record of the same source that is a different customer
# (a CRM account's ParentId): a constraint, not evidence.
PARENT = "parent"

# The attributes that make a source's records people (at account grain they roll up to one).
PERSON_NAME_ATTRIBUTES = frozenset({"person_name", "first_name", "last_name"})

# Most records carry no cross-reference: they share this one empty mapping (never mutated).
NO_REFS: Mapping[str, str] = {}


@dataclass(frozen=True, slots=True)
class IdentityRecord:
    """One source record as identity resolution sees it.

    A million of them are alive during resolution: slots, and ``rid`` made once (every set,
    dict and link of the resolution then shares that one string).
    """

    source: str
    key: str
    attrs: IdentityAttributes
    refs: Mapping[str, str] = field(default_factory=lambda: NO_REFS)  # cross-reference columns for rules
    # Declared identifiers (attribute → transformed value): records sharing one are linked
    # (a key) or scored closer (evidence), whatever their sources.
    identifiers: Mapping[str, str] = field(default_factory=lambda: NO_REFS)
    parent: str | None = None  # key of a record of this source that is another customer
    rid: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "rid", f"{self.source}:{self.key}")

    @property
    def domain(self) -> str | None:
        """The company domain this record evidences: its website, else its corporate email's."""
        return self.attrs.web_domain or self.attrs.email_domain

    @property
    def has_evidence(self) -> bool:
        a = self.attrs
        return any((a.name, self.domain, a.email, a.phone, a.postcode and a.name, a.person_name, self.identifiers))


def first_value(raw: Any) -> Any:
    """A list path's first usable value (``organization.domain_names[]``), else the value itself."""
    if isinstance(raw, list | tuple):
        return next((v for v in raw if v not in (None, "")), None)
    return raw


def make_record(
    source: str,
    key: str,
    identity: Mapping[str, str | Sequence[str]] | Sequence[tuple[str, str]],
    row: Mapping[str, Any],
    rule_columns: frozenset[str] = frozenset(),
    default_region: str | None = None,
    identifiers: Mapping[str, Transform] | None = None,
    failed: dict[str, int] | None = None,
) -> IdentityRecord:
    """Project a normalised source row onto identity attributes (``identity``: attribute → column).

    ``identity`` maps each attribute to its column, or lists (attribute, column) pairs; an
    attribute read from several columns (two e-mails) keeps every value of ``MULTI_VALUED``
    ones and the first of the others. ``identifiers``: the transform of each declared
    identifier attribute; a value the transform refuses is left out and counted in ``failed``
    (by attribute).
    """
    pairs = _pairs(identity)
    many: dict[str, list[Any]] = {}
    for attr, column in pairs:
        value = row.get(column)
        many.setdefault(attr, []).extend(value if isinstance(value, list | tuple) else [value])
    raw = {attr: first_value(vs) for attr, vs in many.items()}
    raw.update({attr: [v for v in many[attr] if v not in (None, "")] for attr in MULTI_VALUED if attr in many})
    attrs = normalise_attributes(
        {k: v for k, v in raw.items() if v is not None and k in ATTRIBUTE_NAMES}, default_region=default_region
    )
    refs = {c: str(row[c]).strip() for c in rule_columns if row.get(c) not in (None, "")}
    ids: dict[str, str] = {}
    for attr, transform in (identifiers or {}).items():
        value = first_value(raw.get(attr))
        if value in (None, ""):
            continue
        out = transform(str(value), attrs.country or default_region)
        if out is None:
            if failed is not None:
                failed[attr] = failed.get(attr, 0) + 1
            continue
        ids[sys.intern(attr)] = out
    parent = first_value(raw.get(PARENT))
    return IdentityRecord(
        sys.intern(source),
        key,
        attrs,
        refs or NO_REFS,
        ids or NO_REFS,
        str(parent).strip() or None if parent not in (None, "") else None,
    )


def _pairs(identity: Mapping[str, str | Sequence[str]] | Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    if isinstance(identity, Mapping):
        return [(a, c) for a, cols in identity.items() for c in ([cols] if isinstance(cols, str) else cols)]
    return list(identity)
