"""A consumer's compiled view: its rules, the shape of each case, and what follows from them.

See :mod:`c360.governance.policy` for the rule this applies. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from c360.governance.masks import mask_of
from c360.governance.policy_conditions import assignments, canonical
from c360.governance.sla import pinned_major
from c360.spec.expressions import column_refs, parse_expression
from c360.spec.loader import Path_
from c360.spec.models import MaskKind, ProductSpec

__all__ = [
    "Case",
    "Form",
    "Rule",
    "Shape",
    "View",
    "at_least_as_revealing",
    "combine",
    "lookup_sources",
    "rules_of",
    "served_view",
    "view_of",
    "views",
]

# How a field is served: masked with a kind, or None for in the clear.
Form = MaskKind | None


@dataclass(frozen=True)
class Rule:
    """One spec entry (a consumer's base policy or a ``policies:`` entry) as it applies to one consumer."""

    name: str  # consumers.support, policies.ops
    at: Path_  # where it is written: ("consumers", "support") or ("policies", 0)
    fields: frozenset[str]  # the product fields it grants (unknown names dropped)
    masks: Mapping[str, MaskKind] = field(default_factory=dict)  # only for fields it grants
    row_filter: str | None = None  # as written

    @cached_property
    def condition(self) -> str | None:
        """The row filter in canonical spelling; None when the rule applies to every record."""
        return None if self.row_filter is None else canonical(self.row_filter)

    def form(self, name: str) -> Form:
        return self.masks.get(name)


def rules_of(product: ProductSpec, consumer: str) -> tuple[Rule, ...]:
    """The consumer's rules: its base policy, then every ``policies:`` entry naming it, in spec order.

    An unknown consumer has none (deny by default), even when a policy names it.
    """
    base = product.consumers.get(consumer)
    if base is None:
        return ()
    known = set(product.field_names)

    def rule(
        name: str, at: Path_, fields: Iterable[str], masks: Mapping[str, MaskKind], row_filter: str | None
    ) -> Rule:
        granted = frozenset(f for f in fields if f in known)
        return Rule(name, at, granted, {f: m for f, m in masks.items() if f in granted}, row_filter)

    out = [rule(f"consumers.{consumer}", ("consumers", consumer), base.fields, base.masks, base.row_filter)]
    for i, p in enumerate(product.policies):
        if consumer in p.consumers:
            out.append(rule(f"policies.{p.name}", ("policies", i), p.fields, p.masks, p.row_filter))
    return tuple(out)


@dataclass(frozen=True)
class Shape:
    """What a consumer is served of a record: the fields, in product order, and their masks."""

    fields: tuple[str, ...]
    masks: Mapping[str, MaskKind]

    def form(self, name: str) -> Form:
        return self.masks.get(name)


def combine(order: Sequence[str], rules: Sequence[Rule]) -> Shape | None:
    """The union of the rules that apply to one record; None when none grants anything."""
    rules = [r for r in rules if r.fields]
    if not rules:
        return None
    given = set().union(*(r.fields for r in rules))
    fields = tuple(f for f in order if f in given)
    masks: dict[str, MaskKind] = {}
    for f in fields:
        kinds = [r.form(f) for r in rules if f in r.fields]
        if any(k is None for k in kinds):
            continue  # some rule grants it in the clear: the union sees it in the clear
        masks[f] = max((k for k in kinds if k is not None), key=lambda k: mask_of(k).reveal)
    return Shape(fields, masks)


def at_least_as_revealing(after: Form, before: Form) -> bool:
    """Whether a field served as ``after`` shows at least what ``before`` showed.

    The clear shows everything; ``redact`` shows nothing; two other masks are not comparable.
    """
    return after == before or after is None or before == "redact"


# -- a consumer's view ------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One combination of row filters passing, and what the consumer is served then."""

    passing: frozenset[str]  # the (canonical) row filters that pass
    rules: tuple[str, ...]  # the rules that apply
    shape: Shape


@dataclass(frozen=True)
class View:
    """One consumer's effective access in one spec: its rules and everything derived from them."""

    consumer: str
    order: tuple[str, ...]  # the product's field order
    rules: tuple[Rule, ...]
    major: int | None = None  # the earlier major it is pinned to, if any
    version: str | None = None  # the spec version this view is of

    @cached_property
    def granting(self) -> tuple[Rule, ...]:
        """The rules that grant some field: only they make a record visible."""
        return tuple(r for r in self.rules if r.fields)

    @property
    def denied(self) -> bool:
        return not self.granting

    @cached_property
    def conditions(self) -> tuple[str, ...]:
        """The distinct row filters of the granting rules, canonical and sorted."""
        return tuple(sorted({r.condition for r in self.granting if r.condition is not None}))

    @property
    def filtered(self) -> bool:
        """Whether some record may be hidden or shown differently, depending on its values."""
        return bool(self.conditions)

    def applicable(self, passing: frozenset[str]) -> tuple[Rule, ...]:
        return tuple(r for r in self.granting if r.condition is None or r.condition in passing)

    def shape(self, passing: frozenset[str]) -> Shape | None:
        """What the consumer is served of a record on which exactly ``passing`` filters pass."""
        return combine(self.order, self.applicable(passing))

    @cached_property
    def cases(self) -> tuple[Case, ...]:
        """Every visible case (see the module's docstring)."""
        out = []
        for passing in assignments(self.conditions):
            rules = self.applicable(passing)
            shape = combine(self.order, rules)
            if shape is not None:
                out.append(Case(passing, tuple(r.name for r in rules), shape))
        return tuple(out)

    @cached_property
    def fields(self) -> tuple[str, ...]:
        """Every field some rule grants, in product order."""
        given = {f for r in self.granting for f in r.fields}
        return tuple(f for f in self.order if f in given)

    @cached_property
    def forms(self) -> dict[str, tuple[Form, ...]]:
        """Field → the forms it may be served in, least revealing first (None, the clear, last)."""
        seen: dict[str, set[Form]] = {f: set() for f in self.fields}
        for case in self.cases:
            for f in case.shape.fields:
                seen[f].add(case.shape.form(f))
        return {f: tuple(sorted(s, key=_reveal_rank)) for f, s in seen.items() if s}

    @cached_property
    def always(self) -> frozenset[str]:
        """Fields present in every record the consumer sees."""
        if not self.cases:
            return frozenset()
        return frozenset.intersection(*(frozenset(c.shape.fields) for c in self.cases))

    @cached_property
    def clear_everywhere(self) -> frozenset[str]:
        """Fields in the clear in every record the consumer sees."""
        return frozenset(f for f in self.always if self.forms.get(f) == (None,))

    @cached_property
    def clear_somewhere(self) -> frozenset[str]:
        """Fields in the clear in some record the consumer sees."""
        return frozenset(f for f, forms in self.forms.items() if None in forms)

    def masks_of(self, name: str) -> list[MaskKind]:
        """The masks a field may carry (empty: always in the clear), least revealing first."""
        return [m for m in self.forms.get(name, ()) if m is not None]

    def mask(self, name: str) -> Form:
        """The least revealing form of a granted field: what a reader must be ready for."""
        forms = self.forms.get(name, (None,))
        return forms[0]

    @cached_property
    def row_filter(self) -> str | None:
        """The rows the consumer sees, as one filter (its rules' filters OR-ed); None: every row."""
        if self.denied or any(r.condition is None for r in self.granting):
            return None
        texts: dict[str, str] = {}
        for r in self.granting:
            assert r.condition is not None and r.row_filter is not None
            texts.setdefault(r.condition, " ".join(r.row_filter.split()))
        if len(texts) == 1:
            return next(iter(texts.values()))
        return " OR ".join(f"({t})" for t in texts.values())

    @cached_property
    def row_filters(self) -> tuple[tuple[str, str], ...]:
        """(rule, row filter) of every granting rule with a row filter, in spec order."""
        return tuple((r.name, r.row_filter) for r in self.granting if r.row_filter is not None)


def _reveal_rank(form: Form) -> int:
    # The clear reveals more than any mask.
    return 1 << 30 if form is None else mask_of(form).reveal


def view_of(product: ProductSpec, consumer: str, *, major: int | None = None) -> View:
    """The consumer's view in ``product``; ``major`` defaults to the major ``product`` pins it to."""
    pin = pinned_major(product, consumer) if major is None else major
    return View(consumer, tuple(product.field_names), rules_of(product, consumer), pin, product.version)


def views(product: ProductSpec) -> dict[str, View]:
    """Every declared consumer's view."""
    return {c: view_of(product, c) for c in product.consumers}


def served_view(product: ProductSpec, consumer: str, served: Mapping[str, ProductSpec]) -> View:
    """The view ``consumer`` is actually served: from the spec of the major it is pinned to, if given.

    ``served`` maps consumers pinned to an earlier major to that major's recorded spec (what the
    API serves them, see :mod:`c360.governance.majors`); everyone else is served ``product``.
    """
    spec = served.get(consumer)
    if spec is None:
        return view_of(product, consumer)
    return view_of(spec, consumer, major=pinned_major(product, consumer))


def lookup_sources(product: ProductSpec, view: View) -> frozenset[str]:
    """Sources whose keys the consumer may look customers up by.

    A consumer may look a customer up by a source's key when some field it sees in the clear in
    every record reads that source (or a source belonging to it): it already sees that
    system's facts about the customer.
    """
    out = set()
    for name in view.clear_everywhere:
        f = product.fields.get(name)
        if f is None:
            continue
        for ref in column_refs(parse_expression(f.expr)):
            out.add(ref.source)
            src = product.sources.get(ref.source)
            if src is not None and src.belongs_to is not None:
                out.add(src.belongs_to.source)
    return frozenset(out)
