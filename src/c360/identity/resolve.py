"""Resolution over the identity graph: keys, then scored evidence, clustered under constraints.

Every record is a node, whatever its source: an account in the CRM, a billing customer, a
ticket, a product user. Edges come in three strengths, applied strongest first:

1. **Steward pins** always win: a linked pair is joined, an unlinked pair never is.
2. **Keys** link by themselves: the same e-mail address on two records, a declared identifier
   with ``strength: key`` (a product workspace id). The clusters they make are *atoms*.
3. **Evidence**, scored by Splink between atoms of any kind: names, domains, phones,
   postcodes, cities, person names, evidence identifiers and rule values. A declared rule
   (``billing.crm_account_id = crm.Id``) links by itself too, but is weighed with the rest of
   the pair's evidence, so a stale or wrong cross-reference loses to a better candidate.

Clustering honours constraints (:mod:`c360.identity.graph`): records a source keeps apart (two
CRM accounts, an account and its parent) join only on direct evidence that they are
duplicates, and steward unlinks always hold. Atoms too weak to found a customer (a ticket with
no organisation and only a corporate e-mail domain) never join two customers: each attaches to
its best candidate only when no other is nearly as likely, and is left for review otherwise.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from c360.identity.atoms import Atom, build_atoms
from c360.identity.graph import Clusters, Refusal
from c360.identity.matching import MatchLink, MatchOutcome, match
from c360.identity.prepare import (
    SALESFORCE_SHARE,
    constrained_graph,
    default_distinct,
    key_groups,
    rule_values,
    tagged_values,
    usable_records,
)
from c360.identity.records import IdentityRecord
from c360.spec.validate import Rule

__all__ = [
    "AMBIGUOUS_BITS",
    "NEAREST",
    "SALESFORCE_SHARE",
    "WEAK_EVIDENCE_BITS",
    "Link",
    "Resolution",
    "resolve",
    "rule_values",
]


@dataclass(frozen=True, slots=True)
class Link:
    left: str
    right: str
    method: str  # pinned | email | identifier | rule | match
    score: float
    evidence: dict[str, Any]


@dataclass
class Resolution:
    clusters: list[list[str]]
    links: list[Link]
    review: list[MatchLink] = field(default_factory=list)
    unresolved: list[str] = field(default_factory=list)
    conflicts: list[Link] = field(default_factory=list)  # evidence a constraint refused
    model: dict[str, Any] | None = None  # the matching model that scored this run
    trained: bool = False  # trained on this run's records (else a stored model was reused)
    records: int = 0  # how many records were resolved
    transform_failures: dict[str, int] = field(default_factory=dict)  # rule side → values refused
    generic_names: dict[str, int] = field(default_factory=dict)  # names too widespread to compare
    atoms: int = 0
    name_only: list[str] = field(default_factory=list)  # customers known by nothing but a name
    shared_values: int = 0  # contact values several people hold (weight only, never a key)
    refused_values: dict[str, int] = field(default_factory=dict)  # values refused as evidence, by reason

    def evidence(self) -> dict[str, Link]:
        """For each record, the strongest link that placed it in its cluster."""
        best: dict[str, Link] = {}
        for link in self.links:
            for rid in (link.left, link.right):
                cur = best.get(rid)
                if cur is None or _rank(link) > _rank(cur):
                    best[rid] = link
        return best


_METHOD_RANK = {"pinned": 5, "email": 4, "identifier": 4, "rule": 3, "match": 1}


def _rank(link: Link) -> tuple[int, float]:
    return (_METHOD_RANK.get(link.method, 0), link.score)


# Two candidates whose match weights differ by less than this (3 bits: 8 times as likely) are
# too close to choose between without a steward.
AMBIGUOUS_BITS = 3.0
# A weak atom belongs to *some* customer: it joins the best candidate when the evidence alone
# (the Bayes factor, without the prior of two random atoms matching) is at least this strong.
WEAK_EVIDENCE_BITS = 6.0


def _bits(p: float) -> float:
    p = min(max(p, 1e-15), 1 - 1e-15)
    return math.log2(p / (1 - p))


@dataclass
class _Run:
    """One resolution's graph, with the links it kept and the evidence a constraint refused."""

    graph: Clusters
    kept: list[Link] = field(default_factory=list)
    conflicts: list[Link] = field(default_factory=list)

    def join(self, link: Link) -> bool:
        refused = self.graph.join(link.left, link.right)
        if refused is None:
            self.kept.append(link)
            return True
        self.conflicts.append(
            Link(link.left, link.right, link.method, link.score, {**link.evidence, "refused": _reason(refused)})
        )
        return False


