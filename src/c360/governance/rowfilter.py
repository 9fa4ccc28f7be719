"""Row filters: SQL over the product's fields, compiled once into a predicate on a record.

A row filter never runs in a SQL engine per request or per record: it is compiled into a
Python closure. SQL's three-valued logic holds: a comparison with null is unknown (None),
and only a filter that is TRUE lets the row through. Pure: no I/O.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sqlglot import exp

from c360.spec.expressions import ExpressionError, parse_expression

__all__ = ["Predicate", "RowFilterError", "compile_row_filter"]

Predicate = Callable[[Mapping[str, Any]], bool]
Value = Callable[[Mapping[str, Any]], Any]


class RowFilterError(ValueError):
    """A row filter that uses something the evaluator does not support, or an unknown field."""


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
    """The value of node ``n`` on a record; :class:`RowFilterError` for what is not supported."""
    if type(n) in _COMPARE:
        op = _COMPARE[type(n)]
        left, right = _compile(n.this, fields), _compile(n.expression, fields)
        return lambda r: _safe(op, left(r), right(r))
    for kind, compile_node in _NODES:
        if isinstance(n, kind):
            return compile_node(n, fields)
    raise RowFilterError(
        f"'{n.sql()}' is not supported in a row filter (use comparisons, AND, OR, "
        "NOT, IN, BETWEEN, LIKE, IS NULL, lower, upper, coalesce)"
    )


def _paren(n: exp.Expression, fields: frozenset[str]) -> Value:
    return _compile(n.this, fields)


def _column(n: exp.Expression, fields: frozenset[str]) -> Value:
    assert isinstance(n, exp.Column)
    if n.table or n.name not in fields:
        raise RowFilterError(f"unknown field '{n.sql()}' (a row filter reads the product's fields)")
    name = n.name
    return lambda r: r.get(name)


def _boolean(n: exp.Expression, fields: frozenset[str]) -> Value:
    b = bool(n.this)
    return lambda r: b


def _null(n: exp.Expression, fields: frozenset[str]) -> Value:
    return lambda r: None


def _literal(n: exp.Expression, fields: frozenset[str]) -> Value:
    assert isinstance(n, exp.Literal)
    lit: Any = n.this if n.is_string else (int(n.this) if n.is_int else float(n.this))
    return lambda r: lit


def _neg(n: exp.Expression, fields: frozenset[str]) -> Value:
    inner = _compile(n.this, fields)
    return lambda r: _safe(operator.neg, inner(r))


def _not(n: exp.Expression, fields: frozenset[str]) -> Value:
    inner = _compile(n.this, fields)
    return lambda r: None if (v := inner(r)) is None else not v


def _connective(n: exp.Expression, fields: frozenset[str]) -> Value:
    left, right = _compile(n.this, fields), _compile(n.expression, fields)
    return _and(left, right) if isinstance(n, exp.And) else _or(left, right)


def _is(n: exp.Expression, fields: frozenset[str]) -> Value:
    left = _compile(n.this, fields)
    target = n.expression
    if isinstance(target, exp.Null):
        return lambda r: left(r) is None
    if isinstance(target, exp.Boolean):
        want = bool(target.this)
        return lambda r: left(r) is want
    raise RowFilterError(f"unsupported IS {target.sql()}")


def _in_list(n: exp.Expression, fields: frozenset[str]) -> Value:
    if n.args.get("query") is not None:
        raise RowFilterError("a row filter cannot hold a subquery")
    left = _compile(n.this, fields)
    options = [_compile(e, fields) for e in n.expressions]
    return lambda r: _in(left(r), [o(r) for o in options])


def _between(n: exp.Expression, fields: frozenset[str]) -> Value:
    v = _compile(n.this, fields)
    lo, hi = _compile(n.args["low"], fields), _compile(n.args["high"], fields)
    return _and(lambda r: _safe(operator.ge, v(r), lo(r)), lambda r: _safe(operator.le, v(r), hi(r)))


def _like(n: exp.Expression, fields: frozenset[str]) -> Value:
    left = _compile(n.this, fields)
    pattern = n.expression
    if not (isinstance(pattern, exp.Literal) and pattern.is_string):
        raise RowFilterError("LIKE needs a string pattern")
    wild = {"%": ".*", "_": "."}
    body = "".join(wild.get(c) or re.escape(c) for c in pattern.this)
    rx = re.compile(body, re.IGNORECASE if isinstance(n, exp.ILike) else 0)
    return lambda r: None if (v := left(r)) is None else rx.fullmatch(str(v)) is not None


def _case(n: exp.Expression, fields: frozenset[str]) -> Value:
    inner = _compile(n.this, fields)
    fn = str.lower if isinstance(n, exp.Lower) else str.upper
    return lambda r: None if (v := inner(r)) is None else fn(str(v))


def _coalesce(n: exp.Expression, fields: frozenset[str]) -> Value:
    parts = [_compile(n.this, fields), *(_compile(e, fields) for e in n.expressions)]
    return lambda r: next((v for p in parts if (v := p(r)) is not None), None)


# Node types the evaluator supports, each with how it is compiled; tried in this order.
_NODES: tuple[tuple[type[exp.Expression] | tuple[type[exp.Expression], ...], Callable[..., Value]], ...] = (
    (exp.Paren, _paren),
    (exp.Column, _column),
    (exp.Boolean, _boolean),
    (exp.Null, _null),
    (exp.Literal, _literal),
    (exp.Neg, _neg),
    (exp.Not, _not),
    ((exp.And, exp.Or), _connective),
    (exp.Is, _is),
    (exp.In, _in_list),
    (exp.Between, _between),
    ((exp.Like, exp.ILike), _like),
    ((exp.Lower, exp.Upper), _case),
    (exp.Coalesce, _coalesce),
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
