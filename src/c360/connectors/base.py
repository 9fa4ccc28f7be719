"""The connector protocol: every source system is read through these few calls.

A connector is built from its ``Options`` (validated from the spec, secrets as
``pydantic.SecretStr``) and a ``base_dir`` for relative paths. It then answers:

- ``check()``: connectivity and credentials; raises a ``SourceError`` that says what to fix.
- ``discover()``: the streams (tables, objects, files) it can read, with their columns.
- ``read(stream, key=..., since=cursor)``: batches of records, each with the cursor to
  resume from once that batch is committed. ``since=None`` is a full read.
- ``lookup(stream, key=..., keys=[...])``: just those records, now (live reads).

Records a source deleted arrive as tombstones (``Record.deleted``). Rows that
cannot be parsed are not raised: they travel in ``Batch.quarantined`` with the
place they came from and the reason, so one bad row never stops the rest.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

DEFAULT_BATCH_SIZE = 5_000


class ConnectorOptions(BaseModel):
    """Base for each connector's options: unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class OptionGroup(BaseModel):
    """Base for a nested group of options (auth, pagination, lookup): unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: str  # the source's own type name, e.g. "integer", "varchar", "string"


@dataclass(frozen=True, slots=True)
class StreamInfo:
    name: str
    columns: tuple[Column, ...] = ()
    key: str | None = None
    cursor_field: str | None = None


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


@dataclass(frozen=True, slots=True)
class Notice:
    """Something read that is not an error but may lose meaning: reported, counted, never silent."""

    kind: str  # e.g. "undecodable"
    message: str  # starts with the location: "crm.csv:6: ..."


@dataclass(slots=True)
class Batch:
    records: list[Record]
    cursor: str | None = None  # resume point once this batch is committed; None: no incremental
    quarantined: list[Quarantined] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)


@runtime_checkable
class Connector(Protocol):
    name: ClassVar[str]
    Options: ClassVar[type[ConnectorOptions]]

    def check(self) -> None: ...

    def discover(self) -> list[StreamInfo]: ...

    def read(
        self,
        stream: str,
        *,
        key: str,
        since: str | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> Iterator[Batch]: ...

    def lookup(self, stream: str, *, key: str, keys: Sequence[str]) -> list[Record]: ...

    def close(self) -> None: ...


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
        raise PathError(f"'{head.rstrip('.')}' holds {type(items).__name__} {items!r:.60}, not a list "
                        f"(the path '{path}' reads every element of a list)")
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


def resolve_path(base_dir: Path, path: str) -> Path:
    p = Path(path).expanduser()
    return p if p.is_absolute() else base_dir / p