@dataclass
class _Scored:
    """The scored edges between atoms, strongest first, and the bars they are read against."""

    atoms: dict[str, Atom]
    edges: list[MatchLink]
    t_bits: float  # the threshold
    floor_bits: float  # the review floor
    prior_bits: float  # two random atoms matching
    weak_bits: float  # what places a weak atom: the prior plus WEAK_EVIDENCE_BITS


@dataclass
class _Placing:
    """Placing atoms with customers: what is decided, and what a steward is to review."""

    run: _Run
    scored: _Scored
    previous: Mapping[str, str]
    review: list[MatchLink] = field(default_factory=list)
    placed: set[str] = field(default_factory=set)
    undecided: set[str] = field(default_factory=set)


def resolve(
    records: Sequence[IdentityRecord],
    rules: Sequence[Rule],
    *,
    grain: str,
    threshold: float,
    review_threshold: float | None = None,
    attach_threshold: float | None = None,
    model_path: Path | None = None,
    model: dict[str, Any] | None = None,
    link_pins: Sequence[tuple[str, str]] = (),
    unlink_pins: Sequence[tuple[str, str]] = (),
    person_sources: frozenset[str] = frozenset(),
    previous: Mapping[str, str] | None = None,
    distinct_sources: frozenset[str] | None = None,
    evidence_identifiers: frozenset[str] = frozenset(),
) -> Resolution:
    """Cluster records into customers. Records with no usable evidence stay unresolved.

    ``distinct_sources`` hold records that are different customers unless direct evidence says
    they are duplicates. Default: at account grain with sources of people (``person_sources``,
    a support desk, a product's users), the other sources (the CRM, billing); otherwise none,
    so that systems of accounts alone are deduplicated within and across themselves.
    ``evidence_identifiers``: declared identifiers that only add weight (the others are keys).
    """
    previous = previous or {}
    if distinct_sources is None:
        distinct_sources = default_distinct(records, grain, person_sources)
    by_rid = {r.rid: r for r in records}
    usable = usable_records(records, link_pins)
    usable_ids = {u.rid for u in usable}
    unresolved = [r.rid for r in records if r.rid not in usable_ids]
    failures: dict[str, int] = {}
    sided: dict[str, list[str]] = {}
    tagged = tagged_values(usable, rules, evidence_identifiers, failures, sided)
    run = _Run(constrained_graph(usable, usable_ids, unlink_pins, distinct_sources))

    # 1. Steward pins: the steward's word makes a pair duplicates, whatever a source says; the
    #    customers around the two are joined whole once everything else is clustered.
    for a, b in link_pins:
        if a in usable_ids and b in usable_ids:
            run.graph.add_duplicate(a, b)
    # 2. Keys: records sharing an e-mail address or a key identifier.
    _join_keys(run, key_groups(usable, evidence_identifiers), by_rid, distinct_sources)

    # 3. Evidence between atoms, scored.
    atom_set = build_atoms(run.graph.groups(), by_rid, distinct_sources, tagged, person_sources, sided)
    attach = attach_threshold if attach_threshold is not None else threshold
    review_floor = min(attach, review_threshold if review_threshold is not None else threshold)
    outcome = match(
        atom_set.atoms,
        grain=grain,
        threshold=min(threshold, review_floor),
        review_threshold=None,
        model_path=model_path,
        model=model,
        evidence_bits=WEAK_EVIDENCE_BITS - AMBIGUOUS_BITS,
    )
    scored = _score(atom_set.atoms, outcome, threshold, review_floor)
    _name_duplicates(run.graph, scored.edges, threshold)
    placing = _cluster_atoms(run, scored, previous, grain, person_sources)
    _nearest(run.graph, scored, placing.review)
    _join_link_pins(run, link_pins, usable_ids)
    clusters = _customers(run.graph, grain, by_rid, person_sources, unresolved)
    return Resolution(
        clusters,
        run.kept,
        placing.review,
        sorted(unresolved),
        run.conflicts,
        outcome.model,
        outcome.trained,
        len(records),
        failures,
        atom_set.generic_names,
        len(atom_set.atoms),
    )


