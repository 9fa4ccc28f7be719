"""Row filters as conditions: one spelling each, provable implications, and which may pass together.

A consumer's view is described case by case, one case per combination of its row filters
passing or failing (:mod:`c360.governance.policy`). Filters are treated as independent, except
that a combination contradicting a provable implication between two filters (``segment =
'smb'`` implies ``segment in ('smb', 'mid_market')``) is left out. Pure: no I/O.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any

from sqlglot import exp

from c360.core.errors import PolicyError
from c360.spec.expressions import DIALECT, ExpressionError, parse_expression

__all__ = ["MAX_CONDITIONS", "assignments", "canonical", "implies"]

# A consumer's cases double with each distinct row filter; more than this is refused by validate.
MAX_CONDITIONS = 10


def canonical(sql: str) -> str:
    """A row filter in one spelling, so that case and whitespace are no change."""
    try:
        return parse_expression(sql).sql(DIALECT, normalize=True)
    except ExpressionError:
        return " ".join(sql.split())


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
        raise PolicyError(
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
