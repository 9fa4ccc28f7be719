"""Pydantic's validation errors of a spec, located in its YAML and said the way validate says them."""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError

from c360.core.errors import SpecIssue
from c360.core.text import closest
from c360.spec.loader import Located, Path_

__all__ = ["pydantic_issues"]


def pydantic_issues(exc: ValidationError, doc: Located, data: Any) -> list[SpecIssue]:
    out = []
    for err in exc.errors():
        loc: Path_ = tuple(p for p in err["loc"] if isinstance(p, str | int))
        kind = err["type"]
        suggestion = None
        if kind == "extra_forbidden":
            key = str(loc[-1])
            allowed = _allowed_keys(loc[:-1])
            suggestion = closest(key, allowed)
            message = f"unknown key '{key}'" + (f" (expected one of: {', '.join(allowed)})" if allowed else "")
        elif kind == "missing":
            message = "is required"
        elif kind in ("literal_error", "enum"):
            expected = re.findall(r"'([^']+)'", str(err.get("ctx", {}).get("expected", "")))
            value = _value_at(data, loc)
            suggestion = closest(str(value), expected) if expected else None
            message = f"'{value}' is not valid; expected one of: {', '.join(expected)}"
        else:
            value = _value_at(data, loc)
            msg = err["msg"].removeprefix("Value error, ")
            message = f"{msg} (found {value!r})" if value is not None and not isinstance(value, dict | list) else msg
        out.append(doc.issue(loc, message, suggestion))
    return out


def _value_at(data: Any, loc: Path_) -> Any:
    for part in loc:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _allowed_keys(loc: Path_) -> list[str]:
    from c360.spec import models as m

    if not loc:
        return list(m.ProductSpec.model_fields)
    head = loc[0]
    table: dict[str, type[Any]] = {
        "owner": m.Owner,
        "currency": m.Currency,
        "identity": m.IdentitySpec,
        "erasure": m.ErasureSpec,
    }
    if head in table and len(loc) == 1:
        return list(table[str(head)].model_fields)
    if head == "identity" and loc[1:] == ("match",):
        return list(m.MatchSpec.model_fields)
    if head == "fields" and len(loc) == 2:
        return list(m.FieldSpec.model_fields)
    if head == "consumers" and len(loc) == 2:
        return list(m.ConsumerSpec.model_fields)
    if head == "subscriptions" and len(loc) == 2:
        return list(m.SubscriptionSpec.model_fields)
    if head == "sources" and len(loc) == 4 and loc[2] == "columns":
        return [f.alias or name for name, f in m.ColumnSpec.model_fields.items()]
    return []