# -- before scoring: the keys ---------------------------------------------------------------


def _join_keys(
    run: _Run,
    key_groups: Sequence[tuple[str, dict[str, Any], list[str]]],
    by_rid: Mapping[str, IdentityRecord],
    distinct_sources: frozenset[str],
) -> None:
    """Join the records of each key; a key between two account records is direct evidence."""
    for method, evidence, rids in key_groups:
        if len(rids) < 2:
            continue
        if distinct_sources:
            held = [r for r in rids if by_rid[r].source in distinct_sources]
            for i, x in enumerate(held):  # direct evidence between two account records
                for y in held[i + 1 :]:
                    run.graph.add_duplicate(x, y)
        for other in rids[1:]:
            run.join(Link(rids[0], other, method, 1.0, evidence))


# -- scoring: the matcher's edges, and the rules' -------------------------------------------


def _score(atom_list: Sequence[Atom], outcome: MatchOutcome, threshold: float, review_floor: float) -> _Scored:
    """Every scored edge between atoms, strongest first; a rule links alone, even when the rest disagrees."""
    atoms = {a.rid: a for a in atom_list}
    scored = {(m.left, m.right): m for m in (*outcome.links, *outcome.review)}
    for a, b in _rule_pairs(atom_list):
        if (a, b) not in scored and (b, a) not in scored:
            scored[(a, b)] = MatchLink(a, b, threshold, {"identifier": 0.0}, _bits(threshold))
    t_bits, floor_bits = _bits(threshold), _bits(review_floor)
    lam = float((outcome.model or {}).get("probability_two_random_records_match") or 0.5)
    prior_bits = _bits(lam)
    edges = sorted(scored.values(), key=lambda m: (-_edge_bits(m, atoms, t_bits), m.left, m.right))
    return _Scored(atoms, edges, t_bits, floor_bits, prior_bits, prior_bits + WEAK_EVIDENCE_BITS)


def _name_duplicates(graph: Clusters, edges: Sequence[MatchLink], threshold: float) -> None:
    """Direct evidence between atoms whose names agree makes their account records duplicates."""
    for m in edges:
        if m.probability >= threshold and m.weights.get("name", 0.0) > 0:
            left, right = graph.distinct_of(m.left), graph.distinct_of(m.right)
            for source, xs in left.items():
                for y in right.get(source, ()):
                    for x in xs:
                        graph.add_duplicate(x, y)


# -- clustering atoms on their evidence -------------------------------------------------------


def _cluster_atoms(
    run: _Run, scored: _Scored, previous: Mapping[str, str], grain: str, person_sources: frozenset[str]
) -> _Placing:
    """Seeds with seeds, then every other atom with its best candidate customer."""
    # Seeds hold account records (a CRM account, a billing customer): they found customers.
    # Everything else (a workspace and its users, a person's tickets) belongs to some customer.
    atoms = scored.atoms
    seeds = {rid for rid, a in atoms.items() if a.account} if grain == "account" and person_sources else set(atoms)
    placing = _Placing(run, scored, previous)
    _join_seeds(placing, seeds)
    _place_others(placing, seeds)
    return placing


