"""The compiled access policy: what each consumer sees of the product, derived in one place.

Serving, ``plan``/``apply``, the ODCS and JSON Schema exports, the documentation site and the
product page all read a consumer's access from here, so they cannot disagree.

**The rule** (what serving applies, record by record): a consumer's *rules* are its base policy
(``consumers.<name>``) and every ``policies:`` entry naming it. For one record, the rules whose
row filter passes (a rule without one passes every record) *apply*. The consumer sees the union
of their fields; a field is in the clear when some applicable rule grants it in the clear, and
otherwise carries the most revealing of their masks (:data:`MASK_REVEAL`: redact < hash < year <
last4 < email). When no rule applies, the record does not exist for the consumer.

**Cases.** Which rules apply depends on the record, so a consumer's view is described by its
cases: every combination of its row filters passing or failing, with the fields and masks
served in each. Filters are treated as independent, except that a combination contradicting a
provable implication between two filters (``segment = 'smb'`` implies ``segment in ('smb',
'mid_market')``) is left out. That is a superset of what real records can produce: whatever
holds in every case holds for every record, which is what makes :func:`compare` sound.

**Comparing views.** Masks are ordered only as far as "reveals at least as much" is certain:
absent < redact < any other mask < in the clear. Two different masks other than ``redact``
(``hash`` and ``email``) are not comparable: a consumer relying on one loses it with the other,
so such a change is not a widening.

Pure: no I/O.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from sqlglot import exp

from c360.core.errors import C360Error, SpecIssue
from c360.governance.rowfilter import RowFilterError, compile_row_filter
from c360.governance.sla import current_major, pinned_major
from c360.spec.expressions import DIALECT, ExpressionError, column_refs, parse_expression
from c360.spec.loader import Located, Path_
from c360.spec.models import MaskKind, ProductSpec

__all__ = [
    "MASK_REVEAL",
    "MAX_CONDITIONS",
    "Case",
    "Delta",
    "Form",
    "Rule",
    "Shape",
    "View",
    "at_least_as_revealing",
    "combine",
    "compare",
    "implies",
    "lookup_sources",
    "notes",
    "problems",
    "rules_of",
    "served_view",
    "view_of",
    "views",
]

# How a field is served: masked with a kind, or None for in the clear.
Form = MaskKind | None

# From least to most revealing: when applicable rules mask a field differently, the union (the
# consumer may see what any one rule lets it see) takes the most revealing mask.
MASK_REVEAL: tuple[MaskKind, ...] = ("redact", "hash", "year", "last4", "email")
# A consumer's cases double with each distinct row filter; more than this is refused by validate.
MAX_CONDITIONS = 10
# The JSON type of a masked value; a field whose masks disagree here has no single type.
MASK_JSON_TYPE: dict[MaskKind, str] = {
    "email": "string",
    "hash": "string",
    "last4": "string",
    "year": "integer",
    "redact": "null",
}


# -- rules ------------------------------------------------------------------------------------


def canonical(sql: str) -> str:
    """A row filter in one spelling, so that case and whitespace are no change."""
    try:
        return parse_expression(sql).sql(DIALECT, normalize=True)
    except ExpressionError:
        return " ".join(sql.split())


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
        masks[f] = max((k for k in kinds if k is not None), key=MASK_REVEAL.index)
    return Shape(fields, masks)


def at_least_as_revealing(after: Form, before: Form) -> bool:
    """Whether a field served as ``after`` shows at least what ``before`` showed.

    The clear shows everything; ``redact`` shows nothing; two other masks are not comparable.
    """
    return after == before or after is None or before == "redact"


# -- implications between row filters -----------------------------------------------------------

_FLIP = {">": "<", ">=": "<=", "<": ">", "<=": ">="}
_OPS: dict[type[exp.Expression], str] = {exp.GT: ">", exp.GTE: ">=", exp.LT: "<", exp.LTE: "<="}
_HOLDS: dict[str, Callable[[Any, Any], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


def _unparen(n: exp.Expression) -> exp.Expression:
    while isinstance(n, exp.Paren):
        n = n.this
    return n


def _literal(n: exp.Expression) -> tuple[bool, Any]:
    n = _unparen(n)
    if isinstance(n, exp.Neg):
        ok, v = _literal(n.this)
        return (ok and isinstance(v, int | float), -v if ok and isinstance(v, int | float) else None)
    if isinstance(n, exp.Literal):
        if n.is_string:
            return True, n.this
        return True, int(n.this) if n.is_int else float(n.this)
    return False, None


def _atom(n: exp.Expression) -> tuple[str, str, tuple[Any, ...]] | None:
    """``col = 1``, ``col in ('a', 'b')``, ``col > 3`` as (column, op, values); else None."""
    n = _unparen(n)
    if isinstance(n, exp.In) and isinstance(_unparen(n.this), exp.Column) and n.args.get("query") is None:
        values = []
        for e in n.expressions:
            ok, v = _literal(e)
            if not ok:
                return None
            values.append(v)
        return _unparen(n.this).name, "in", tuple(values)
    if isinstance(n, exp.EQ) or type(n) in _OPS:
        op = "in" if isinstance(n, exp.EQ) else _OPS[type(n)]
        left, right = _unparen(n.this), _unparen(n.expression)
        ok, v = _literal(right)
        if isinstance(left, exp.Column) and ok:
            return left.name, op, (v,)
        ok, v = _literal(left)
        if isinstance(right, exp.Column) and ok:
            return right.name, _FLIP.get(op, op), (v,)
    return None


def _same_kind(a: Any, b: Any) -> bool:
    return isinstance(a, str) == isinstance(b, str)


def _atom_implies(a: tuple[str, str, tuple[Any, ...]], b: tuple[str, str, tuple[Any, ...]]) -> bool:
    (col_a, op_a, vals_a), (col_b, op_b, vals_b) = a, b
    if col_a != col_b or not vals_a:
        return False
    if op_b == "in":
        return op_a == "in" and all(any(_same_kind(v, w) and v == w for w in vals_b) for v in vals_a)
    (bound,) = vals_b
    if op_a == "in":  # every value a admits must satisfy b
        return all(_same_kind(v, bound) and _HOLDS[op_b](v, bound) for v in vals_a)
    (edge,) = vals_a
    if not (_same_kind(edge, bound) and not isinstance(edge, str)):
        return False
    if op_a[0] != op_b[0]:  # > against <: never provable
        return False
    if op_a == op_b or op_a in (">", "<"):
        return edge == bound or _HOLDS[op_b[0]](edge, bound)
    return _HOLDS[op_b](edge, bound) and edge != bound  # >= x implies > y only when x > y


def implies(a: exp.Expression, b: exp.Expression) -> bool:
    """Whether ``a`` being TRUE provably makes ``b`` TRUE (sound, not complete)."""
    a, b = _unparen(a), _unparen(b)
    if a == b:
        return True
    if isinstance(b, exp.Or) and (implies(a, b.this) or implies(a, b.expression)):
        return True
    if isinstance(a, exp.And) and (implies(a.this, b) or implies(a.expression, b)):
        return True
    if isinstance(a, exp.Or) and implies(a.this, b) and implies(a.expression, b):
        return True
    if isinstance(b, exp.And) and implies(a, b.this) and implies(a, b.expression):
        return True
    x, y = _atom(a), _atom(b)
    return x is not None and y is not None and _atom_implies(x, y)


def assignments(conditions: Sequence[str]) -> list[frozenset[str]]:
    """Every set of ``conditions`` that may pass together on one record, implications respected."""
    if len(conditions) > MAX_CONDITIONS:
        raise C360Error(
            f"{len(conditions)} distinct row filters apply to one consumer; at most {MAX_CONDITIONS} can be compared"
        )
    nodes: dict[str, exp.Expression | None] = {}
    for c in conditions:
        try:
            nodes[c] = parse_expression(c)
        except ExpressionError:
            nodes[c] = None
    pairs = [
        (a, b)
        for a in conditions
        for b in conditions
        if a != b and (na := nodes[a]) is not None and (nb := nodes[b]) is not None and implies(na, nb)
    ]
    out = []
    for bits in range(1 << len(conditions)):
        passing = frozenset(c for i, c in enumerate(conditions) if bits >> i & 1)
        if not any(a in passing and b not in passing for a, b in pairs):
            out.append(passing)
    return out


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
    return len(MASK_REVEAL) if form is None else MASK_REVEAL.index(form)


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


# -- comparing two views ------------------------------------------------------------------------


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


def compare(old: ProductSpec, new: ProductSpec, consumer: str, renames: Mapping[str, str] | None = None) -> Delta:
    """Every way ``consumer``'s view changes from ``old`` to ``new`` (``renames``: old → new name)."""
    renames = renames or {}
    before, after = view_of(old, consumer), view_of(new, consumer)
    dropped = {f for f in old.field_names if f not in new.field_names and f not in renames}
    delta = Delta(before, after)
    present: dict[str, int] = {}
    lost: dict[str, int] = {}
    shown: dict[str, int] = {}
    new_in: dict[str, int] = {}
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
        has = set(now.fields)
        for f, old_name in had.items():
            present[f] = present.get(f, 0) + 1
            if f not in has:
                lost[f] = lost.get(f, 0) + 1
                continue
            pair = (was.form(old_name), now.form(f))
            if pair[0] == pair[1]:
                continue
            if at_least_as_revealing(pair[1], pair[0]):
                delta.widened.setdefault(f, pair)
            else:
                delta.restricted.setdefault(f, pair)
        for f in now.fields:
            shown[f] = shown.get(f, 0) + 1
            if f not in had:
                new_in[f] = new_in.get(f, 0) + 1
        if [f for f in had if f in has] != [f for f in now.fields if f in had]:
            delta.reordered = True
    delta.lost = {f: n == present[f] for f, n in lost.items()}
    delta.gained = {f: n == shown[f] for f, n in new_in.items()}
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


