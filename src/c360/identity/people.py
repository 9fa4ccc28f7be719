"""Resolution at person grain: one customer per person, over the same graph of records.

Every record is a node. Edges, strongest first:

1. **Steward pins**: a linked pair is joined, an unlinked pair never is.
2. **Keys**: the same personal e-mail address (in the form its provider reads it: gmail dots
   and ``+tags`` do not make another mailbox), a declared identifier of ``strength: key``, a
   rule's reference.
3. **Evidence**, scored by Splink between records: the name by parts, date of birth, phone,
   e-mail, postcode, city, address, evidence identifiers.

A contact value held by people who cannot be one person (a family's mailbox, a household's
landline, a recycled mobile number, ``noemail@…``) is *shared*: it only adds weight, never
links by itself. Clustering honours **personal constraints**: two records whose given names
cannot be one person's (not the same, not a short form, not an initial, not a typo), whose
dates of birth differ by more than a typo, or that are a Jr and a Sr, are different people, so
a household, twins, or a father and son of one name stay apart unless a steward links them.
Records with no identifying value but a name are kept, each a customer of its own, and marked.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rapidfuzz.distance import DamerauLevenshtein, JaroWinkler

from c360.identity.given_names import are_variants, canonical_forms
from c360.identity.matching import MatchLink
from c360.identity.person_match import PersonRow, match_people, reusable
from c360.identity.persons import is_relay, name_key, personal_email
from c360.identity.prepare import identifier_groups, tagged_values
from c360.identity.records import IdentityRecord
from c360.identity.resolve import Link, Resolution

# Two given names at least this close (Jaro-Winkler) may be one name misspelt.
GIVEN_TYPO = 0.88
# Candidates kept for each record left a customer of its own, down to this Bayes factor (bits).
NEAREST, NEAR_BITS = 3, 6.0
# A contact value on records of more than this many people-like groups is shared whatever
# their names say (a placeholder such as 0000000000 that passed validation).
MOST_HOLDERS = 12


@dataclass(frozen=True, slots=True)
class Person:
    """What the constraints read of one record."""

    given: str | None
    family: str | None
    dob: str | None
    generation: str | None
    # Declared identifier values (a national id, a customer number): evidence of one person
    # that outweighs a given name or date of birth written differently.
    ids: frozenset[str] = frozenset()


def _person(r: IdentityRecord) -> Person:
    a = r.attrs
    return Person(
        name_key(a.given_name) if a.given_name else None,
        name_key(a.family_name) if a.family_name else None,
        a.dob,
        a.generation,
        frozenset(f"{k}:{v}" for k, v in r.identifiers.items()),
    )


def _given_compatible(x: str, y: str) -> bool:
    """The same given name, an initial of it, a short form, or a typo."""
    if x == y:
        return True
    if len(x) == 1 or len(y) == 1:
        return x[0] == y[0]
    return are_variants(x, y) or JaroWinkler.similarity(x, y) >= GIVEN_TYPO


def _dob_compatible(x: str, y: str) -> bool:
    if x == y or DamerauLevenshtein.distance(x, y) <= 1:
        return True
    return x[:4] == y[:4] and x[5:7] == y[8:10] and x[8:10] == y[5:7]  # day and month swapped


def conflict(p: Person, q: Person) -> str | None:
    """Why two records cannot be one person, or None.

    A Jr and a Sr always differ; otherwise a declared identifier in common (a national id)
    outweighs a given name or date of birth that disagrees.

    >>> conflict(Person("anna", "kowalska", None, None), Person("piotr", "kowalski", None, None))
    'given names anna and piotr'
    """
    if p.generation and q.generation and p.generation != q.generation:
        return f"{p.generation} and {q.generation}"
    if p.ids & q.ids:  # one declared identifier: a name or date written differently, not another person
        return None
    if p.dob and q.dob and not _dob_compatible(p.dob, q.dob):
        return f"dates of birth {p.dob} and {q.dob}"
    if p.given and q.given and not _given_compatible(p.given, q.given):
        swapped = (
            p.family is not None
            and q.family is not None
            and _given_compatible(p.given, q.family)
            and _given_compatible(p.family, q.given)
        )
        if not swapped:
            return f"given names {p.given} and {q.given}"
    return None


class _People:
    """Union-find whose joins respect :func:`conflict` between every pair across two clusters."""

    def __init__(self, persons: Mapping[str, Person], apart: Sequence[tuple[str, str]]) -> None:
        self.persons = persons
        self.parent = {rid: rid for rid in persons}
        self.members: dict[str, list[str]] = {rid: [rid] for rid in persons}
        self.apart: dict[str, set[str]] = defaultdict(set)
        for a, b in apart:
            self.apart[a].add(b)
            self.apart[b].add(a)

    def find(self, x: str) -> str:
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def refusal(self, a: str, b: str, *, personal: bool = True) -> str | None:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return None
        left, right = self.members[ra], self.members[rb]
        for x in left:
            if self.apart.get(x) and any(y in self.apart[x] for y in right):
                return "kept apart by a steward's unlink"
        if personal:
            for x in left:
                px = self.persons[x]
                for y in right:
                    why = conflict(px, self.persons[y])
                    if why:
                        return f"different people: {why}"
        return None

    def join(self, a: str, b: str, *, personal: bool = True) -> str | None:
        why = self.refusal(a, b, personal=personal)
        if why is None:
            ra, rb = self.find(a), self.find(b)
            if ra != rb:
                if len(self.members[ra]) < len(self.members[rb]):
                    ra, rb = rb, ra
                self.parent[rb] = ra
                self.members[ra].extend(self.members.pop(rb))
        return why

    def groups(self) -> list[list[str]]:
        return [sorted(m) for m in self.members.values()]


def shared_values(values: Mapping[str, Sequence[str]], persons: Mapping[str, Person]) -> set[str]:
    """Contact values whose holders cannot all be one person (a family mailbox, a recycled phone)."""
    out: set[str] = set()
    for value, rids in values.items():
        if len(rids) < 2:
            continue
        groups: list[list[Person]] = []
        for rid in rids:
            p = persons[rid]
            home = next((g for g in groups if all(conflict(p, q) is None for q in g)), None)
            if home is None:
                groups.append([p])
            else:
                home.append(p)
            if len(groups) > MOST_HOLDERS:
                break
        if len(groups) > 1:
            out.add(value)
    return out


# The comparisons that tell one person from another of one name at one place.
PERSONAL_EVIDENCE = ("dob", "email", "phone", "identifier")


def name_places(records: Sequence[IdentityRecord], persons: Mapping[str, Person]) -> dict[str, list[str]]:
    """Records by (given name form, family name, address or postcode), where three or more share one."""
    groups: dict[str, list[str]] = defaultdict(list)
    for r in records:
        p = persons[r.rid]
        if not (p.given and p.family) or len(p.given) == 1:
            continue
        places = [f"{kind}:{v}" for kind, v in (("a", r.attrs.address), ("p", r.attrs.postcode)) if v]
        families = {p.family, *(t for t in p.family.split() if len(t) > 2)}  # Cobos Flores is a Cobos
        for form in canonical_forms(p.given) | {p.given}:
            for family in families:
                for place in places:
                    groups[f"{form}|{family}|{place}"].append(r.rid)
    return {k: v for k, v in groups.items() if len(v) >= 3}


def _several_people(graph: _People, rids: Sequence[str]) -> bool:
    """Whether records of one name at one place are already known to be more than one person.

    They are when two of their clusters cannot be one person, or when one says Jr or Sr and
    another does not say the same: a Jr has a father of his name.
    """
    if len({graph.persons[r].generation for r in rids}) > 1:
        return True
    roots = list(dict.fromkeys(graph.find(r) for r in rids))
    return any(graph.refusal(a, b) is not None for i, a in enumerate(roots) for b in roots[i + 1 :])


def person_rows(
    records: Sequence[IdentityRecord],
    persons: Mapping[str, Person],
    shared: set[str],
    tagged: Mapping[str, Sequence[str]],
    placeholders: set[str] | frozenset[str] = frozenset(),
) -> list[PersonRow]:
    rows = []
    for r in records:
        a, p = r.attrs, persons[r.rid]
        emails = tuple(dict.fromkeys(e for e in (personal_email(x) for x in a.emails) if e))
        phones = a.phones
        rows.append(
            PersonRow(
                rid=r.rid,
                given=p.given,
                given_forms=tuple(sorted(canonical_forms(p.given))) if p.given and len(p.given) > 1 else (),
                family=p.family,
                generation=p.generation,
                dob=p.dob,
                emails=tuple(e for e in emails if e not in shared),
                phones=tuple(x for x in phones if x not in shared),
                shared=tuple(v for v in (*emails, *phones) if v in shared and v not in placeholders),
                postcode=a.postcode,
                city=a.city,
                address=a.address,
                ids=tuple(tagged.get(r.rid, ())),
                country=a.country,
            )
        )
    return rows


def _bits(p: float) -> float:
    p = min(max(p, 1e-15), 1 - 1e-15)
    return math.log2(p / (1 - p))


def name_only(r: IdentityRecord) -> bool:
    """A record that names a person and gives nothing else to tell them by."""
    a = r.attrs
    return bool(a.person_name) and not (
        a.emails or a.phones or a.dob or a.postcode or a.address or r.identifiers or r.refs
    )


@dataclass
class _Run:
    """One resolution's graph of people, with the links it kept and the evidence it refused."""

    graph: _People
    kept: list[Link] = field(default_factory=list)
    conflicts: list[Link] = field(default_factory=list)

    def join(self, link: Link, *, personal: bool = True) -> bool:
        why = self.graph.join(link.left, link.right, personal=personal)
        if why is None:
            self.kept.append(link)
            return True
        self.conflicts.append(Link(link.left, link.right, link.method, link.score, {**link.evidence, "refused": why}))
        return False


