"""Before anything is scored: the records resolution can use, their rule values and evidence
identifiers, the graph with the constraints it honours, and the groups of records one key joins.

Shared by account grain (:mod:`c360.identity.resolve`) and person grain
(:mod:`c360.identity.people`). Pure: no I/O.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from c360.identity.graph import Clusters
from c360.identity.records import IdentityRecord
from c360.identity.transforms import compose, is_salesforce_18, salesforce_id
from c360.spec.validate import Rule

# When one side of a rule holds Salesforce ids in at least this share of its values, both sides
# are read as 18-character ids (a 15-character reference then finds its account).
SALESFORCE_SHARE = 0.9


def rule_values(
    records: Sequence[IdentityRecord],
    rules: Sequence[Rule],
    failures: dict[str, int] | None = None,
    sides: dict[str, list[str]] | None = None,
) -> dict[str, list[str]]:
    """Each record's rule values, tagged by rule (``r0:0015g0000WvoNiqAQE``), after transforms.

    ``sides`` receives the same values tagged with the side they were read on (``r0<:…`` for
    the rule's left column, ``r0>:…`` for its right).
    """
    out: dict[str, list[str]] = defaultdict(list)
    for i, rule in enumerate(rules):
        ends = (
            (rule.left_source, rule.left_column, rule.left_transform),
            (rule.right_source, rule.right_column, rule.right_transform),
        )
        raw = [[(r, r.refs[col]) for r in records if r.source == src and col in r.refs] for src, col, _ in ends]
        auto_sf = (
            not rule.left_transform
            and not rule.right_transform
            and any(vals and sum(is_salesforce_18(v) for _, v in vals) >= SALESFORCE_SHARE * len(vals) for vals in raw)
        )
        for side, (src, col, fns), vals in zip("<>", ends, raw, strict=True):
            transform = compose(fns) if fns else None
            for r, value in vals:
                out_value = (
                    salesforce_id(value)
                    if auto_sf
                    else (transform(value, r.attrs.country) if transform else value.strip() or None)
                )
                if out_value is None:
                    if failures is not None:
                        label = f"{src}.{col}"
                        failures[label] = failures.get(label, 0) + 1
                    continue
                tag = f"r{i}:{out_value}"
                if tag not in out[r.rid]:
                    out[r.rid].append(tag)
                if sides is not None:
                    sides.setdefault(r.rid, []).append(f"r{i}{side}:{out_value}")
    return out


def value_groups(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """Values to the records holding them (a record listed once per value)."""
    by_value: dict[str, list[str]] = defaultdict(list)
    for value, rid in pairs:
        by_value[value].append(rid)
    return by_value


def default_distinct(records: Sequence[IdentityRecord], grain: str, person_sources: frozenset[str]) -> frozenset[str]:
    """At account grain with sources of people, the other sources; otherwise none."""
    if grain == "account" and person_sources:
        return frozenset({r.source for r in records} - person_sources)
    return frozenset()


def usable_records(records: Sequence[IdentityRecord], link_pins: Sequence[tuple[str, str]]) -> list[IdentityRecord]:
    """The records with evidence, a reference, or a steward's link."""
    ids = {r.rid for r in records}
    pinned = {rid for pair in link_pins for rid in pair if rid in ids}
    return [r for r in records if r.has_evidence or r.refs or r.rid in pinned]


def tagged_values(
    usable: Sequence[IdentityRecord],
    rules: Sequence[Rule],
    evidence_identifiers: frozenset[str],
    failures: dict[str, int],
    sided: dict[str, list[str]],
) -> dict[str, list[str]]:
    """Each record's rule values, then its evidence identifiers, tagged by kind."""
    tagged = rule_values(usable, rules, failures, sided)
    for r in usable:
        for attr in sorted(evidence_identifiers & set(r.identifiers)):
            tagged[r.rid].append(f"{attr}:{r.identifiers[attr]}")
    return tagged


def constrained_graph(
    usable: Sequence[IdentityRecord],
    usable_ids: set[str],
    unlink_pins: Sequence[tuple[str, str]],
    distinct_sources: frozenset[str],
) -> Clusters:
    """The graph of usable records, a steward's unlinks and parent accounts kept apart."""
    apart = [(a, b) for a, b in unlink_pins if a in usable_ids and b in usable_ids]
    apart += [
        (r.rid, f"{r.source}:{r.parent}")
        for r in usable
        if r.parent is not None and f"{r.source}:{r.parent}" in usable_ids
    ]
    return Clusters(
        [r.rid for r in usable], distinct={r.rid: r.source for r in usable if r.source in distinct_sources}, apart=apart
    )


def key_groups(
    usable: Sequence[IdentityRecord], evidence_identifiers: frozenset[str]
) -> list[tuple[str, dict[str, Any], list[str]]]:
    """(method, evidence, records) for each e-mail address, then each key identifier's values."""
    out: list[tuple[str, dict[str, Any], list[str]]] = []
    for value, rids in sorted(value_groups((r.attrs.email, r.rid) for r in usable if r.attrs.email).items()):
        out.append(("email", {"email": value}, rids))
    for attr, value, rids in identifier_groups(usable, evidence_identifiers):
        out.append(("identifier", {"identifier": attr, "value": value}, rids))
    return out


def identifier_groups(
    usable: Sequence[IdentityRecord], evidence_identifiers: frozenset[str]
) -> list[tuple[str, str, list[str]]]:
    """(identifier, value, records) for each value of each key identifier, in order."""
    out: list[tuple[str, str, list[str]]] = []
    key_ids = sorted({a for r in usable for a in r.identifiers} - evidence_identifiers)
    for attr in key_ids:
        groups = value_groups((r.identifiers[attr], r.rid) for r in usable if attr in r.identifiers)
        for value, rids in sorted(groups.items()):
            out.append((attr, value, rids))
    return out
