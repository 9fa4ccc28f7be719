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


# Functions an expression may call: scalar and aggregate functions over the declared sources'
# columns. Nothing that reads files or tables, changes settings or loads code.
ALLOWED_FUNCTIONS = frozenset(
    {
        # aggregates
        "sum",
        "count",
        "count_if",
        "avg",
        "mean",
        "min",
        "max",
        "first",
        "last",
        "any_value",
        "arg_max",
        "arg_min",
        "max_by",
        "min_by",
        "median",
        "mode",
        "stddev",
        "stddev_samp",
        "stddev_pop",
        "variance",
        "var_samp",
        "var_pop",
        "list",
        "array_agg",
        "string_agg",
        "group_concat",
        "listagg",
        "bool_and",
        "bool_or",
        "approx_count_distinct",
        "quantile",
        "quantile_cont",
        "quantile_disc",
        "percentile_cont",
        "percentile_disc",
        "logical_and",
        "logical_or",
        "countif",
        "arbitrary",
        "sumif",
        "avgif",
        "product",
        # conditionals and casts
        "coalesce",
        "nullif",
        "ifnull",
        "if",
        "iff",
        "greatest",
        "least",
        "cast",
        "try_cast",
        "case",
        # numbers
        "abs",
        "round",
        "floor",
        "ceil",
        "ceiling",
        "ln",
        "log",
        "log10",
        "log2",
        "exp",
        "pow",
        "power",
        "sqrt",
        "sign",
        "mod",
        "trunc",
        "div",
        "safe_divide",
        "isnan",
        "isinf",
        # text
        "lower",
        "upper",
        "trim",
        "ltrim",
        "rtrim",
        "length",
        "len",
        "char_length",
        "concat",
        "concat_ws",
        "substr",
        "substring",
        "replace",
        "left",
        "right",
        "strpos",
        "position",
        "instr",
        "contains",
        "starts_with",
        "startswith",
        "ends_with",
        "endswith",
        "regexp_matches",
        "regexp_like",
        "regexp_replace",
        "regexp_extract",
        "split_part",
        "lpad",
        "rpad",
        "reverse",
        "repeat",
        "initcap",
        "md5",
        "sha256",
        # time
        "date_trunc",
        "datetrunc",
        "timestamp_trunc",
        "date_part",
        "datepart",
        "extract",
        "date_diff",
        "datediff",
        "timestamp_diff",
        "date_add",
        "date_sub",
        "dateadd",
        "timestamp_add",
        "epoch",
        "epoch_ms",
        "now",
        "current_date",
        "current_timestamp",
        "strftime",
        "strptime",
        "to_timestamp",
        "make_date",
        "year",
        "month",
        "day",
        "dayofweek",
        "day_of_week",
        "week",
        "quarter",
        "hour",
        "minute",
        "second",
        "unix_to_time",
        "str_to_time",
        "time_to_str",
        "ts_or_ds_to_date",
        "date",
        "time_str_to_time",
        "timestamp",
        "age",
        "last_day",
        "interval",
        # lists (list-path columns)
        "list_sum",
        "list_count",
        "list_max",
        "list_min",
        "list_avg",
        "list_first",
        "list_last",
        "array_length",
        "array_size",
        "list_contains",
        "array_contains",
        "list_has_any",
        "list_has_all",
        "list_distinct",
        "list_unique",
        "unnest",
        "list_filter",
        "list_transform",
        "array_filter",
        "array_transform",
        "list_aggregate",
        "list_aggr",
        "list_sort",
        "array_sort",
        "flatten",
        "list_value",
        "array",
        "struct_extract",
        "json_extract",
        "json_extract_string",
        "json_extract_scalar",
        "json_value",
    }
)


class _Forbidden(ExpressionError):
    pass


def _check_allowed(node: exp.Expression) -> None:
    """Refuse whatever an expression has no business doing: reading files or tables, subqueries,
    settings, commands, and functions outside :data:`ALLOWED_FUNCTIONS`."""
    for sub in node.walk():
        if isinstance(
            sub,
            exp.Subquery
            | exp.Select
            | exp.Union
            | exp.Table
            | exp.From
            | exp.Join
            | exp.Exists
            | exp.Command
            | exp.Pragma
            | exp.Set
            | exp.Copy
            | exp.Create
            | exp.Drop
            | exp.Insert
            | exp.Update
            | exp.Delete
            | exp.Placeholder
            | exp.Parameter,
        ):
            kind = (
                "a subquery"
                if isinstance(sub, exp.Subquery | exp.Select | exp.Exists | exp.Union)
                else f"'{sub.sql(dialect=DIALECT)[:40]}'"
            )
            raise _Forbidden(
                f"{kind} is not allowed in an expression: expressions read the declared sources' columns only"
            )
        if isinstance(sub, exp.Func) and not isinstance(sub, exp.Connector | exp.Binary | exp.Unary | exp.Predicate):
            name = (sub.name if isinstance(sub, exp.Anonymous) else sub.sql_name()).lower()
            if name not in ALLOWED_FUNCTIONS:
                raise _Forbidden(
                    f"function '{name}' is not allowed in an expression (no function may read "
                    "files, tables or settings; the allowed ones are scalar and aggregate functions "
                    "such as sum, count, coalesce, lower, date_trunc, list_sum)"
                )


def parse_expression(text: str) -> exp.Expression:
    """Parse one SQL expression (the body of a SELECT item), allowed functions only."""
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
    _check_allowed(node)
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