def resolve_people(
    records: Sequence[IdentityRecord],
    rules: Sequence[Any],
    *,
    threshold: float,
    review_threshold: float | None = None,
    model_path: Path | None = None,
    model: dict[str, Any] | None = None,
    link_pins: Sequence[tuple[str, str]] = (),
    unlink_pins: Sequence[tuple[str, str]] = (),
    evidence_identifiers: frozenset[str] = frozenset(),
) -> Resolution:
    """Cluster records into people. Records with nothing to tell a person by stay unresolved."""
    usable = [r for r in records if r.has_evidence or r.refs]
    usable_ids = {r.rid for r in usable}
    unresolved = sorted(r.rid for r in records if r.rid not in usable_ids)
    persons = {r.rid: _person(r) for r in usable}
    failures: dict[str, int] = {}
    sided: dict[str, list[str]] = {}
    tagged = tagged_values(usable, rules, evidence_identifiers, failures, sided)

    holders = _holders(usable)
    shared = shared_values(holders, persons)
    # A value on more records than a household holds is a placeholder: not even weight.
    placeholders = {v for v in shared if len(holders[v]) > MOST_HOLDERS}
    run = _Run(_People(persons, _within(unlink_pins, usable_ids)))

    for a, b in _within(link_pins, usable_ids):
        run.join(Link(a, b, "pinned", 1.0, {"pin": "link"}), personal=False)
    _join_keys(run, usable, holders, shared, sided, evidence_identifiers)

    # Evidence, strongest first.
    floor = min(threshold, review_threshold if review_threshold is not None else threshold)
    rows = person_rows(usable, persons, shared, tagged, placeholders)
    outcome = match_people(
        rows,
        floor_bits=_bits(floor),
        model=model if reusable(model) else None,
        model_path=model_path,
        evidence_bits=NEAR_BITS,
    )
    edges = sorted(outcome.links, key=lambda m: (-m.weight, m.left, m.right))
    review = _join_evidence(run, edges, name_places(usable, persons), _bits(threshold), _bits(floor))
    _nearest(run, edges, review)
    clusters = run.graph.groups()
    return Resolution(
        clusters,
        run.kept,
        review,
        unresolved,
        run.conflicts,
        outcome.model,
        outcome.trained,
        len(records),
        failures,
        {},
        len(usable),
        name_only=_known_by_name_only(clusters, usable),
        shared_values=len(shared),
        refused_values=_refused(records),
    )


