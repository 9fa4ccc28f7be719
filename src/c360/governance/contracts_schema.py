"""The JSON Schema (2020-12) of one consumer's record, as the API returns it to that consumer.

It reads the consumer's view from the compiled policy (:mod:`c360.governance.policy`): every
form a field may take for it (in the clear, or each mask the policies that may apply to a record
give it), and the fields present on every record it sees. Masked values are typed by the mask
registry (:mod:`c360.governance.masks`), checks by the check registry
(:mod:`c360.spec.check_kinds`).
"""

from __future__ import annotations

import copy
from typing import Any

from c360.core.errors import NotFound
from c360.governance.masks import mask_of
from c360.governance.policy import Form, View, view_of
from c360.spec.check_kinds import check_kind, guarantees_non_null
from c360.spec.models import ProductSpec

__all__ = ["CUSTOMER_ID", "JSON_TYPES", "consumer_json_schema", "form_label"]

CUSTOMER_ID = "Stable surrogate id of the customer"

JSON_TYPES: dict[str, dict[str, Any]] = {
    "string": {"type": "string"},
    "integer": {"type": "integer"},
    "decimal": {"type": "number"},
    "boolean": {"type": "boolean"},
    "timestamp": {"type": "string", "format": "date-time"},
    "date": {"type": "string", "format": "date"},
    "json": {},
}


def form_label(form: Form) -> str:
    return "in the clear" if form is None else f"masked ({form})"


def _what(product: ProductSpec, name: str) -> str:
    return CUSTOMER_ID if name == "customer_id" else product.fields[name].description


def _field_schema(product: ProductSpec, name: str, mask: Form) -> dict[str, Any]:
    """The schema of one field served in the clear (``mask`` None) or with one mask."""
    if mask is not None:
        schema = copy.deepcopy(dict(mask_of(mask).json_schema))
        return {**schema, "description": f"{_what(product, name)}; masked ({mask})"}
    if name == "customer_id":
        return {"type": "string", "description": CUSTOMER_ID}
    f = product.fields[name]
    desc = f.description + (f" ({f.unit})" if f.unit else "")
    base = dict(JSON_TYPES[f.type])
    required = guarantees_non_null(f.checks)
    if base and not required:
        base["type"] = [base["type"], "null"]
    for c in f.checks:
        fragment = check_kind(c.check).json_schema
        if c.level == "error" and fragment is not None:
            base.update(fragment(c, required))
    out: dict[str, Any] = {**base, "description": desc}
    if f.pii:
        out["x-c360-pii"] = True
    if f.unit:
        out["x-c360-unit"] = f.unit
    return out


def _view_schema(product: ProductSpec, view: View, name: str) -> dict[str, Any]:
    """A field as the consumer may receive it: one schema per form it may take on some row."""
    forms = view.forms[name]
    if len(forms) == 1:
        return _field_schema(product, name, forms[0])
    parts = [{k: v for k, v in _field_schema(product, name, m).items() if k != "description"} for m in forms]
    shown = ", ".join(form_label(m) for m in forms)
    return {"anyOf": parts, "description": f"{_what(product, name)}; {shown}, depending on the row"}


def consumer_json_schema(product: ProductSpec, consumer: str) -> dict[str, Any]:
    """The JSON Schema (2020-12) of one record as ``consumer`` receives it.

    A field only some of the consumer's policies grant, under a row filter, is absent from the
    records those policies do not apply to, so it is not required.
    """
    if consumer not in product.consumers:
        raise NotFound(f"unknown consumer '{consumer}' (known: {', '.join(product.consumers)})")
    view = view_of(product, consumer)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"urn:c360:{product.product}:{product.version}:{consumer}",
        "title": f"{product.product} {product.version} as seen by {consumer}",
        "type": "object",
        "properties": {f: _view_schema(product, view, f) for f in view.fields},
        "required": [f for f in view.fields if f in view.always],
        "additionalProperties": False,
    }