# -- problems validate reports ----------------------------------------------------------------


def _written_rules(
    model: ProductSpec,
) -> list[tuple[Path_, str, Sequence[str], Mapping[str, MaskKind], str | None, Sequence[str]]]:
    """(where, name, fields as written, masks, row filter, consumers) of every rule in the spec."""
    out: list[tuple[Path_, str, Sequence[str], Mapping[str, MaskKind], str | None, Sequence[str]]] = [
        (("consumers", c), f"consumers.{c}", s.fields, s.masks, s.row_filter, [c]) for c, s in model.consumers.items()
    ]
    out += [
        (("policies", i), f"policies.{p.name}", p.fields, p.masks, p.row_filter, p.consumers)
        for i, p in enumerate(model.policies)
    ]
    return out


def _unservable_filter(row_filter: str, known: Sequence[str]) -> str | None:
    """Why serving cannot compile a row filter that otherwise checks out; None when it can.

    A filter that does not parse, or reads a source or an unknown field, is reported by validate's
    own checks, so it is not reported again here.
    """
    try:
        node = parse_expression(row_filter)
    except ExpressionError:
        return None
    if any(ref.source or ref.column not in known for ref in column_refs(node)):
        return None
    try:
        compile_row_filter(row_filter, known)
    except RowFilterError as exc:
        return f"this row filter cannot be served: {exc}"
    return None


