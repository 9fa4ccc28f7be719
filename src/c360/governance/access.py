"""Field-level access: which fields a consumer may see, and the projection of a record onto them.

Pure functions, no I/O: deny by default, and a field not granted is absent from the
answer (never present as null).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from c360.spec.models import ProductSpec


def granted_fields(product: ProductSpec, consumer: str) -> list[str]:
    """The fields ``consumer`` may read, in the product's field order; none for an unknown consumer."""
    spec = product.consumers.get(consumer)
    if spec is None:
        return []
    allowed = set(spec.fields)
    return [f for f in product.field_names if f in allowed]


def project(record: Mapping[str, Any], fields: Iterable[str]) -> dict[str, Any]:
    """Only ``fields`` of ``record``; a granted field the record lacks is returned as null.

    >>> project({"customer_id": "c_1", "mrr": 10.0, "csat": 0.9}, ["customer_id", "mrr"])
    {'customer_id': 'c_1', 'mrr': 10.0}
    """
    return {f: record.get(f) for f in fields}
