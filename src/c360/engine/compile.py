"""Compile the spec's field expressions into one DuckDB query over per-source tables.

Every field is an expression over ``source.column`` references. Aggregates
(``sum(billing.amount)``, ``count(*) filter (where support.status = 'open')``) must each
read one source; a bare column outside an aggregate means "the source's latest
non-null value". Each aggregate becomes a column of a per-source ``GROUP BY
customer_id`` subquery, and the field becomes a scalar expression over those, so
several sources combine in one field without their rows multiplying.

``now()`` and ``current_timestamp`` are bound to the build's as-of time, so a build
is reproducible.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from dataclasses import dataclass, field

from sqlglot import exp

from c360.engine.columns import currency_exponent
from c360.spec.expressions import DIALECT, ColumnRef, ExpressionError, column_refs, parse_expression
from c360.spec.models import FieldSpec, ProductSpec

SQL_TYPES = {
    "string": "VARCHAR",
    "integer": "BIGINT",
    "decimal": "DOUBLE",
    "boolean": "BOOLEAN",
    "timestamp": "TIMESTAMPTZ",
    "date": "DATE",
    "json": "VARCHAR",
}
_CURRENCY = re.compile(r"^[A-Z]{3}$")


def source_table(source: str) -> str:
    return f"src_{source}"


@dataclass(frozen=True)
class CompiledField:
    name: str
    spec: FieldSpec
    sql: str  # the scalar expression over the per-source aggregate columns
    refs: tuple[ColumnRef, ...]

    @property
    def sources(self) -> list[str]:
        return sorted({r.source for r in self.refs})


@dataclass
class Plan:
    fields: list[CompiledField]
    aggregates: dict[str, dict[str, str]] = field(default_factory=dict)  # source → {sql: alias}

    def query(self) -> str:
        joins = []
        for src, aggs in sorted(self.aggregates.items()):
            cols = ", ".join(f"{sql} AS {alias}" for sql, alias in aggs.items())
            joins.append(
                f"LEFT JOIN (SELECT customer_id, {cols} FROM {source_table(src)} s GROUP BY customer_id) "
                f"agg_{src} ON agg_{src}.customer_id = c.customer_id"
            )
        select = ",\n  ".join(f'{f.sql} AS "{f.name}"' for f in self.fields)
        return (
            "SELECT c.customer_id,\n  "
            + select
            + "\nFROM customers c\n"
            + "\n".join(joins)
            + "\nORDER BY c.customer_id"
        )


def compile_plan(product: ProductSpec, as_of: dt.datetime, only: list[str] | None = None) -> Plan:
    """Compile every field (or ``only`` these) of ``product``."""
    plan = Plan([])
    aggs: dict[str, dict[str, str]] = defaultdict(dict)
    stamp = as_of.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f+00")
    for name, spec in product.fields.items():
        if only is not None and name not in only:
            continue
        node = parse_expression(spec.expr)
        refs = tuple(column_refs(node))

        def agg_column(src: str, sql: str) -> exp.Expression:
            alias = aggs[src].setdefault(sql, f"a{len(aggs[src])}")
            return exp.column(alias, table=f"agg_{src}")

        def rewrite(n: exp.Expression, name: str = name) -> exp.Expression:
            if isinstance(n, exp.Window):
                raise ExpressionError(f"field '{name}': window functions are not supported")
            if (isinstance(n, exp.Filter) and isinstance(n.this, exp.AggFunc)) or (
                isinstance(n, exp.AggFunc) and not isinstance(n.parent, exp.Filter)
            ):
                sources = {r.source for r in column_refs(n)}
                if len(sources) != 1:
                    what = "no column" if not sources else f"several sources ({', '.join(sorted(sources))})"
                    raise ExpressionError(
                        f"field '{name}': aggregate {n.sql(DIALECT)} reads {what}; each aggregate must read "
                        "exactly one source, e.g. count(support.id)"
                    )
                src = sources.pop()
                return agg_column(src, _unqualify(n).sql(DIALECT))
            if isinstance(n, exp.Column) and not isinstance(n.this, exp.Star):
                col = exp.column(n.name, table="s", quoted=True)
                latest = (
                    f"first({col.sql(DIALECT)} ORDER BY s._fetched_at DESC, s._key DESC) "
                    f"FILTER (WHERE {col.sql(DIALECT)} IS NOT NULL)"
                )
                return agg_column(n.table, latest)
            if isinstance(n, exp.CurrentTimestamp) or (isinstance(n, exp.Anonymous) and str(n.this).lower() == "now"):
                return exp.cast(exp.Literal.string(stamp), exp.DataType.build("TIMESTAMPTZ"))
            return n

        body = node.copy().transform(rewrite)
        sql = _cast(body.sql(DIALECT), spec)
        plan.fields.append(CompiledField(name, spec, sql, refs))
    plan.aggregates = {k: dict(v) for k, v in aggs.items()}
    return plan


def _unqualify(n: exp.Expression) -> exp.Expression:
    """Point an aggregate's column references at the per-source table alias ``s``."""

    def fix(x: exp.Expression) -> exp.Expression:
        if isinstance(x, exp.Column) and not isinstance(x.this, exp.Star):
            return exp.column(x.name, table="s", quoted=True)
        return x

    return n.copy().transform(fix)


def _cast(sql: str, spec: FieldSpec) -> str:
    cast = f"CAST(({sql}) AS {SQL_TYPES[spec.type]})"
    if spec.type == "decimal":
        digits = currency_exponent(spec.unit) if spec.unit and _CURRENCY.match(spec.unit) else 4
        return f"round({cast}, {digits})"
    return cast