def _join_seeds(placing: _Placing, seeds: set[str]) -> None:
    """Seeds with seeds, the strongest evidence first.

    Seeds of one source join only as duplicates (the posterior over the threshold). A seed of
    one system and a seed of another (a CRM account and a billing customer) are one customer's
    two faces far more often than two random atoms are: they also join on evidence alone, when
    neither has another candidate nearly as likely.
    """
    scored, graph = placing.scored, placing.run.graph
    atoms = scored.atoms
    seed_edges = [m for m in scored.edges if m.left in seeds and m.right in seeds]
    best_other = _other_candidates(seed_edges, atoms)
    for m in seed_edges:
        bits = _edge_bits(m, atoms, scored.t_bits)
        if graph.same(m.left, m.right):
            continue
        if bits >= scored.t_bits or _joins_across(placing, m, bits, best_other):
            placing.run.join(Link(m.left, m.right, _method(m, atoms), m.probability, {"weights": m.weights}))
        elif bits >= scored.floor_bits:
            placing.review.append(m)


def _other_candidates(seed_edges: Sequence[MatchLink], atoms: Mapping[str, Atom]) -> dict[str, list[tuple[float, str]]]:
    """Each seed's candidates in other systems, (weight, seed)."""
    best_other: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for m in seed_edges:
        if not _same_sources(atoms[m.left], atoms[m.right]):
            best_other[m.left].append((m.weight, m.right))
            best_other[m.right].append((m.weight, m.left))
    return best_other


def _joins_across(
    placing: _Placing, m: MatchLink, bits: float, best_other: Mapping[str, Sequence[tuple[float, str]]]
) -> bool:
    """Two seeds of different systems, one a distinct source's, join on evidence alone."""
    atoms, weak_bits = placing.scored.atoms, placing.scored.weak_bits
    left, right = atoms[m.left], atoms[m.right]
    cross = not _same_sources(left, right) and (left.distinct or right.distinct)
    # A newcomer that merely resembles one of them is no reason to part two seeds that were
    # one customer before.
    together = (
        before := _previous_customer(left.members, placing.previous)
    ) is not None and before == _previous_customer(right.members, placing.previous)
    return bool(
        cross
        and bits >= weak_bits
        and (
            together
            or (
                not _rival(placing, best_other, m.left, m.right, bits)
                and not _rival(placing, best_other, m.right, m.left, bits)
            )
        )
    )


def _rival(
    placing: _Placing, best_other: Mapping[str, Sequence[tuple[float, str]]], rid: str, partner: str, bits: float
) -> bool:
    """Another candidate of ``rid``, outside ``partner``'s customer, nearly as likely."""
    graph, weak_bits = placing.run.graph, placing.scored.weak_bits
    home, there = graph.find(rid), graph.find(partner)
    return any(
        w >= weak_bits and bits - w < AMBIGUOUS_BITS and graph.find(o) not in (home, there)
        for w, o in best_other.get(rid, ())
    )


def _place_others(placing: _Placing, seeds: set[str]) -> None:
    """The others: each with its best candidate customer, unless another is nearly as likely."""
    to_seeds, everyone = _candidates(placing.scored.edges, seeds)
    for rid in sorted(to_seeds):
        _place(placing, rid, to_seeds[rid])
    # What no seed claims: people's atoms among themselves (a company known only to support and
    # the product), strong evidence first; then each atom left with its best candidate
    # customer (a free-mail user naming a workspace its colleagues placed), by the same rule.
    _join_unclaimed(placing, seeds)
    undecided = placing.undecided
    for rid in sorted(everyone):
        if rid not in placing.placed and rid not in undecided:
            _place(placing, rid, [m for m in everyone[rid] if _other(m, rid) not in undecided])


def _candidates(
    edges: Sequence[MatchLink], seeds: set[str]
) -> tuple[dict[str, list[MatchLink]], dict[str, list[MatchLink]]]:
    """For each atom that is not a seed: its edges to seeds, and all its edges, strongest first."""
    to_seeds: dict[str, list[MatchLink]] = defaultdict(list)
    everyone: dict[str, list[MatchLink]] = defaultdict(list)
    for m in edges:
        for rid, other in ((m.left, m.right), (m.right, m.left)):
            if rid not in seeds:
                everyone[rid].append(m)
                if other in seeds:
                    to_seeds[rid].append(m)
    return to_seeds, everyone


