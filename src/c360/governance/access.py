"""Field-level access: grants, masks and row filters per consumer, evaluated as pure functions.

A consumer's access is the union of its base policy (``consumers.<name>``) and every
``policies:`` entry that names it. For one record, the policies whose row filter
passes (a policy without a row filter passes every row) are the record's applicable
policies: the consumer sees the union of their fields, and a field is masked only
when every applicable policy that grants it masks it. No applicable policy: the
record does not exist for that consumer. Deny by default: an unknown consumer, or
one with no fields, sees nothing.

No I/O here, so every case can be tested exhaustively.
"""

from __future__ import annotations

import hashlib
import hmac
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from sqlglot import exp

from c360.spec.expressions import ExpressionError, parse_expression
from c360.spec.models import MaskKind, ProductSpec

__all__ = [
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

Predicate = Callable[[Mapping[str, Any]], bool]
Value = Callable[[Mapping[str, Any]], Any]


class RowFilterError(ValueError):
    """A row filter that uses something the evaluator does not support, or an unknown field."""


# -- row filters ---------------------------------------------------------------------------
# A row filter is SQL over the product's fields, compiled once into a Python closure: no SQL
# engine per request or per record. SQL's three-valued logic holds: a comparison with null is
# unknown (None), and only a filter that is TRUE lets the row through.

_COMPARE: dict[type[exp.Expression], Callable[[Any, Any], Any]] = {
    exp.EQ: operator.eq,
    exp.NEQ: operator.ne,
    exp.GT: operator.gt,
    exp.GTE: operator.ge,
    exp.LT: operator.lt,
    exp.LTE: operator.le,
}


def compile_row_filter(sql: str, fields: Iterable[str]) -> Predicate:
    """Compile ``sql`` (over the product's ``fields``) into a predicate on a record.

    >>> keep = compile_row_filter("marketing_opt_in and segment in ('smb', 'mid_market')",
    ...                           ["marketing_opt_in", "segment"])
    >>> keep({"marketing_opt_in": True, "segment": "smb"}), keep({"marketing_opt_in": None})
    (True, False)
    """
    try:
        node = parse_expression(sql)
    except ExpressionError as exc:
        raise RowFilterError(str(exc)) from None
    value = _compile(node, frozenset(fields))

    def predicate(record: Mapping[str, Any]) -> bool:
        return value(record) is True

    return predicate


def _compile(n: exp.Expression, fields: frozenset[str]) -> Value:
    if isinstance(n, exp.Paren):
        return _compile(n.this, fields)
    if isinstance(n, exp.Column):
        if n.table or n.name not in fields:
            raise RowFilterError(
                f"unknown field '{n.sql()}' (a row filter reads the product's fields)"
            )
        name = n.name
        return lambda r: r.get(name)
    if isinstance(n, exp.Boolean):
        b = bool(n.this)
        return lambda r: b
    if isinstance(n, exp.Null):
        return lambda r: None
    if isinstance(n, exp.Literal):
        lit: Any = n.this if n.is_string else (int(n.this) if n.is_int else float(n.this))
        return lambda r: lit
    if isinstance(n, exp.Neg):
        inner = _compile(n.this, fields)
        return lambda r: _safe(operator.neg, inner(r))
    if isinstance(n, exp.Not):
        inner = _compile(n.this, fields)
        return lambda r: None if (v := inner(r)) is None else not v
    if isinstance(n, exp.And | exp.Or):
        left, right = _compile(n.this, fields), _compile(n.expression, fields)
        return _and(left, right) if isinstance(n, exp.And) else _or(left, right)
    if type(n) in _COMPARE:
        op = _COMPARE[type(n)]
        left, right = _compile(n.this, fields), _compile(n.expression, fields)
        return lambda r: _safe(op, left(r), right(r))
    if isinstance(n, exp.Is):
        left = _compile(n.this, fields)
        target = n.expression
        if isinstance(target, exp.Null):
            return lambda r: left(r) is None
        if isinstance(target, exp.Boolean):
            want = bool(target.this)
            return lambda r: left(r) is want
        raise RowFilterError(f"unsupported IS {target.sql()}")
    if isinstance(n, exp.In):
        if n.args.get("query") is not None:
            raise RowFilterError("a row filter cannot hold a subquery")
        left = _compile(n.this, fields)
        options = [_compile(e, fields) for e in n.expressions]
        return lambda r: _in(left(r), [o(r) for o in options])
    if isinstance(n, exp.Between):
        v = _compile(n.this, fields)
        lo, hi = _compile(n.args["low"], fields), _compile(n.args["high"], fields)
        return _and(
            lambda r: _safe(operator.ge, v(r), lo(r)), lambda r: _safe(operator.le, v(r), hi(r))
        )
    if isinstance(n, exp.Like | exp.ILike):
        left = _compile(n.this, fields)
        pattern = n.expression
        if not (isinstance(pattern, exp.Literal) and pattern.is_string):
            raise RowFilterError("LIKE needs a string pattern")
        wild = {"%": ".*", "_": "."}
        body = "".join(wild.get(c) or re.escape(c) for c in pattern.this)
        rx = re.compile(body, re.IGNORECASE if isinstance(n, exp.ILike) else 0)
        return lambda r: None if (v := left(r)) is None else rx.fullmatch(str(v)) is not None
    if isinstance(n, exp.Lower | exp.Upper):
        inner = _compile(n.this, fields)
        fn = str.lower if isinstance(n, exp.Lower) else str.upper
        return lambda r: None if (v := inner(r)) is None else fn(str(v))
    if isinstance(n, exp.Coalesce):
        parts = [_compile(n.this, fields), *(_compile(e, fields) for e in n.expressions)]
        return lambda r: next((v for p in parts if (v := p(r)) is not None), None)
    raise RowFilterError(
        f"'{n.sql()}' is not supported in a row filter (use comparisons, AND, OR, "
        "NOT, IN, BETWEEN, LIKE, IS NULL, lower, upper, coalesce)"
    )


def _safe(op: Callable[..., Any], *args: Any) -> Any:
    if any(a is None for a in args):
        return None
    try:
        return op(*args)
    except TypeError:  # e.g. a string compared with a number: unknown, so the row stays hidden
        return None


def _and(left: Value, right: Value) -> Value:
    def both(r: Mapping[str, Any]) -> Any:
        a = left(r)
        if a is False:
            return False
        b = right(r)
        if b is False:
            return False
        return None if a is None or b is None else bool(a) and bool(b)

    return both


def _or(left: Value, right: Value) -> Value:
    def either(r: Mapping[str, Any]) -> Any:
        a = left(r)
        if a is True:
            return True
        b = right(r)
        if b is True:
            return True
        return None if a is None or b is None else bool(a) or bool(b)

    return either


def _in(value: Any, options: list[Any]) -> Any:
    if value is None:
        return None
    if any(_safe(operator.eq, value, o) is True for o in options):
        return True
    return None if any(o is None for o in options) else False


# -- masks and policies -------------------------------------------------------------------

# From least to most revealing: when applicable policies mask a field differently, the union
# (the consumer may see what any one policy lets it see) takes the most revealing mask.
MASK_REVEAL: tuple[MaskKind, ...] = ("redact", "hash", "year", "last4", "email")
_YEAR = re.compile(r"^(\d{4})-\d{2}-\d{2}")


def mask_value(kind: MaskKind, value: Any, key: bytes) -> Any:
    """One value as a consumer with this mask sees it; null stays null.

    >>> mask_value("email", "jane.doe@acme.com", b"k")
    'j***@acme.com'
    >>> mask_value("year", "2024-05-30T08:54:00Z", b"k")
    2024
    >>> mask_value("last4", "+44 20 7946 0018", b"k")
    '0018'
    """
    if value is None or kind == "redact":
        return None
    if kind == "email":
        text = str(value)
        local, at, domain = text.rpartition("@")
        if not at or not local:
            return "***"
        return f"{local[0]}***@{domain}"
    if kind == "hash":
        # Keyed (HMAC-SHA256): equal values still join, but nobody without the key can
        # confirm a guess by hashing it.
        text = value if isinstance(value, str) else repr(value)
        return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()[:32]
    if kind == "year":
        m = _YEAR.match(str(value))
        return int(m.group(1)) if m else None
    if kind == "last4":
        text = str(value)
        return text[-4:]
    raise ValueError(f"unknown mask {kind!r}")  # pragma: no cover - the spec model forbids it


@dataclass(frozen=True)
class Grant:
    """One policy as it applies to one consumer."""

    name: str
    fields: frozenset[str]
    masks: Mapping[str, MaskKind]
    row_filter: str | None = None
    predicate: Predicate | None = None

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
        return {
            f: (mask_value(masks[f], record.get(f), key) if f in masks else record.get(f))
            for f in self.fields
        }


@dataclass
class ConsumerPolicy:
    """Every grant of one consumer, and the union rules that combine them."""

    consumer: str
    order: tuple[str, ...]  # the product's field order
    grants: tuple[Grant, ...]
    _combos: dict[tuple[int, ...], Access | None] = field(default_factory=dict, repr=False)

    @property
    def denied(self) -> bool:
        return not any(g.fields for g in self.grants)

    @property
    def filtered(self) -> bool:
        """Whether some record may be hidden or shown differently, depending on its values."""
        return any(g.predicate is not None for g in self.grants)

    @cached_property
    def fields(self) -> tuple[str, ...]:
        """Every field some grant gives, in product order."""
        given = set().union(*(g.fields for g in self.grants)) if self.grants else set()
        return tuple(f for f in self.order if f in given)

    @cached_property
    def unmasked_everywhere(self) -> frozenset[str]:
        """Fields every grant gives unmasked: the consumer sees them in the clear on every row."""
        if not self.grants:
            return frozenset()
        sets = [{f for f in g.fields if f not in g.masks} for g in self.grants]
        return frozenset(set.intersection(*sets))

    @cached_property
    def unmasked_somewhere(self) -> frozenset[str]:
        """Fields some grant gives unmasked."""
        return frozenset(f for g in self.grants for f in g.fields if f not in g.masks)

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
        return sorted(
            {g.masks[name] for g in self.grants if name in g.fields and name in g.masks},
            key=MASK_REVEAL.index,
        )

    def access(self, record: Mapping[str, Any]) -> Access | None:
        """The consumer's view of ``record``; None when no policy lets it see the record."""
        combo = tuple(i for i, g in enumerate(self.grants) if g.fields and g.applies(record))
        if combo in self._combos:
            return self._combos[combo]
        result = self._combine(combo)
        self._combos[combo] = result
        return result

    def _combine(self, combo: tuple[int, ...]) -> Access | None:
        if not combo:
            return None
        grants = [self.grants[i] for i in combo]
        given = set().union(*(g.fields for g in grants))
        fields = tuple(f for f in self.order if f in given)
        masks: dict[str, MaskKind] = {}
        for f in fields:
            kinds = [g.masks.get(f) for g in grants if f in g.fields]
            if any(k is None for k in kinds):
                continue  # some policy grants it in the clear: the union sees it in the clear
            masks[f] = max((k for k in kinds if k is not None), key=MASK_REVEAL.index)
        return Access(fields, masks)

    def view(self, record: Mapping[str, Any], key: bytes) -> dict[str, Any] | None:
        """``record`` as this consumer sees it, or None when it may not see it."""
        acc = self.access(record)
        return None if acc is None else acc.apply(record, key)


def policy_for(product: ProductSpec, consumer: str) -> ConsumerPolicy:
    """The consumer's grants: its base policy and every policy entry naming it.

    Row filters are compiled once here; a filter that cannot be compiled raises
    :class:`RowFilterError` naming the policy.
    """
    order = tuple(product.field_names)
    base = product.consumers.get(consumer)
    if base is None:
        return ConsumerPolicy(consumer, order, ())
    grants = [_grant(f"consumers.{consumer}", base.fields, base.masks, base.row_filter, order)]
    for p in product.policies:
        if consumer in p.consumers:
            grants.append(_grant(f"policies.{p.name}", p.fields, p.masks, p.row_filter, order))
    return ConsumerPolicy(consumer, order, tuple(grants))


def _grant(
    name: str,
    fields: Sequence[str],
    masks: Mapping[str, MaskKind],
    row_filter: str | None,
    order: Sequence[str],
) -> Grant:
    known = set(order)
    predicate = None
    if row_filter is not None:
        try:
            predicate = compile_row_filter(row_filter, known)
        except RowFilterError as exc:
            raise RowFilterError(f"{name}.row_filter: {exc}") from None
    granted = frozenset(f for f in fields if f in known)
    return Grant(name, granted, dict(masks), row_filter, predicate)


def granted_fields(product: ProductSpec, consumer: str) -> list[str]:
    """The fields ``consumer`` may read, in product order; none for an unknown consumer."""
    return list(policy_for(product, consumer).fields)


def project(record: Mapping[str, Any], fields: Iterable[str]) -> dict[str, Any]:
    """Only ``fields`` of ``record``; a granted field the record lacks is returned as null.

    >>> project({"customer_id": "c_1", "mrr": 10.0, "csat": 0.9}, ["customer_id", "mrr"])
    {'customer_id': 'c_1', 'mrr': 10.0}
    """
    return {f: record.get(f) for f in fields}
