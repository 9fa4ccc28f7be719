"""Field-level access as served: grants, masks and row filters per consumer, applied to records.

Who may see what is compiled once, in :mod:`c360.governance.policy` (the single statement of
the rule: a union of the consumer's base policy and every ``policies:`` entry naming it, per
record, the most revealing applicable mask winning). This module applies that policy to
records: it compiles the row filters, masks values and caches the combined access of each
combination of applicable rules. Deny by default: an unknown consumer, or one with no fields,
sees nothing.

No I/O here, so every case can be tested exhaustively.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from sqlglot import exp

from c360.governance.masks import MASK_REVEAL, apply_mask
from c360.governance.policy import Rule, View, combine, view_of
from c360.governance.rowfilter import Predicate, RowFilterError, compile_row_filter
from c360.spec.expressions import parse_expression
from c360.spec.models import MaskKind, ProductSpec

__all__ = [
    "MASK_REVEAL",
    "Access",
    "ConsumerPolicy",
    "Grant",
    "RowFilterError",
    "compile_row_filter",
    "granted_fields",
    "mask_value",
    "policy_for",
    "project",
]


# -- masks --------------------------------------------------------------------------------


def mask_value(kind: MaskKind, value: Any, key: bytes) -> Any:
    """One value as a consumer with this mask sees it; null stays null (see :mod:`c360.governance.masks`).

    >>> mask_value("email", "jane.doe@acme.com", b"k")
    'j***@acme.com'
    >>> mask_value("year", "2024-05-30T08:54:00Z", b"k")
    2024
    >>> mask_value("last4", "+44 20 7946 0018", b"k")
    '0018'
    """
    return apply_mask(kind, value, key)


@dataclass(frozen=True)
class Grant:
    """One rule of the compiled policy, with its row filter compiled for records."""

    rule: Rule
    predicate: Predicate | None = None

    @property
    def name(self) -> str:
        return self.rule.name

    @property
    def fields(self) -> frozenset[str]:
        return self.rule.fields

    @property
    def masks(self) -> Mapping[str, MaskKind]:
        return self.rule.masks

    @property
    def row_filter(self) -> str | None:
        return self.rule.row_filter

    def applies(self, record: Mapping[str, Any]) -> bool:
        return self.predicate is None or self.predicate(record)


@dataclass(frozen=True)
class Access:
    """What a consumer sees of one record: the fields, in product order, and their masks."""

    fields: tuple[str, ...]
    masks: Mapping[str, MaskKind]

    @cached_property
    def unmasked(self) -> frozenset[str]:
        return frozenset(f for f in self.fields if f not in self.masks)

    def apply(self, record: Mapping[str, Any], key: bytes) -> dict[str, Any]:
        """The record projected onto the fields, masks applied; a field it lacks is null."""
        masks = self.masks
        if not masks:
            return {f: record.get(f) for f in self.fields}
        return {f: (mask_value(masks[f], record.get(f), key) if f in masks else record.get(f)) for f in self.fields}


@dataclass
class ConsumerPolicy:
    """One consumer's compiled view, ready to apply to records."""

    consumer: str
    order: tuple[str, ...]  # the product's field order
    grants: tuple[Grant, ...]
    compiled: View  # the compiled policy's view of this consumer
    _combos: dict[tuple[int, ...], Access | None] = field(default_factory=dict, repr=False)

    @property
    def denied(self) -> bool:
        return self.compiled.denied

    @property
    def filtered(self) -> bool:
        """Whether some record may be hidden or shown differently, depending on its values."""
        return self.compiled.filtered

    @property
    def fields(self) -> tuple[str, ...]:
        """Every field some grant gives, in product order."""
        return self.compiled.fields

    @property
    def unmasked_everywhere(self) -> frozenset[str]:
        """Fields in the clear in every record the consumer sees (whichever policies apply to it)."""
        return self.compiled.clear_everywhere

    @property
    def unmasked_somewhere(self) -> frozenset[str]:
        """Fields in the clear in some record the consumer sees."""
        return self.compiled.clear_somewhere

    @cached_property
    def filter_fields(self) -> frozenset[str]:
        """Fields the row filters read: a live read computes them too, to apply the filters."""
        out: set[str] = set()
        for g in self.grants:
            if g.row_filter is not None:
                node = parse_expression(g.row_filter)
                out.update(c.name for c in node.find_all(exp.Column))
        return frozenset(out & set(self.order))

    def masks_of(self, name: str) -> list[MaskKind]:
        """The masks a field may carry for this consumer (empty: always in the clear)."""
        return self.compiled.masks_of(name)

    def access(self, record: Mapping[str, Any]) -> Access | None:
        """The consumer's view of ``record``; None when no policy lets it see the record."""
        combo = tuple(i for i, g in enumerate(self.grants) if g.fields and g.applies(record))
        if combo in self._combos:
            return self._combos[combo]
        shape = combine(self.order, [self.grants[i].rule for i in combo])
        result = None if shape is None else Access(shape.fields, shape.masks)
        self._combos[combo] = result
        return result

    def view(self, record: Mapping[str, Any], key: bytes) -> dict[str, Any] | None:
        """``record`` as this consumer sees it, or None when it may not see it."""
        acc = self.access(record)
        return None if acc is None else acc.apply(record, key)


def policy_for(product: ProductSpec, consumer: str) -> ConsumerPolicy:
    """The consumer's compiled view (:func:`c360.governance.policy.view_of`), ready for records.

    Row filters are compiled once here; a filter that cannot be compiled raises
    :class:`RowFilterError` naming the policy.
    """
    view = view_of(product, consumer)
    return ConsumerPolicy(consumer, view.order, tuple(_grant(r, view.order) for r in view.rules), view)


def _grant(rule: Rule, order: Iterable[str]) -> Grant:
    if rule.row_filter is None:
        return Grant(rule)
    try:
        return Grant(rule, compile_row_filter(rule.row_filter, order))
    except RowFilterError as exc:
        raise RowFilterError(f"{rule.name}.row_filter: {exc}") from None


def granted_fields(product: ProductSpec, consumer: str) -> list[str]:
    """The fields ``consumer`` may read, in product order; none for an unknown consumer."""
    return list(view_of(product, consumer).fields)


def project(record: Mapping[str, Any], fields: Iterable[str]) -> dict[str, Any]:
    """Only ``fields`` of ``record``; a granted field the record lacks is returned as null.

    >>> project({"customer_id": "c_1", "mrr": 10.0, "csat": 0.9}, ["customer_id", "mrr"])
    {'customer_id': 'c_1', 'mrr': 10.0}
    """
    return {f: record.get(f) for f in fields}