def _join_unclaimed(placing: _Placing, seeds: set[str]) -> None:
    """Strong atoms no seed claimed, with each other on evidence over the threshold."""
    scored, atoms = placing.scored, placing.scored.atoms
    settled = seeds | placing.placed | placing.undecided
    for m in scored.edges:
        if m.left in settled or m.right in settled:
            continue
        if atoms[m.left].strong and atoms[m.right].strong and _edge_bits(m, atoms, scored.t_bits) >= scored.t_bits:
            placing.run.join(Link(m.left, m.right, _method(m, atoms), m.probability, {"weights": m.weights}))


def _place(placing: _Placing, rid: str, cands: Sequence[MatchLink]) -> None:
    """Place ``rid`` with its best candidate customer, unless another is nearly as likely."""
    ranked = _ranked_candidates(placing.run.graph, rid, cands)
    if not ranked:
        return
    weak_bits = placing.scored.weak_bits
    top, runner_up = ranked[0], (ranked[1] if len(ranked) > 1 else None)
    ambiguous = (
        runner_up is not None and runner_up.weight >= weak_bits and top.weight - runner_up.weight < AMBIGUOUS_BITS
    )
    if top.weight >= weak_bits and not ambiguous:
        link = Link(top.left, top.right, _method(top, placing.scored.atoms), top.probability, {"weights": top.weights})
        if placing.run.join(link):
            placing.placed.add(rid)
        return
    # Too close to call afresh; but if the atom already belonged to one of the close
    # candidates, a newcomer that merely resembles it is no reason to move it.
    kept_with = _kept_with(placing, rid, ranked)
    if kept_with is not None:
        evidence = {"weights": kept_with.weights, "kept": "previous decision, candidates too close"}
        if placing.run.join(Link(kept_with.left, kept_with.right, "match", kept_with.probability, evidence)):
            placing.placed.add(rid)
    elif ambiguous:
        placing.undecided.add(rid)  # between customers: for a steward, not for a customer of its own
        placing.review.extend(m for m in ranked if m.weight >= weak_bits)


def _ranked_candidates(graph: Clusters, rid: str, cands: Sequence[MatchLink]) -> list[MatchLink]:
    """The best edge to each customer ``rid`` is not in, strongest first."""
    best: dict[str, MatchLink] = {}
    for m in cands:
        root = graph.find(_other(m, rid))
        if root == graph.find(rid):
            continue
        if root not in best or m.weight > best[root].weight:
            best[root] = m
    return sorted(best.values(), key=lambda m: (-m.weight, m.left, m.right))


def _kept_with(placing: _Placing, rid: str, ranked: Sequence[MatchLink]) -> MatchLink | None:
    """The close candidate whose customer ``rid`` belonged to before, if any."""
    atoms, previous, weak_bits = placing.scored.atoms, placing.previous, placing.scored.weak_bits
    before = _previous_customer(atoms[rid].members, previous)
    return next(
        (
            m
            for m in ranked
            if m.weight >= weak_bits
            and before is not None
            and _previous_customer(atoms[_other(m, rid)].members, previous) == before
        ),
        None,
    )


def _other(m: MatchLink, rid: str) -> str:
    """The end of ``m`` that is not ``rid``."""
    return m.right if m.left == rid else m.left


# -- after clustering: candidates for review, steward links, the customers -------------------


def _nearest(graph: Clusters, scored: _Scored, review: list[MatchLink]) -> None:
    """An atom left a customer of its own: its nearest candidates, for a steward to see why not."""
    atoms = scored.atoms
    listed = {(m.left, m.right) for m in review}
    nearest: dict[str, int] = defaultdict(int)
    for m in scored.edges:  # strongest first
        if graph.same(m.left, m.right) or (m.left, m.right) in listed or m.weight < scored.prior_bits:
            continue
        for rid in (m.left, m.right):
            if len(atoms[rid].members) == _size(graph, rid) and nearest[rid] < NEAREST:
                nearest[rid] += 1
                if (m.left, m.right) not in listed:
                    listed.add((m.left, m.right))
                    review.append(m)


