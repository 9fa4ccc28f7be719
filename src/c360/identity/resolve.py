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
                if cur is None or (link.method == "rule" and cur.method != "rule") or (
                    link.method == cur.method and link.score > cur.score
                ):
                    best[rid] = link
        return best


class UnionFind:
    def __init__(self, items: Iterable[str]) -> None:
        self.parent = {i: i for i in items}

    def find(self, x: str) -> str:
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:  # path compression
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            if rb < ra:
                ra, rb = rb, ra
            self.parent[rb] = ra

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
) -> Resolution:
    """Cluster records into customers. Records with no usable evidence stay unresolved."""
    usable = [r for r in records if r.has_evidence or r.refs]
    unresolved = sorted(r.rid for r in records if not (r.has_evidence or r.refs))
    links = rule_links(usable, rules)
    matchable = [r for r in usable if r.has_evidence]
    matched, review = match(matchable, grain=grain, threshold=threshold,
                            review_threshold=review_threshold, model_path=model_path)
    links += [Link(m.left, m.right, "match", m.probability, {"weights": m.weights}) for m in matched]
    uf = UnionFind(r.rid for r in usable)
    for link in links:
        uf.union(link.left, link.right)
    return Resolution(uf.groups(), links, review, unresolved)
