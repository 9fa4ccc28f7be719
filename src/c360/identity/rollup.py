"""At account grain, people roll up to their organisation before matching.

Support requesters and product users are people; the customer is their account. The
people of one corporate email domain form a *domain group*, matched to accounts as a
single record: the group's most common organisation name, its domain, its most common
phone and postcode. A person whose organisation name clearly differs from the domain's
(a contractor writing from a client's domain) stands alone, so the name can place them.
A person with no corporate domain who names an organisation exactly as one group's
people of the same source do (a free-mail user in the product workspace "hoshi") joins
that group. People with no corporate domain and no organisation name cannot be placed by
anything but an exact e-mail match, and stay unresolved when they have none.

One domain can serve several organisations (a subsidiary on its parent's domain, two
companies whose names begin alike): people naming each organisation form a group of
their own. A person whose organisation name cannot tell them apart (none, or only the
words the organisations share) goes with the people they were resolved with before,
else with the domain's largest organisation.

Pure: no I/O.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from c360.identity.names import name_similarity
from c360.identity.normalise import IdentityAttributes
from c360.identity.records import IdentityRecord

GROUP_SOURCE = "~domain"
# Below this similarity to the domain's name, a person's organisation is someone else's.
DIFFERENT_ORGANISATION = 0.5
# At or above it two names on one domain are one organisation spelt two ways (a typo).
SAME_ORGANISATION = 0.85


@dataclass(frozen=True)
class Rollup:
    records: list[IdentityRecord]  # what matching sees: account records, groups, loose people
    members: dict[str, list[str]]  # group rid → the person records it stands for
    # person rid → the organisation name that put them in a group without a corporate domain
    by_organisation: dict[str, str] = field(default_factory=dict)


def group_domain(rid: str) -> str:
    """The e-mail domain a group record (``~domain:acme.com`` or ``~domain:acme.com#2``) stands for."""
    return rid.split(":", 1)[1].split("#", 1)[0]


def _most_common(values: Iterable[str | None]) -> str | None:
    counts = Counter(v for v in values if v)
    if not counts:
        return None
    # Ties break alphabetically so the result does not depend on input order.
    return min(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0]


def _compact(name: str) -> str:
    """A name without spaces or "and", as a workspace slug writes it ("fischer and wagner")."""
    return "".join(w for w in name.split() if w != "and")


def _organisations(names: Counter[str]) -> list[list[str]]:
    """The distinct organisations among one domain's names, the most named first.

    A name made only of words of a longer name there ("krause" beside "krause hotels") names
    no organisation in particular and is left out. The others are one organisation when
    they agree but for spaces ("deltaclinics") or a typo.
    """
    distinct = sorted(names, key=lambda n: (-names[n], n))
    words = {n: frozenset(n.split()) for n in distinct}
    orgs: list[list[str]] = []
    for n in distinct:
        if any(words[n] < words[m] for m in distinct):
            continue
        for org in orgs:
            if _compact(n) == _compact(org[0]) or name_similarity(n, org[0]) >= SAME_ORGANISATION:
                org.append(n)
                break
        else:
            orgs.append([n])
    return sorted(orgs, key=lambda org: (-sum(names[n] for n in org), org[0]))


def _split_domain(
    people: list[IdentityRecord], previous: Mapping[str, str]
) -> tuple[list[tuple[str | None, list[IdentityRecord]]], list[IdentityRecord]]:
    """The people of one domain in groups, one per organisation (the largest first) with the
    name it goes by, and the people who stand alone: those naming an organisation clearly
    unlike the domain's."""
    orgs = _organisations(Counter(p.attrs.name for p in people if p.attrs.name))
    org = {n: i for i, names in enumerate(orgs) for n in names}
    foreign = _foreign(orgs)
    parts: dict[int | str, list[IdentityRecord]] = defaultdict(list)
    undecided: list[IdentityRecord] = []
    for p in people:
        i = org.get(p.attrs.name) if p.attrs.name else None
        if i is None:
            undecided.append(p)
        else:
            parts[i].append(p)
    for p in undecided:
        parts[_part_of(p, org, parts, foreign, previous)].append(p)
    alone = [p for i in sorted(foreign) for p in parts.pop(i, [])]
    return _named_groups(parts, org), alone


def _foreign(orgs: Sequence[Sequence[str]]) -> set[int]:
    """Organisations unlike the largest: someone else's people writing from this domain."""
    return {
        i
        for i, names in enumerate(orgs)
        if i
        and _compact(names[0]) != _compact(orgs[0][0])
        and name_similarity(names[0], orgs[0][0]) < DIFFERENT_ORGANISATION
    }


def _part_of(
    p: IdentityRecord,
    org: Mapping[str, int],
    parts: Mapping[int | str, list[IdentityRecord]],
    foreign: set[int],
    previous: Mapping[str, str],
) -> int | str:
    """The part of the domain a person whose name names no organisation goes with."""
    before = previous.get(p.rid)
    words = frozenset((p.attrs.name or "").split())
    within = {i for n, i in org.items() if words and words < frozenset(n.split())}
    if len(within) == 1:
        return within.pop()  # "soleil": the one organisation whose name holds it
    if before is None:
        return 0  # the largest organisation (or all of the domain's nameless people)
    # With the organisation most of whose people were resolved with this person before.
    votes = Counter(
        i
        for i, ps in parts.items()
        if isinstance(i, int) and i not in foreign
        for q in ps
        if previous.get(q.rid) == before
    )
    if votes:
        return min(votes.items(), key=lambda kv: (-kv[1], kv[0]))[0]
    return before  # apart from any organisation the name cannot choose


def _named_groups(
    parts: Mapping[int | str, list[IdentityRecord]], org: Mapping[str, int]
) -> list[tuple[str | None, list[IdentityRecord]]]:
    """Each part with the name it goes by: the organisations first, then the parts of earlier customers.

    An organisation goes by the name its people give it, not by words it shares with another.
    """
    groups = [
        (_most_common(p.attrs.name for p in parts[i] if org.get(p.attrs.name or "") == i), parts[i])
        for i in sorted(k for k in parts if isinstance(k, int))
    ]
    groups += [
        (_most_common(p.attrs.name for p in parts[k]), parts[k]) for k in sorted(k for k in parts if isinstance(k, str))
    ]
    return groups


def roll_up(
    records: Sequence[IdentityRecord], person_sources: frozenset[str], previous: Mapping[str, str] | None = None
) -> Rollup:
    """Account records as they are, people rolled up by domain; ``previous``: record → its earlier customer."""
    previous = previous or {}
    out: list[IdentityRecord] = []
    by_domain: dict[str, list[IdentityRecord]] = defaultdict(list)
    for r in records:
        domain = r.attrs.email_domain or r.attrs.web_domain
        if r.source in person_sources and domain and not r.refs:
            by_domain[domain].append(r)
        else:
            out.append(r)
    members: dict[str, list[str]] = {}
    naming: dict[tuple[str, str], set[str]] = defaultdict(set)  # (source, organisation name) → groups
    for domain in sorted(by_domain):
        groups, alone = _split_domain(by_domain[domain], previous)
        out.extend(alone)  # each matched on its own; their name outweighs the borrowed domain
        for n, (name, part) in enumerate(groups):
            attrs = IdentityAttributes(
                name=name,
                name_tokens=tuple(name.split()) if name else (),
                web_domain=domain,
                email=None,
                email_domain=domain,
                phone=_most_common(p.attrs.phone for p in part),
                address=_most_common(p.attrs.address for p in part),
                postcode=_most_common(p.attrs.postcode for p in part),
                country=_most_common(p.attrs.country for p in part),
                person_name=None,
            )
            group = IdentityRecord(GROUP_SOURCE, domain if n == 0 else f"{domain}#{n + 1}", attrs)
            members[group.rid] = sorted(p.rid for p in part)
            out.append(group)
            for p in part:
                if p.attrs.name:
                    naming[(p.source, p.attrs.name)].add(group.rid)
    out, joined = _join_by_organisation(out, person_sources, naming, members)
    return Rollup(out, members, joined)


def _join_by_organisation(
    records: list[IdentityRecord],
    person_sources: frozenset[str],
    naming: Mapping[tuple[str, str], set[str]],
    members: dict[str, list[str]],
) -> tuple[list[IdentityRecord], dict[str, str]]:
    """People without a corporate domain who name an organisation exactly as the people of one
    group do in the same source (the product workspace "hoshi" of a free-mail user, which
    hoshi.co.jp's users share) join that group. When the people of two groups name it, the
    name decides nothing and the person is matched on their own."""
    kept: list[IdentityRecord] = []
    joined: dict[str, str] = {}
    touched: set[str] = set()
    for r in records:
        a = r.attrs
        if r.source in person_sources and a.name and not (a.email_domain or a.web_domain) and not r.refs:
            groups = naming.get((r.source, a.name), set())
            if len(groups) == 1:
                group = next(iter(groups))
                members[group].append(r.rid)
                touched.add(group)
                joined[r.rid] = a.name
                continue
        kept.append(r)
    for group in touched:
        members[group].sort()
    return kept, joined
