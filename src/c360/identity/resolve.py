"""Resolution: deterministic rules first, probabilistic matches next, clusters last."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from c360.identity.matching import MatchLink, match
from c360.identity.records import IdentityRecord
from c360.identity.rollup import GROUP_SOURCE, Rollup, group_domain, roll_up
from c360.spec.validate import Rule


@dataclass(frozen=True, slots=True)
class Link:
    left: str
    right: str
    method: str  # rule | match
    score: float
    evidence: dict[str, Any]


@dataclass
class Resolution:
    clusters: list[list[str]]
    links: list[Link]
    review: list[MatchLink] = field(default_factory=list)
    unresolved: list[str] = field(default_factory=list)
    conflicts: list[Link] = field(default_factory=list)  # rule links the evidence refuted
    model: dict[str, Any] | None = None  # the matching model that scored this run
    trained: bool = False  # trained on this run's records (else a stored model was reused)
    records: int = 0  # how many records were resolved

    def evidence(self) -> dict[str, Link]:
        """For each record, the strongest link that placed it in its cluster."""
        best: dict[str, Link] = {}
        for link in self.links:
            for rid in (link.left, link.right):
                cur = best.get(rid)
                if cur is None or _rank(link) > _rank(cur):
                    best[rid] = link
        return best


_METHOD_RANK = {"pinned": 4, "rule": 3, "domain": 2, "organisation": 2, "match": 1}


def _rank(link: Link) -> tuple[int, float]:
    return (_METHOD_RANK.get(link.method, 0), link.score)


class UnionFind:
    """Connected components, with pairs that must never end up together (steward unlinks)."""

    def __init__(self, items: Iterable[str], apart: Iterable[tuple[str, str]] = ()) -> None:
        self.parent = {i: i for i in items}
        self.members: dict[str, set[str]] = {}
        self.forbidden: dict[str, set[str]] = {}
        for a, b in apart:
            if a in self.parent and b in self.parent:
                self.forbidden.setdefault(a, set()).add(b)
                self.forbidden.setdefault(b, set()).add(a)
                self.members.setdefault(a, {a})
                self.members.setdefault(b, {b})

    def allowed(self, a: str, b: str) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return True
        fa, fb = self.forbidden.get(ra), self.forbidden.get(rb)
        if not fa and not fb:
            return True
        return not (fa and fa & self.members.get(rb, {rb})) and not (fb and fb & self.members.get(ra, {ra}))

    def find(self, x: str) -> str:
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:  # path compression
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: str, b: str) -> bool:
        """Join the components of ``a`` and ``b`` unless a pin keeps them apart."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return True
        if not self.allowed(a, b):
            return False
        if rb < ra:
            ra, rb = rb, ra
        self.parent[rb] = ra
        if ra in self.forbidden or rb in self.forbidden:
            self.members[ra] = self.members.get(ra, {ra}) | self.members.pop(rb, {rb})
            self.forbidden[ra] = self.forbidden.get(ra, set()) | self.forbidden.pop(rb, set())
        return True

    def groups(self) -> list[list[str]]:
        out: dict[str, list[str]] = defaultdict(list)
        for x in self.parent:
            out[self.find(x)].append(x)
        return sorted((sorted(g) for g in out.values()), key=lambda g: g[0])


