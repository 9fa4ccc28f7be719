"""An in-memory connector: the reference implementation of the protocol, used in tests."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

from pydantic import Field

from c360.connectors.base import (
    DEFAULT_BATCH_SIZE,
    Batch,
    Column,
    ConnectorOptions,
    Record,
    StreamInfo,
    get_path,
    record_key,
)


class MemoryOptions(ConnectorOptions):
    streams: dict[str, list[dict[str, Any]]] = Field(default_factory=dict)
    cursor_field: str | None = None


class MemoryConnector:
    """Streams are lists of dicts; an optional ``cursor_field`` makes reads incremental."""

    name: ClassVar[str] = "memory"
    Options: ClassVar[type[ConnectorOptions]] = MemoryOptions

    def __init__(self, options: ConnectorOptions, **_: Any) -> None:
        assert isinstance(options, MemoryOptions)
        self.options = options
        self.streams = {k: list(v) for k, v in options.streams.items()}
        self.down = False

    def check(self) -> None:
        return None

    def discover(self) -> list[StreamInfo]:
        out = []
        for name, rows in self.streams.items():
            cols = sorted({k for r in rows for k in r})
            out.append(StreamInfo(name, tuple(Column(c, "any") for c in cols), cursor_field=self.options.cursor_field))
        return out

    def read(
        self, stream: str, *, key: str, since: str | None = None, batch_size: int = DEFAULT_BATCH_SIZE
    ) -> Iterator[Batch]:
        rows = self.streams[stream]
        cf = self.options.cursor_field
        if cf is not None:
            rows = sorted((r for r in rows if since is None or str(r[cf]) > since), key=lambda r: str(r[cf]))
        for i in range(0, len(rows), batch_size):
            chunk = rows[i : i + batch_size]
            records = [Record(record_key(r, key) or "", dict(r), bool(r.get("_deleted"))) for r in chunk]
            cursor = str(get_path(chunk[-1], cf)) if cf else None
            yield Batch(records, cursor)

    def lookup(self, stream: str, *, key: str, keys: Sequence[str]) -> list[Record]:
        wanted = set(keys)
        return [Record(str(get_path(r, key)), dict(r)) for r in self.streams[stream] if str(get_path(r, key)) in wanted]

    def close(self) -> None:
        return None
