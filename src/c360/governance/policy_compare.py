"""Comparing one consumer's view in two specs, case by case: what it loses, gains or sees differently.

Masks are ordered only as far as "reveals at least as much" is certain (see
:func:`c360.governance.policy_view.at_least_as_revealing`). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from c360.governance.policy_conditions import assignments
from c360.governance.policy_view import Form, Shape, View, at_least_as_revealing, lookup_sources, view_of
from c360.spec.models import ProductSpec

__all__ = ["Delta", "blame", "compare"]


@dataclass
class Delta:
    """How one consumer's view changes from one spec to the next, judged case by case.

    Field names are the new spec's (a renamed field is compared under its new name); fields the
    new spec no longer has at all are left to the field's own change.
    """

    before: View
    after: View
    lost: dict[str, bool] = field(default_factory=dict)  # field → lost in every case it was in
    gained: dict[str, bool] = field(default_factory=dict)  # field → new in every case it is in
    restricted: dict[str, tuple[Form, Form]] = field(default_factory=dict)  # (before, after)
    widened: dict[str, tuple[Form, Form]] = field(default_factory=dict)
    rows_lost: bool = False
    rows_gained: bool = False
    reordered: bool = False
    id_read_lost: bool = False  # customer_id no longer in the clear on every row
    lookups_lost: frozenset[str] = frozenset()  # sources it may no longer look customers up by

    @property
    def breaking(self) -> bool:
        return bool(self.lost or self.restricted or self.rows_lost or self.id_read_lost or self.lookups_lost)

    @property
    def changed(self) -> bool:
        return self.breaking or bool(self.gained or self.widened or self.rows_gained or self.reordered)


@dataclass
class _Counts:
    """Per field: cases it was in (present), lost in, shown in, new in."""

    present: dict[str, int] = field(default_factory=dict)
    lost: dict[str, int] = field(default_factory=dict)
    shown: dict[str, int] = field(default_factory=dict)
    new_in: dict[str, int] = field(default_factory=dict)


def _bump(counts: dict[str, int], name: str) -> None:
    counts[name] = counts.get(name, 0) + 1


def _compare_case(delta: Delta, counts: _Counts, was: Shape, now: Shape, had: Mapping[str, str]) -> None:
    """One case in which the consumer saw a record before and sees it now (``had``: new → old name)."""
    has = set(now.fields)
    for f, old_name in had.items():
        _bump(counts.present, f)
        if f not in has:
            _bump(counts.lost, f)
            continue
        pair = (was.form(old_name), now.form(f))
        if pair[0] == pair[1]:
            continue
        if at_least_as_revealing(pair[1], pair[0]):
            delta.widened.setdefault(f, pair)
        else:
            delta.restricted.setdefault(f, pair)
    for f in now.fields:
        _bump(counts.shown, f)
        if f not in had:
            _bump(counts.new_in, f)
    if [f for f in had if f in has] != [f for f in now.fields if f in had]:
        delta.reordered = True


def compare(old: ProductSpec, new: ProductSpec, consumer: str, renames: Mapping[str, str] | None = None) -> Delta:
    """Every way ``consumer``'s view changes from ``old`` to ``new`` (``renames``: old → new name)."""
    renames = renames or {}
    before, after = view_of(old, consumer), view_of(new, consumer)
    dropped = {f for f in old.field_names if f not in new.field_names and f not in renames}
    delta = Delta(before, after)
    counts = _Counts()
    for passing in assignments(sorted(set(before.conditions) | set(after.conditions))):
        was, now = before.shape(passing), after.shape(passing)
        # A consumer granted nothing at all, before or after: its fields, not its rows, changed.
        if before.denied and now is not None:
            was = Shape((), {})
        if after.denied and was is not None:
            now = Shape((), {})
        if was is None or now is None:
            delta.rows_lost |= was is not None
            delta.rows_gained |= now is not None
            continue
        had = {renames.get(f, f): f for f in was.fields if f not in dropped}
        _compare_case(delta, counts, was, now, had)
    delta.lost = {f: n == counts.present[f] for f, n in counts.lost.items()}
    delta.gained = {f: n == counts.shown[f] for f, n in counts.new_in.items()}
    delta.widened = {f: p for f, p in delta.widened.items() if f not in delta.restricted}
    was_clear = {renames.get(f, f) for f in before.clear_everywhere}
    delta.id_read_lost = "customer_id" in was_clear and "customer_id" not in after.clear_everywhere
    delta.lookups_lost = lookup_sources(old, before) - lookup_sources(new, after)
    return delta


def blame(delta: Delta, name: str | None, what: str) -> str | None:
    """Where in the new spec a change of ``name`` (a field; None: the rows) comes from.

    ``what`` is the part looked for: ``fields``, ``masks`` or ``row_filter``. The first rule that
    names the field (or any rule, for rows) and differs from its namesake before; None if none does.
    """
    before = {r.name: r for r in delta.before.rules}
    after = {r.name: r for r in delta.after.rules}
    for rule_name in [*before, *(n for n in after if n not in before)]:
        was, now = before.get(rule_name), after.get(rule_name)
        if name is not None and not ((was and name in was.fields) or (now and name in now.fields)):
            continue
        if was is None or now is None:
            return rule_name
        if was.condition != now.condition:
            return f"{rule_name}.row_filter"
        if name is None:
            continue
        if what == "fields" and (name in was.fields) != (name in now.fields):
            return f"{rule_name}.fields"
        if what == "masks" and was.form(name) != now.form(name):
            return f"{rule_name}.masks.{name}"
    return None
