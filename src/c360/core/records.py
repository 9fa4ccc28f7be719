"""What every layer reads of a source record: the record, a quarantined row, a path into its payload.

Connectors produce them; the store keeps them; the engine, identity, governance and pipeline
read them. They live here, below all of those.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Record:
    """One source record: its key, its payload as the source shapes it, or a tombstone."""

    key: str
    data: dict[str, Any]
    deleted: bool = False
    location: str | None = field(default=None, repr=False, compare=False)  # "crm.csv:7", where known


@dataclass(frozen=True, slots=True)
class Quarantined:
    """A row that could not be read, kept with where it came from and why."""

    location: str  # e.g. "crm_accounts.csv:17" or "GET /api/v2/tickets page 3"
    reason: str
    raw: str = ""


_MISSING = object()


def get_path(data: Mapping[str, Any], path: str, default: Any = None) -> Any:
    """Read a dotted path such as ``metadata.crm_account_id`` from nested mappings.

    >>> get_path({"requester": {"email": "a@b.c"}}, "requester.email")
    'a@b.c'
    """
    if path in data:
        return data[path]
    if "[]" in path:
        return _get_list_path(data, path, default)
    value: Any = data
    for part in path.split("."):
        if isinstance(value, Mapping):
            value = value.get(part, _MISSING)
        else:
            return default
        if value is _MISSING:
            return default
    return value


class PathError(ValueError):
    """A list path (``a.b[].c``) met something that is not a list where it expected one."""


def _get_list_path(data: Mapping[str, Any], path: str, default: Any) -> Any:
    """``subscriptions.data[].price.unit_amount``: the values under every element of a list.

    The part before ``[]`` must be a list (or missing: then ``default``); the rest is read in
    each element, elements without it left out. Raises :class:`PathError` naming where a
    value that is not a list was found.
    """
    head, _, rest = path.partition("[]")
    items = get_path(data, head.rstrip("."), _MISSING)
    if items is _MISSING or items is None:
        return default
    if not isinstance(items, list):
        raise PathError(
            f"'{head.rstrip('.')}' holds {type(items).__name__} {items!r:.60}, not a list "
            f"(the path '{path}' reads every element of a list)"
        )
    rest = rest.lstrip(".")
    if not rest:
        return list(items)
    out: list[Any] = []
    for item in items:
        if not isinstance(item, Mapping):
            continue
        value = get_path(item, rest, _MISSING)
        if value is _MISSING or value is None:
            continue
        if "[]" in rest and isinstance(value, list):
            out.extend(value)
        else:
            out.append(value)
    return out


def record_key(data: Mapping[str, Any], key: str) -> str | None:
    """The record's key as a string, or None when it has none."""
    value = get_path(data, key)
    if value is None or value == "":
        return None
    return str(value)
