"""Identity records: each staged source record projected onto normalised identity attributes."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from c360.identity.normalise import IdentityAttributes, normalise_attributes

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
        return any((a.name, self.domain, a.email, a.phone, a.postcode and a.name))


def make_record(
    source: str,
    key: str,
    identity: Mapping[str, str],
    row: Mapping[str, Any],
    rule_columns: frozenset[str] = frozenset(),
    default_region: str | None = None,
) -> IdentityRecord:
    """Project a normalised source row onto identity attributes (``identity``: attribute → column)."""
    raw = {attr: row.get(column) for attr, column in identity.items()}
    attrs = normalise_attributes({k: v for k, v in raw.items() if v is not None}, default_region=default_region)
    refs = {c: str(row[c]) for c in rule_columns if row.get(c) not in (None, "")}
    return IdentityRecord(sys.intern(source), key, attrs, refs or NO_REFS)
