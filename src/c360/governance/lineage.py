"""Field lineage, derived from each field's SQL (never hand-written)."""

from __future__ import annotations

from typing import Any

from c360.spec.expressions import column_refs, parse_expression
from c360.spec.models import ProductSpec


def field_lineage(product: ProductSpec, field: str) -> list[dict[str, Any]]:
    """Each source column ``field`` reads: source, connector, stream, column and source path."""
    if field == "customer_id":
        return [
            {
                "source": "identity_map",
                "column": "customer_id",
                "transform": "surrogate id minted by identity resolution",
            }
        ]
    spec = product.fields[field]
    out: list[dict[str, Any]] = []
    seen = set()
    for ref in column_refs(parse_expression(spec.expr)):
        if (ref.source, ref.column) in seen:
            continue
        seen.add((ref.source, ref.column))
        src = product.sources[ref.source]
        out.append(
            {
                "source": ref.source,
                "connector": src.connector,
                "stream": src.stream or src.options.get("path") or src.options.get("table"),
                "column": ref.column,
                "path": src.column_path(ref.column),
            }
        )
    return out


def schema(product: ProductSpec, fields: list[str]) -> list[dict[str, Any]]:
    """The documented schema of ``fields``: type, unit, description, PII flag, lineage, expression."""
    out = []
    for name in fields:
        if name == "customer_id":
            out.append(
                {
                    "name": name,
                    "type": "string",
                    "unit": None,
                    "pii": False,
                    "description": "Stable surrogate id of the customer, minted by c360",
                    "expression": None,
                    "lineage": field_lineage(product, name),
                }
            )
            continue
        f = product.fields[name]
        out.append(
            {
                "name": name,
                "type": f.type,
                "unit": f.unit,
                "pii": f.pii,
                "description": f.description,
                "expression": " ".join(f.expr.split()),
                "lineage": field_lineage(product, name),
            }
        )
    return out
