"""At account grain, people roll up to their organisation before matching.

Support requesters and product users are people; the customer is their account. The
people of one corporate email domain form one *domain group*, matched to accounts as a
single record: the group's most common organisation name, its domain, its most common
phone and postcode. A person whose organisation name clearly differs from the group's
(a contractor writing from a client's domain) stands alone, so the name can place them.
People with no corporate domain and no organisation name cannot be placed by anything
but an exact e-mail match, and stay unresolved when they have none.

Pure: no I/O.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from c360.identity.names import name_similarity
from c360.identity.normalise import IdentityAttributes
from c360.identity.records import IdentityRecord

GROUP_SOURCE = "~domain"
# Below this similarity to the group's name, a person's organisation is someone else's.
DIFFERENT_ORGANISATION = 0.5


@dataclass(frozen=True)
class Rollup:
    records: list[IdentityRecord]  # what matching sees: account records, groups, loose people
    members: dict[str, list[str]]  # group rid → the person records it stands for


def _most_common(values: Iterable[str | None]) -> str | None:
    counts = Counter(v for v in values if v)
    if not counts:
        return None
    # Ties break alphabetically so the result does not depend on input order.
    return min(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0]


def roll_up(records: Sequence[IdentityRecord], person_sources: frozenset[str]) -> Rollup:
    out: list[IdentityRecord] = []
    by_domain: dict[str, list[IdentityRecord]] = defaultdict(list)
    for r in records:
        domain = r.attrs.email_domain or r.attrs.web_domain
        if r.source in person_sources and domain and not r.refs:
            by_domain[domain].append(r)
        else:
            out.append(r)
    members: dict[str, list[str]] = {}
    for domain in sorted(by_domain):
        people = by_domain[domain]
        group_name = _most_common(p.attrs.name for p in people)
        inside: list[IdentityRecord] = []
        for p in people:
            if group_name and p.attrs.name and p.attrs.name != group_name \
                    and name_similarity(p.attrs.name, group_name) < DIFFERENT_ORGANISATION:
                out.append(p)  # matched on its own; its name outweighs the borrowed domain
            else:
                inside.append(p)
        if not inside:
            continue
        attrs = IdentityAttributes(
            name=group_name,
            name_tokens=tuple(group_name.split()) if group_name else (),
            web_domain=domain,
            email=None,
            email_domain=domain,
            phone=_most_common(p.attrs.phone for p in inside),
            address=_most_common(p.attrs.address for p in inside),
            postcode=_most_common(p.attrs.postcode for p in inside),
            country=_most_common(p.attrs.country for p in inside),
            person_name=None,
        )
        group = IdentityRecord(GROUP_SOURCE, domain, attrs)
        members[group.rid] = sorted(p.rid for p in inside)
        out.append(group)
    return Rollup(out, members)