def _within(pins: Sequence[tuple[str, str]], usable_ids: set[str]) -> list[tuple[str, str]]:
    """The pairs both of whose records are usable."""
    return [(a, b) for a, b in pins if a in usable_ids and b in usable_ids]


def _known_by_name_only(clusters: Sequence[list[str]], usable: Sequence[IdentityRecord]) -> list[str]:
    """Customers of one record that names a person and gives nothing else to tell them by."""
    by_rid = {r.rid: r for r in usable}
    return sorted(g[0] for g in clusters if len(g) == 1 and name_only(by_rid[g[0]]))


def _refused(records: Sequence[IdentityRecord]) -> dict[str, int]:
    """Values refused as evidence, by reason."""
    return dict(Counter(why for r in records for why in r.attrs.refused))


def _holders(usable: Sequence[IdentityRecord]) -> dict[str, list[str]]:
    """Each personal e-mail (relays aside) and phone, to the records holding it."""
    holders: dict[str, list[str]] = defaultdict(list)
    for r in usable:
        for e in dict.fromkeys(personal_email(x) for x in r.attrs.emails):
            if e and not is_relay(e):
                holders[e].append(r.rid)
        for ph in r.attrs.phones:
            holders[ph].append(r.rid)
    return holders


def _join_keys(
    run: _Run,
    usable: Sequence[IdentityRecord],
    holders: Mapping[str, list[str]],
    shared: set[str],
    sided: Mapping[str, Sequence[str]],
    evidence_identifiers: frozenset[str],
) -> None:
    """Keys: a personal e-mail, a key identifier, a rule's reference (the referring side to the referred)."""
    emails = {v: rids for v, rids in holders.items() if "@" in v and v not in shared}
    for value, rids in sorted(emails.items()):
        for other in rids[1:]:
            run.join(Link(rids[0], other, "email", 1.0, {"email": value}))
    for attr, value, rids in identifier_groups(usable, evidence_identifiers):
        for other in rids[1:]:
            run.join(Link(rids[0], other, "identifier", 1.0, {"identifier": attr, "value": value}))
    for value, (left, right) in sorted(_rule_refs(sided).items()):
        for x in left:
            for y in right:
                run.join(Link(x, y, "rule", 1.0, {"rule": value}))


