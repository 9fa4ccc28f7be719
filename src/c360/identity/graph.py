"""The identity graph's clustering: components that respect constraints.

Nodes are source records. Edges are evidence between two records, applied strongest first;
an edge joins the two clusters of its records unless a constraint keeps them apart:

- a pair kept apart (a steward's unlink, a CRM account and its ``parent``) is never joined,
  whatever joins the clusters around them;
- records of a *distinct* source (a CRM's accounts) are different customers: two clusters
  each holding one of its records join only when every such pair across them is a declared
  duplicate (direct evidence between the two records themselves, not a chain through others).

An edge refused is kept as a conflict with the constraint that refused it, so a steward can see
what the evidence said and why it did not hold.

Pure: no I/O.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Refusal:
    reason: str  # apart | distinct
    left: str
    right: str


class Clusters:
    """Union-find over records with cannot-link constraints, checked at every join."""

    def __init__(
        self, items: Iterable[str], *, distinct: Mapping[str, str] | None = None, apart: Iterable[tuple[str, str]] = ()
    ) -> None:
        """``distinct``: record → its distinct source, for records of such sources only."""
        self.parent: dict[str, str] = {}
        for i in items:
            self.parent[i] = i
        self._size: dict[str, int] = {}
        # Per root: its distinct records by source, and the records it must never hold.
        self._distinct: dict[str, dict[str, list[str]]] = {}
        for rid, source in (distinct or {}).items():
            if rid in self.parent:
                self._distinct[rid] = {source: [rid]}
        self._apart: dict[str, set[str]] = defaultdict(set)
        self._members: dict[str, set[str]] = {}  # roots with constraints: their members
        for a, b in apart:
            if a in self.parent and b in self.parent and a != b:
                self._apart[a].add(b)
                self._apart[b].add(a)
                self._members.setdefault(a, {a})
                self._members.setdefault(b, {b})
        self._duplicates: set[frozenset[str]] = set()

    def add_duplicate(self, a: str, b: str) -> None:
        """Direct evidence says distinct records ``a`` and ``b`` are one customer."""
        self._duplicates.add(frozenset((a, b)))

    def is_duplicate(self, a: str, b: str) -> bool:
        return frozenset((a, b)) in self._duplicates

    def find(self, x: str) -> str:
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:  # path compression
            self.parent[x], x = root, self.parent[x]
        return root

    def distinct_of(self, x: str) -> dict[str, list[str]]:
        """The distinct records in ``x``'s cluster, by source."""
        return self._distinct.get(self.find(x), {})

    def refusal(self, a: str, b: str, *, distinct: bool = True) -> Refusal | None:
        """Why the clusters of ``a`` and ``b`` may not join, or None when they may.

        ``distinct=False`` checks the pairs kept apart only (a steward's link overrides a source's
        separation of its records, never a steward's unlink).
        """
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return None
        fa, fb = self._apart.get(ra), self._apart.get(rb)
        if fa or fb:
            ma, mb = self._members.get(ra, {ra}), self._members.get(rb, {rb})
            for forbidden, other in ((fa, mb), (fb, ma)):
                if forbidden:
                    hit = next(iter(forbidden & other), None)
                    if hit is not None:
                        return Refusal("apart", a, b)
        da, db = self._distinct.get(ra), self._distinct.get(rb)
        if distinct and da and db:
            for source, xs in da.items():
                for y in db.get(source, ()):
                    for x in xs:
                        if not self.is_duplicate(x, y):
                            return Refusal("distinct", x, y)
        return None

    def join(self, a: str, b: str, *, distinct: bool = True) -> Refusal | None:
        """Join the clusters of ``a`` and ``b``; the refusal instead when a constraint forbids it."""
        refused = self.refusal(a, b, distinct=distinct)
        if refused is not None:
            return refused
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return None
        if self._size.get(ra, 1) < self._size.get(rb, 1):
            ra, rb = rb, ra
        self.parent[rb] = ra
        self._size[ra] = self._size.get(ra, 1) + self._size.pop(rb, 1)
        db = self._distinct.pop(rb, None)
        if db:
            da = self._distinct.setdefault(ra, {})
            for source, xs in db.items():
                da.setdefault(source, []).extend(xs)
        if ra in self._apart or rb in self._apart or ra in self._members or rb in self._members:
            self._members[ra] = self._members.get(ra, {ra}) | self._members.pop(rb, {rb})
            self._apart[ra] = self._apart.get(ra, set()) | self._apart.pop(rb, set())
        return None

    def size(self, x: str) -> int:
        """How many records ``x``'s cluster holds."""
        return self._size.get(self.find(x), 1)

    def same(self, a: str, b: str) -> bool:
        return self.find(a) == self.find(b)

    def groups(self) -> list[list[str]]:
        out: dict[str, list[str]] = defaultdict(list)
        for x in self.parent:
            out[self.find(x)].append(x)
        return sorted((sorted(g) for g in out.values()), key=lambda g: g[0])