def _join_link_pins(run: _Run, link_pins: Sequence[tuple[str, str]], usable_ids: set[str]) -> None:
    """A steward's link joins the two customers whole, whatever else each holds."""
    for a, b in link_pins:
        if a in usable_ids and b in usable_ids and not run.graph.same(a, b):
            refused = run.graph.join(a, b, distinct=False)
            if refused is None:
                run.kept.append(Link(a, b, "pinned", 1.0, {"pin": "link"}))
            else:
                run.conflicts.append(Link(a, b, "pinned", 1.0, {"pin": "link", "refused": _reason(refused)}))


def _customers(
    graph: Clusters,
    grain: str,
    by_rid: Mapping[str, IdentityRecord],
    person_sources: frozenset[str],
    unresolved: list[str],
) -> list[list[str]]:
    """The clusters that are customers; the others' records go to ``unresolved``."""
    clusters = []
    for g in graph.groups():
        # At account grain people nothing places (a free-mail address, no organisation, no
        # exact e-mail match with anyone placed) are not an account: leave them unresolved
        # rather than make a customer of one person.
        if grain == "account" and all(by_rid[r].source in person_sources and not _placeable(by_rid[r]) for r in g):
            unresolved.extend(g)
        else:
            clusters.append(g)
    return clusters


# Candidates kept for each atom that stays a customer of its own (``identity explain`` shows them).
NEAREST = 3


def _size(graph: Clusters, rid: str) -> int:
    return graph.size(rid)


def _rule_pairs(atoms: Sequence[Atom]) -> list[tuple[str, str]]:
    """Atoms one of which refers, by a rule, to the other (never two that refer alike)."""
    by_value: dict[str, tuple[list[str], list[str]]] = defaultdict(lambda: ([], []))
    for a in atoms:
        for tag in a.refs:
            head, value = tag.split(":", 1)
            by_value[f"{head[:-1]}:{value}"][head[-1] == ">"].append(a.rid)
    out: list[tuple[str, str]] = []
    for left, right in by_value.values():
        out.extend((x, y) for x in left for y in right if x != y)
    return out


def _shares_rule(m: MatchLink, atoms: Mapping[str, Atom]) -> bool:
    """One atom of the pair refers, by a rule, to the other."""
    left, right = atoms[m.left].refs, atoms[m.right].refs
    if not left or not right:
        return False
    return bool({_other_side(t) for t in left} & set(right))


def _other_side(tag: str) -> str:
    head, value = tag.split(":", 1)
    return f"{head[:-1]}{'<' if head[-1] == '>' else '>'}:{value}"


def _edge_bits(m: MatchLink, atoms: Mapping[str, Atom], t_bits: float) -> float:
    """An edge's weight; a pair sharing a rule value weighs at least the threshold."""
    bits = m.weight
    if bits < t_bits and _shares_rule(m, atoms):
        return t_bits
    return bits


def _method(m: MatchLink, atoms: Mapping[str, Atom]) -> str:
    return "rule" if _shares_rule(m, atoms) else "match"


def _same_sources(a: Atom, b: Atom) -> bool:
    """Both atoms hold records of one source only, the same one (two CRM accounts)."""
    return len(a.sources) == 1 and a.sources == b.sources


def _reason(refused: Refusal) -> str:
    if refused.reason == "apart":
        return "kept apart (a steward's unlink or a parent account)"
    return f"{refused.left} and {refused.right} are different records of a source that keeps customers apart"


def _previous_customer(members: Sequence[str], previous: Mapping[str, str]) -> str | None:
    """The customer most of ``members`` belonged to before."""
    votes = Counter(previous[m] for m in members if m in previous)
    return min(votes.items(), key=lambda kv: (-kv[1], kv[0]))[0] if votes else None


def _placeable(record: IdentityRecord) -> bool:
    a = record.attrs
    return bool(a.name or a.email_domain or a.web_domain or a.phone or record.identifiers)
