"""Identity records: each staged source record projected onto normalised identity attributes."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from c360.identity.normalise import ATTRIBUTE_NAMES, IdentityAttributes, normalise_attributes
from c360.identity.transforms import Transform

# The attribute naming another record of the same source that is a different customer
# (a CRM account's ParentId): a constraint, not evidence.
PARENT = "parent"

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
    identity: Mapping[str, str],
    row: Mapping[str, Any],
    rule_columns: frozenset[str] = frozenset(),
    default_region: str | None = None,
    identifiers: Mapping[str, Transform] | None = None,
    failed: dict[str, int] | None = None,
) -> IdentityRecord:
    """Project a normalised source row onto identity attributes (``identity``: attribute → column).

    ``identifiers``: the transform of each declared identifier attribute; a value the transform
    refuses is left out and counted in ``failed`` (by attribute).
    """
    raw = {attr: first_value(row.get(column)) for attr, column in identity.items()}
    attrs = normalise_attributes({k: v for k, v in raw.items() if v is not None and k in ATTRIBUTE_NAMES},
                                 default_region=default_region)
    refs = {c: str(row[c]).strip() for c in rule_columns if row.get(c) not in (None, "")}
    ids: dict[str, str] = {}
    for attr, transform in (identifiers or {}).items():
        value = raw.get(attr)
        if value in (None, ""):
            continue
        out = transform(str(value), attrs.country or default_region)
        if out is None:
            if failed is not None:
                failed[attr] = failed.get(attr, 0) + 1
            continue
        ids[sys.intern(attr)] = out
    parent = raw.get(PARENT)
    return IdentityRecord(sys.intern(source), key, attrs, refs or NO_REFS, ids or NO_REFS,
                          str(parent).strip() or None if parent not in (None, "") else None)