def _mask_clashes(model: ProductSpec) -> list[tuple[Path_, str]]:
    """A field one consumer gets under masks whose values differ in type (``year`` against the others).

    Serving shows the most revealing applicable mask, so on some rows the field would be an
    integer and on others a string: the consumer's contract could give it no single type.
    """
    out: list[tuple[Path_, str]] = []
    for consumer in model.consumers:
        first: dict[str, tuple[str, MaskKind]] = {}
        for rule in rules_of(model, consumer):
            for f, kind in rule.masks.items():
                if kind == "redact":
                    continue
                seen = first.setdefault(f, (rule.name, kind))
                if MASK_JSON_TYPE[seen[1]] != MASK_JSON_TYPE[kind]:
                    out.append(
                        (
                            (*rule.at, "masks", f),
                            f"'{f}' is masked {kind} here but {seen[1]} by {seen[0]} for consumer "
                            f"'{consumer}': it would be served as {MASK_JSON_TYPE[kind]} on some rows and "
                            f"{MASK_JSON_TYPE[seen[1]]} on others; mask it one way for this consumer",
                        )
                    )
    return out


def _pinned_names(model: ProductSpec) -> list[tuple[Path_, str]]:
    """A rule of a consumer pinned to an earlier major that names a field this major no longer has.

    A pinned consumer is served its major's recorded spec and that spec's policy; the policy written
    here takes over when the pin is dropped, so it must name this major's fields.
    """
    out: list[tuple[Path_, str]] = []
    known = set(model.field_names)
    current = current_major(model)
    for at, name, fields, _, _, consumers in _written_rules(model):
        for consumer in consumers:
            major = pinned_major(model, consumer)
            if major is None or consumer not in model.consumers:
                continue
            for j, f in enumerate(fields):
                if f not in known:
                    out.append(
                        (
                            (*at, "fields", j),
                            f"consumer '{consumer}' is pinned to major {major} (served from that major's "
                            f"recorded spec), but {name} names '{f}', which major {current} no longer has; "
                            f"name major {current}'s fields here: they apply once the pin is dropped",
                        )
                    )
    return out


