"""Stable surrogate ids: clusters in, the same customer_id out run after run.

Rules, applied to the clusters of one resolution run against the previous map:

- a cluster whose records had no id gets a fresh one (``new``);
- a cluster whose records all had one id keeps it;
- a cluster joining records of several ids keeps the **oldest** id; the others
  become aliases of it (``merge``);
- an id whose records now fall in several clusters stays with the cluster holding
  most of its *account* records (a CRM account, a billing customer: not the people
  attached to them), else most of its records; the other clusters get fresh ids
  (``split``);
- an id none of whose records remain is retired (``retire``).

Pure: no I/O, so every case can be tested directly.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class IdEvent:
    kind: str  # new | merge | split | retire
    customer_id: str
    other_id: str | None = None
    detail: str = ""


@dataclass
class Assignment:
    ids: dict[str, str] = field(default_factory=dict)  # record id → customer_id
    events: list[IdEvent] = field(default_factory=list)

    @property
    def new_ids(self) -> list[str]:
        return [e.customer_id for e in self.events if e.kind in ("new", "split")]


def assign_ids(
    clusters: Iterable[Iterable[str]],
    previous: Mapping[str, str],
    created: Mapping[str, dt.datetime],
    new_id: Callable[[], str],
    people: frozenset[str] = frozenset(),
) -> Assignment:
    """Give every cluster a customer_id, keeping previous ids wherever the rules allow.

    ``people``: the sources whose records are people attached to an account; when an id's
    records split, they count only after its account records.
    """
    groups = [sorted(set(c)) for c in clusters]
    groups.sort(key=lambda g: g[0] if g else "")
    votes = [Counter(previous[r] for r in g if r in previous) for g in groups]
    accounts = [Counter(previous[r] for r in g if r in previous and r.split(":", 1)[0] not in people) for g in groups]

    # Which cluster keeps each old id: the one holding most of its account records, then most
    # of its records (ties: first by order).
    keeper: dict[str, int] = {}
    for i, counts in enumerate(votes):
        for cid, n in counts.items():
            j = keeper.get(cid)
            if j is None or (accounts[i][cid], n) > (accounts[j][cid], votes[j][cid]):
                keeper[cid] = i

    def age(cid: str) -> tuple[dt.datetime, str]:
        return (created.get(cid, dt.datetime.max.replace(tzinfo=dt.UTC)), cid)

    out = Assignment()
    for i, (group, counts) in enumerate(zip(groups, votes, strict=True)):
        won = sorted((cid for cid in counts if keeper[cid] == i), key=age)
        if won:
            cid = won[0]
            for other in won[1:]:
                out.events.append(IdEvent("merge", cid, other, f"{counts[other]} record(s) of {other} joined {cid}"))
        else:
            cid = new_id()
            if counts:
                origin = counts.most_common(1)[0][0]
                out.events.append(IdEvent("split", cid, origin, f"{sum(counts.values())} record(s) left {origin}"))
            else:
                out.events.append(IdEvent("new", cid, None, f"{len(group)} record(s)"))
        for rid in group:
            out.ids[rid] = cid

    alive = set(out.ids.values())
    merged = {e.other_id for e in out.events if e.kind == "merge"}
    for cid in sorted(set(previous.values()) - alive - merged):
        out.events.append(IdEvent("retire", cid, None, "no source record remains"))
    return out
