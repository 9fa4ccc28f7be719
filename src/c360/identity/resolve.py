"""Resolution: deterministic rules first, probabilistic matches next, clusters last."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from c360.identity.matching import MatchLink, match
from c360.identity.records import IdentityRecord
from c360.spec.validate import Rule


@dataclass(frozen=True)
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

    def evidence(self) -> dict[str, Link]:
        """For each record, the strongest link that placed it in its cluster."""
        best: dict[str, Link] = {}
        for link in self.links:
            for rid in (link.left, link.right):
                cur = best.get(rid)
                if cur is None or _rank(link) > _rank(cur):
                    best[rid] = link
        return best


_METHOD_RANK = {"pinned": 3, "rule": 2, "match": 1}


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
    model_path: Path | None = None,
    link_pins: Sequence[tuple[str, str]] = (),
    unlink_pins: Sequence[tuple[str, str]] = (),
) -> Resolution:
    """Cluster records into customers. Records with no usable evidence stay unresolved.

    Steward pins come first and always win: a linked pair is joined, an unlinked pair is
    never joined, whatever the evidence. Then rules, then matches from the most to the least
    probable, so a weak link cannot chain two strong clusters a pin keeps apart.
    """
    ids = {r.rid for r in records}
    pinned = {rid for pair in link_pins for rid in pair if rid in ids}
    usable = [r for r in records if r.has_evidence or r.refs or r.rid in pinned]
    unresolved = sorted(r.rid for r in records if r.rid not in {u.rid for u in usable})
    links = [Link(a, b, "pinned", 1.0, {"pin": "link"}) for a, b in link_pins if a in ids and b in ids]
    links += rule_links(usable, rules)
    matchable = [r for r in usable if r.has_evidence]
    matched, review = match(matchable, grain=grain, threshold=threshold,
                            review_threshold=review_threshold, model_path=model_path)
    matched.sort(key=lambda m: -m.probability)
    links += [Link(m.left, m.right, "match", m.probability, {"weights": m.weights}) for m in matched]
    uf = UnionFind((r.rid for r in usable), apart=unlink_pins)
    kept = [link for link in links if uf.union(link.left, link.right)]
    return Resolution(uf.groups(), kept, review, unresolved)