def rule_links(records: Sequence[IdentityRecord], rules: Sequence[Rule]) -> list[Link]:
    """Links from trusted cross-references, e.g. ``billing.crm_account_id = crm.Id``."""
    out = []
    for rule in rules:
        index: dict[str, list[str]] = defaultdict(list)
        for r in records:
            if r.source == rule.right_source and rule.right_column in r.refs:
                index[r.refs[rule.right_column]].append(r.rid)
        for r in records:
            if r.source != rule.left_source or rule.left_column not in r.refs:
                continue
            for target in index.get(r.refs[rule.left_column], ()):
                out.append(Link(r.rid, target, "rule", 1.0, {"rule": str(rule), "value": r.refs[rule.left_column]}))
    return out


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
) -> Resolution:
    """Cluster records into customers. Records with no usable evidence stay unresolved.

    1. Steward pins come first and always win: a linked pair is joined, an unlinked pair
       is never joined, whatever the evidence.
    2. Trusted rules, then probabilistic matches from the most to the least probable, join
       the *account* records (everything but people).
    3. People (one at a time, or a domain's people rolled up together) then join one
       account each, through their best match, and only when it is not ambiguous: when a
       second account scores within ``AMBIGUOUS_BITS`` of the best, the person is left for
       review instead of guessed. A free-mail requester naming "Acme Coffee" must neither
       pick the Leeds or the York franchise at random nor chain the two into one customer.
    """
    previous = previous or {}
    ids = {r.rid for r in records}
    by_rid = {r.rid: r for r in records}
    pinned = {rid for pair in link_pins for rid in pair if rid in ids}
    usable = [r for r in records if r.has_evidence or r.refs or r.rid in pinned]
    usable_ids = {u.rid for u in usable}
    unresolved = [r.rid for r in records if r.rid not in usable_ids]
    matchable = [r for r in usable if r.has_evidence]
    rolled = roll_up(matchable, person_sources, previous) if grain == "account" else Rollup(matchable, {})
    attach = attach_threshold if attach_threshold is not None else threshold
    review_floor = min(attach, review_threshold if review_threshold is not None else threshold)
    outcome = match(rolled.records, grain=grain, threshold=min(threshold, review_floor),
                    review_threshold=None, model_path=model_path, model=model)
    matched = outcome.links
    matched.sort(key=lambda m: (-m.probability, m.left, m.right))
    # At person grain the people are the customers: none of them is "loose".
    loose = {r.rid for r in rolled.records if r.source in person_sources or r.source == GROUP_SOURCE} \
        if grain == "account" else set()

    uf = UnionFind([r.rid for r in usable] + list(rolled.members), apart=unlink_pins)
    kept: list[Link] = []

    def join(link: Link) -> None:
        if uf.union(link.left, link.right):
            kept.append(link)

    for a, b in link_pins:
        if a in ids and b in ids:
            join(Link(a, b, "pinned", 1.0, {"pin": "link"}))
    conflicts: list[Link] = []
    partners: dict[str, list[MatchLink]] = defaultdict(list)
    for m in matched:
        partners[m.left].append(m)
        partners[m.right].append(m)
    for link in rule_links(usable, rules):
        if _contradicted(link, partners.get(link.left, ()), threshold):
            conflicts.append(link)
        else:
            join(link)
    # Accounts with accounts.
    for m in matched:
        if m.probability >= threshold and m.left not in loose and m.right not in loose:
            join(Link(m.left, m.right, "match", m.probability, {"weights": m.weights}))
    # People with accounts: the best candidate account, unless another is nearly as likely.
    candidates: dict[str, list[MatchLink]] = defaultdict(list)
    for m in matched:
        for person, other in ((m.left, m.right), (m.right, m.left)):
            if person in loose and other not in loose:
                candidates[person].append(m)
    review_out: list[MatchLink] = [m for m in matched if threshold > m.probability >= review_floor
                                   and not (m.left in loose or m.right in loose)]
    for person in sorted(candidates):
        best: dict[str, MatchLink] = {}
        for m in candidates[person]:
            other = m.right if m.left == person else m.left
            root = uf.find(other)
            if root not in best or m.probability > best[root].probability:
                best[root] = m
        ranked = sorted(best.values(), key=lambda m: -m.probability)
        top = ranked[0]
        runner_up = ranked[1] if len(ranked) > 1 else None
        ambiguous = runner_up is not None and runner_up.probability >= review_floor and \
            _bits(top.probability) - _bits(runner_up.probability) < AMBIGUOUS_BITS
        if top.probability >= attach and not ambiguous:
            join(Link(top.left, top.right, "match", top.probability, {"weights": top.weights}))
            continue
        # Too close to call afresh; but if the person already belonged to one of the close
        # candidates, a newcomer that merely resembles it is no reason to move them.
        before = _previous_customer(person, previous, rolled.members)
        kept_with = next((m for m in ranked if m.probability >= attach and before is not None
                          and previous.get(m.right if m.left == person else m.left) == before), None)
        if kept_with is not None:
            join(Link(kept_with.left, kept_with.right, "match", kept_with.probability,
                      {"weights": kept_with.weights, "kept": "previous decision, candidates too close"}))
        elif top.probability >= review_floor:
            review_out.extend(m for m in ranked if m.probability >= review_floor)
    # A person rolled into a domain group joins whatever the group joins.
    for group, people in rolled.members.items():
        shared = {"domain": group_domain(group)}  # one evidence for the group's people
        for rid in people:
            name = rolled.by_organisation.get(rid)
            if name is None:
                join(Link(group, rid, "domain", 1.0, shared))
            else:  # no corporate domain of their own: in the group by the organisation they name
                join(Link(group, rid, "organisation", 1.0, {"organisation": name, **shared}))
    clusters = []
    for g in uf.groups():
        members = [rid for rid in g if not rid.startswith(GROUP_SOURCE + ":")]
        # At account grain a person nothing places (a free-mail address, no organisation, no
        # exact e-mail match) is not an account: leave them unresolved rather than guess.
        if grain == "account" and len(members) == 1 and members[0].split(":", 1)[0] in person_sources \
                and not _placeable(by_rid[members[0]]):
            unresolved.append(members[0])
        elif members:
            clusters.append(members)
    return Resolution(clusters, kept, review_out, sorted(unresolved), conflicts, outcome.model, outcome.trained,
                      len(records))


def _contradicted(link: Link, matched: Sequence[MatchLink], threshold: float) -> bool:
    """A cross-reference the evidence refutes: a stale ``crm_account_id``, say.

    The rule says ``left`` is ``right``; it is refuted when the two records did not even
    reach the candidate list, while ``left`` matches *another* record of ``right``'s source
    with confidence. Such a link is not applied and is reported as a conflict. ``matched``
    holds the candidate pairs that involve ``left``.
    """
    right_source = link.right.split(":", 1)[0]
    pair_seen = False
    elsewhere = False
    for m in matched:
        if link.left not in (m.left, m.right):
            continue
        other = m.right if m.left == link.left else m.left
        if other == link.right:
            pair_seen = True
        elif other.split(":", 1)[0] == right_source and m.probability >= threshold:
            elsewhere = True
    return elsewhere and not pair_seen


# Two candidate accounts whose match weights differ by less than this (3 bits: 8 times as
# likely) are too close to choose between without a steward.
AMBIGUOUS_BITS = 3.0


def _bits(p: float) -> float:
    p = min(max(p, 1e-12), 1 - 1e-12)
    return math.log2(p / (1 - p))


def _previous_customer(rid: str, previous: Mapping[str, str], members: Mapping[str, list[str]]) -> str | None:
    """The customer ``rid`` (a record, or a domain group through its people) belonged to before."""
    if rid in members:
        votes = Counter(previous[m] for m in members[rid] if m in previous)
        return min(votes.items(), key=lambda kv: (-kv[1], kv[0]))[0] if votes else None
    return previous.get(rid)


def _placeable(record: IdentityRecord) -> bool:
    a = record.attrs
    return bool(a.name or a.email_domain or a.web_domain or a.phone)
