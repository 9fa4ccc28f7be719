"""Field expressions: parsed once with sqlglot, their column references listed."""

from __future__ import annotations

from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

DIALECT = "duckdb"


class ExpressionError(ValueError):
    """An expression that does not parse, or references something unknown."""


@dataclass(frozen=True)
class ColumnRef:
    source: str
    column: str


def parse_expression(text: str) -> exp.Expression:
    """Parse one SQL expression (the body of a SELECT item)."""
    try:
        tree = sqlglot.parse_one(f"SELECT {text}", read=DIALECT)
    except ParseError as exc:
        errors = exc.errors
        detail = errors[0].get("description") if errors else str(exc)
        raise ExpressionError(f"cannot parse expression: {detail}") from None
    if not isinstance(tree, exp.Select) or len(tree.expressions) != 1:
        raise ExpressionError("expected exactly one expression")
    node: exp.Expression = tree.expressions[0]
    if isinstance(node, exp.Alias):
        raise ExpressionError("an expression must not carry an alias; the field's name is its alias")
    return node


def column_refs(node: exp.Expression) -> list[ColumnRef]:
    """Every ``source.column`` the expression reads, in order of appearance."""
    out: list[ColumnRef] = []
    for col in node.find_all(exp.Column):
        if isinstance(col.this, exp.Star):
            continue
        out.append(ColumnRef(col.table, col.name))
    return out


def is_aggregate(node: exp.Expression) -> bool:
    return isinstance(node, exp.AggFunc)