def problems(model: ProductSpec, doc: Located) -> list[SpecIssue]:
    """Access problems validate reports, each located.

    * a row filter that parses but that the serving evaluator cannot compile (``length(x) > 3``);
    * one consumer's masks of one field whose values differ in type (``year`` and ``email``):
      masks of one type (``hash`` and ``email``) are not a problem, the most revealing applicable
      one is served, see :func:`notes`;
    * a consumer with more than :data:`MAX_CONDITIONS` distinct row filters;
    * a consumer pinned to an earlier major whose rules here name a field this major lacks.
    """
    found: list[tuple[Path_, str]] = []
    known = list(model.field_names)
    for at, _, _, _, row_filter, _ in _written_rules(model):
        why = _unservable_filter(row_filter, known) if row_filter is not None else None
        if why is not None:
            found.append(((*at, "row_filter"), why))
    found += _mask_clashes(model)
    for consumer, view in views(model).items():
        if len(view.conditions) > MAX_CONDITIONS:
            found.append(
                (
                    ("consumers", consumer),
                    f"{len(view.conditions)} distinct row filters apply to "
                    f"consumer '{consumer}'; at most {MAX_CONDITIONS} (merge some policies)",
                )
            )
    found += _pinned_names(model)
    return [doc.issue(at, message) for at, message in found]


def notes(model: ProductSpec) -> list[str]:
    """Things worth knowing that are not errors: a field one consumer gets under several masks.

    Serving shows, per record, the most revealing mask among the rules that apply to it, so the
    consumer gets the field in different forms on different rows.
    """
    out = []
    for consumer, view in views(model).items():
        if len(view.conditions) > MAX_CONDITIONS:
            continue
        for f, forms in view.forms.items():
            if len(forms) > 1:
                shown = ", ".join("in the clear" if m is None else m for m in forms)
                out.append(
                    f"consumer '{consumer}' is served '{f}' as {shown}, depending on the row "
                    "(the most revealing mask of the policies that apply to it wins)"
                )
    return out
