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

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from c360.core.records import PathError, Quarantined, Record, get_path, record_key

__all__ = [  # Record, Quarantined and the path readers live in c360.core.records
    "DEFAULT_BATCH_SIZE",
    "Batch",
    "Column",
    "Connector",
    "ConnectorOptions",
    "Notice",
    "OptionGroup",
    "PathError",
    "Quarantined",
    "Record",
    "StreamInfo",
    "get_path",
    "record_key",
    "resolve_path",
]

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
        self, stream: str, *, key: str, since: str | None = None, batch_size: int = DEFAULT_BATCH_SIZE
    ) -> Iterator[Batch]: ...

    def lookup(self, stream: str, *, key: str, keys: Sequence[str]) -> list[Record]: ...

    def close(self) -> None: ...


def resolve_path(base_dir: Path, path: str) -> Path:
    p = Path(path).expanduser()
    return p if p.is_absolute() else base_dir / p