def _rule_refs(sided: Mapping[str, Sequence[str]]) -> dict[str, tuple[list[str], list[str]]]:
    """Each rule value: the records referring by it, and the records referred to."""
    refs: dict[str, tuple[list[str], list[str]]] = defaultdict(lambda: ([], []))
    for rid, tags in sided.items():
        for tag in tags:
            head, value = tag.split(":", 1)
            refs[f"{head[:-1]}:{value}"][head[-1] == ">"].append(rid)
    return refs


def _join_evidence(
    run: _Run, edges: Sequence[MatchLink], places: Mapping[str, list[str]], t_bits: float, floor_bits: float
) -> list[MatchLink]:
    """Join on scored evidence over the threshold, strongest first; the borderline pairs, for review.

    A name at an address is one person unless records of that name there are known to be
    several (a father and son of one name): then a match inside needs personal evidence.
    """
    place_keys: dict[str, list[str]] = defaultdict(list)
    for key, rids in places.items():
        for rid in rids:
            place_keys[rid].append(key)
    review = []
    graph = run.graph
    for m in edges:
        if graph.find(m.left) == graph.find(m.right):
            continue
        if _wants_personal(graph, m, places, place_keys):
            if m.weight >= floor_bits:
                review.append(m)
            continue
        if m.weight >= t_bits:
            run.join(Link(m.left, m.right, "match", m.probability, {"weights": m.weights}))
        elif m.weight >= floor_bits:
            review.append(m)
    return review


def _wants_personal(
    graph: _People, m: MatchLink, places: Mapping[str, list[str]], place_keys: Mapping[str, list[str]]
) -> bool:
    """Records of one name at one place, known to be several people, matched without personal evidence."""
    common = set(place_keys.get(m.left, ())) & set(place_keys.get(m.right, ()))
    return bool(
        common
        and not any(m.weights.get(c, 0.0) > 0 for c in PERSONAL_EVIDENCE)
        and any(_several_people(graph, places[k]) for k in sorted(common))
    )


def _nearest(run: _Run, edges: Sequence[MatchLink], review: list[MatchLink]) -> None:
    """A record left a customer of its own: its nearest candidates, for a steward to see why not."""
    graph = run.graph
    listed = {(m.left, m.right) for m in review} | {(c.left, c.right) for c in run.conflicts}
    shown: Counter[str] = Counter()
    for m in edges:
        if (m.left, m.right) in listed or graph.find(m.left) == graph.find(m.right):
            continue
        alone_sides = [x for x in (m.left, m.right) if len(graph.members[graph.find(x)]) == 1 and shown[x] < NEAREST]
        if alone_sides:
            review.append(m)
            shown.update(alone_sides)
