"""Stored records as each consumer is served them: masks and row filters applied, serialised once.

Both ways of serving a snapshot (in this process's memory, :class:`ConsumerView`, or from
the shared serving file, :mod:`c360.api.serving`) are built by :func:`project`.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import orjson

from c360.governance.access import ConsumerPolicy
from c360.spec.models import ProductSpec

if TYPE_CHECKING:
    from c360.api.state import Snapshot


@dataclass(frozen=True)
class ConsumerView:
    """One consumer's side of a snapshot: only the customers it may see, as it may see them."""

    rows: dict[str, bytes]  # customer_id → the serialised projection (masks applied)
    ids: tuple[str, ...]  # sorted, for keyset paging
    emails: dict[str, tuple[str, ...]]  # lower-cased email → ids, from fields granted in the clear
    # Customers whose projection for this consumer last changed before their stored record did
    # (a field it is not granted changed since): customer → when it last changed (epoch seconds).
    # Everyone else changed when the record did (``Snapshot.changed``).
    since: dict[str, float] = field(default_factory=dict)

    def changed_at(self, snap: Snapshot, cid: str) -> float:
        """When what this consumer is served of ``cid`` last changed (0: not known)."""
        t = self.since.get(cid)
        return t if t is not None else snap.changed.get(cid, 0.0)

    def get(self, cid: str) -> bytes | None:
        return self.rows.get(cid)

    def get_many(self, cids: Sequence[str]) -> list[bytes | None]:
        rows = self.rows
        return [rows.get(c) for c in cids]

    def after(self, cursor: str | None) -> Iterator[str]:
        """Ids this consumer sees, in order, after ``cursor`` (from the first without one)."""
        ids = self.ids
        start = bisect.bisect_right(ids, cursor) if cursor else 0
        return (ids[i] for i in range(start, len(ids)))

    def emails_of(self, email: str) -> tuple[str, ...]:
        return self.emails.get(email, ())


def email_fields(product: ProductSpec) -> frozenset[str]:
    """Fields that hold an identity email as it is: a bare reference to a source's email column."""
    from sqlglot import exp

    from c360.spec.expressions import parse_expression

    out = set()
    for name, f in product.fields.items():
        node = parse_expression(f.expr)
        if (
            isinstance(node, exp.Column)
            and node.table in product.sources
            and node.name in product.sources[node.table].identity_of("email")
        ):
            out.add(name)
    return frozenset(out)


def build_views(
    product: ProductSpec,
    policies: dict[str, ConsumerPolicy],
    rows: Iterator[tuple[str, bytes]],
    mask_key: bytes,
    hashes: dict[str, int],
) -> dict[str, ConsumerView]:
    """Project every stored record for every consumer; fills ``hashes`` on the way."""
    emails = email_fields(product)
    out_rows: dict[str, dict[str, bytes]] = {c: {} for c in policies}
    out_emails: dict[str, dict[str, list[str]]] = {c: {} for c in policies}
    live = {c: p for c, p in policies.items() if not p.denied}
    for cid, data in rows:
        hashes[cid] = hash(data)
        for consumer, (body, found) in project(live, emails, data, mask_key).items():
            out_rows[consumer][cid] = body
            for e in found:
                out_emails[consumer].setdefault(e, []).append(cid)
    return {
        c: ConsumerView(out_rows[c], tuple(sorted(out_rows[c])), {e: tuple(ids) for e, ids in out_emails[c].items()})
        for c in policies
    }


def project(
    policies: dict[str, ConsumerPolicy], emails: frozenset[str], data: bytes, mask_key: bytes
) -> dict[str, tuple[bytes, list[str]]]:
    """One stored record as each consumer is served it, with the emails it may be looked up by.

    A consumer a row filter hides the record from is left out: for it the customer does not exist.
    """
    record = orjson.loads(data)
    out: dict[str, tuple[bytes, list[str]]] = {}
    for consumer, policy in policies.items():
        acc = policy.access(record)
        if acc is None:
            continue
        found = []
        for f in emails & acc.unmasked:
            value = record.get(f)
            if isinstance(value, str) and value:
                found.append(value.strip().lower())
        out[consumer] = (orjson.dumps(acc.apply(record, mask_key)), found)
    return out


def patched(
    view: ConsumerView,
    snap: Snapshot,
    consumer: str,
    wanted: Sequence[str],
    now: dict[str, dict[str, tuple[bytes, list[str]]]],
) -> ConsumerView:
    """``view`` with the customers ``wanted`` re-projected (``now``: :func:`project` of each)."""
    rows, since, emails = dict(view.rows), dict(view.since), dict(view.emails)
    for cid in wanted:
        old = view.rows.get(cid)
        body, found = now.get(cid, {}).get(consumer, (None, []))
        if old is not None:  # the emails it was found by, from what this consumer was served
            for value in orjson.loads(old).values():
                key = value.strip().lower() if isinstance(value, str) else None
                if key is not None and cid in emails.get(key, ()):
                    emails[key] = tuple(i for i in emails[key] if i != cid)
                    if not emails[key]:
                        del emails[key]
        if body is None:
            rows.pop(cid, None)
            since.pop(cid, None)
            continue
        if old == body:
            since[cid] = view.changed_at(snap, cid)
        else:
            since.pop(cid, None)
        rows[cid] = body
        for e in found:
            emails[e] = (*emails.get(e, ()), cid)
    ids = view.ids if rows.keys() == view.rows.keys() else tuple(sorted(rows))
    return ConsumerView(rows, ids, emails, since)
