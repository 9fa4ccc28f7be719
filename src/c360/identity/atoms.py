"""Atoms: the records that keys have already joined, described by all their evidence.

After the key edges of the identity graph (an exact e-mail address, a shared workspace id)
are applied, each cluster is an *atom*: one product workspace with its users, one person's
tickets, a CRM account alone. Probabilistic matching then compares atoms, not records, so a
workspace of fourteen users is compared once, with every name, domain, phone and postcode its
records carry.

A value that many unrelated atoms share is no evidence of anything: a workspace called "My
Workspace" on fifty companies' domains. Names seen on atoms of at least ``GENERIC_DOMAINS``
distinct domains are left out of the comparison (and counted).

Pure: no I/O.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from c360.identity.normalise import IdentityAttributes
from c360.identity.records import IdentityRecord

GENERIC_DOMAINS = 5
# A person's full name on atoms of this many distinct domains is a common name, not one person.
GENERIC_PERSON_DOMAINS = 3
# A person's name is evidence only when fewer namesakes than this are expected among the
# people of the data: the number of names times the share of names with that first word
# times the share with that last word (names drawn from small pools are never evidence).
NAMESAKE_LIMIT = 0.1


@dataclass(slots=True)
class Atom:
    rid: str  # the record that stands for it (its cluster root)
    members: list[str]
    names: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    postcodes: tuple[str, ...] = ()
    cities: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    person_names: tuple[str, ...] = ()
    ids: tuple[str, ...] = ()  # evidence identifiers and rule values, tagged by kind
    # Rule values with the side of the rule they were read on (``r0<:…`` the referring
    # column, ``r0>:…`` the referred one): a rule links a record to the other side only.
    refs: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    distinct: bool = False  # holds a record of a distinct source (a CRM account)
    account: bool = False  # holds a record of a source that is not people (an account record)

    @property
    def strong(self) -> bool:
        """Evidence enough to found or join a customer by itself: a name, or an account record."""
        return self.account or self.distinct or bool(self.names)


@dataclass
class AtomSet:
    atoms: list[Atom]
    generic_names: dict[str, int] = field(default_factory=dict)  # name → atoms it was dropped from
    generic_people: int = 0  # atoms that lost a person's name too common to tell people apart


def _distinct(values: Iterable[str | None]) -> tuple[str, ...]:
    counts = Counter(v for v in values if v)
    return tuple(v for v, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def build_atoms(
    groups: Sequence[Sequence[str]],
    by_rid: Mapping[str, IdentityRecord],
    distinct_sources: frozenset[str],
    ids: Mapping[str, Sequence[str]],
    person_sources: frozenset[str] = frozenset(),
    refs: Mapping[str, Sequence[str]] | None = None,
) -> AtomSet:
    """One atom per group of records (the first record names it).

    ``ids``: record → tagged ids; ``refs``: record → rule values tagged with their side.
    """
    atoms = [_atom(group, by_rid, distinct_sources, ids, person_sources, refs or {}) for group in groups]
    dropped, lost_people = _drop_generic(atoms)
    return AtomSet(atoms, dropped, lost_people)


def _atom(
    group: Sequence[str],
    by_rid: Mapping[str, IdentityRecord],
    distinct_sources: frozenset[str],
    ids: Mapping[str, Sequence[str]],
    person_sources: frozenset[str],
    refs: Mapping[str, Sequence[str]],
) -> Atom:
    """The atom of one group of records, with every value its records carry."""
    recs = [by_rid[r] for r in group]
    atom = Atom(
        rid=group[0],
        members=list(group),
        ids=_distinct(i for r in group for i in ids.get(r, ())),
        refs=_distinct(i for r in group for i in refs.get(r, ())),
        sources=_distinct(r.source for r in recs),
        distinct=any(r.source in distinct_sources for r in recs),
        account=any(r.source not in person_sources for r in recs),
    )
    _describe(atom, [r.attrs for r in recs])
    return atom


def _describe(atom: Atom, a: Sequence[IdentityAttributes]) -> None:
    """The names, domains, phones and places of an atom's records, the most common first."""
    atom.names = _distinct(x.name for x in a)
    atom.domains = _distinct(d for x in a for d in (x.web_domain, x.email_domain))
    atom.phones = _distinct(x.phone for x in a)
    atom.postcodes = _distinct(x.postcode for x in a)
    atom.cities = _distinct(x.city for x in a)
    atom.countries = _distinct(x.country for x in a)
    atom.person_names = _distinct(x.person_name for x in a if x.person_name and " " in x.person_name)


def _drop_generic(atoms: Sequence[Atom]) -> tuple[dict[str, int], int]:
    """Leave out names too widespread to be evidence: (name → atoms it was dropped from, atoms that lost a person).

    Names spread over many unrelated domains are placeholders, not company names; a person's
    name on several companies' domains is several people.
    """
    dropped: Counter[str] = Counter()
    generic = _spread(atoms, "names", GENERIC_DOMAINS)
    generic_people = _spread(atoms, "person_names", GENERIC_PERSON_DOMAINS) | _common_people(atoms)
    lost_people = 0
    for atom in atoms:
        if generic and any(n in generic for n in atom.names):
            dropped.update(n for n in atom.names if n in generic)
            atom.names = tuple(n for n in atom.names if n not in generic)
        if generic_people and any(n in generic_people for n in atom.person_names):
            lost_people += 1
            atom.person_names = tuple(n for n in atom.person_names if n not in generic_people)
    return dict(dropped), lost_people


def _common_people(atoms: Sequence[Atom]) -> set[str]:
    """People's names so common that a namesake is expected (see :data:`NAMESAKE_LIMIT`)."""
    names = {n for a in atoms for n in a.person_names}
    if not names:
        return set()
    first = Counter(n.split()[0] for n in names)
    last = Counter(n.split()[-1] for n in names)
    total = len(names)
    return {n for n in names if first[n.split()[0]] * last[n.split()[-1]] / total >= NAMESAKE_LIMIT}


def _spread(atoms: Sequence[Atom], attr: str, limit: int) -> set[str]:
    """Values of ``attr`` found on atoms of at least ``limit`` distinct domains."""
    spread: dict[str, set[str]] = defaultdict(set)
    for atom in atoms:
        for n in getattr(atom, attr):
            spread[n].update(atom.domains)
    return {n for n, ds in spread.items() if len(ds) >= limit}
