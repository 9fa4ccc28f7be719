"""JSONL event logs as a source, incremental by event time.

The files below ``path`` form streams by their base name: ``events.jsonl`` and its
rotations ``events-2026-05-01.jsonl`` or ``events.jsonl.1`` are all the stream
``events``, read oldest first. Each line is one event; events are records keyed
by ``key_field`` (or the source's key), and an event whose ``type`` is one of
``delete_types`` is a tombstone for its key.

The cursor is the latest event time seen, as ISO-8601 UTC
(``2026-05-01T10:00:00.000000Z``); a read since it returns only later events.
Within a read, batches carry a position (file and line) as well, so a sync that
stops midway resumes exactly where it stopped even if events are out of order.
Lines that are not JSON objects, or lack a key or a readable time, are
quarantined as ``file:line``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

from c360.connectors.base import (
    DEFAULT_BATCH_SIZE,
    Batch,
    Column,
    ConnectorOptions,
    Quarantined,
    Record,
    StreamInfo,
    get_path,
    resolve_path,
)
from c360.connectors.filestreams import parse_json, require_path, row_record, text_encoding
from c360.core.errors import TerminalSourceError


class EventLogOptions(ConnectorOptions):
    path: str
    time_field: str = "timestamp"
    key_field: str | None = None  # defaults to the source's key
    type_field: str = "type"
    delete_types: tuple[str, ...] = ("deleted",)
    encoding: str = "utf-8"


_LOG = re.compile(
    r"^(?P<base>.+?)"
    r"(?:[-_.](?P<date>\d{4}-?\d{2}-?\d{2}(?:[T_-]?\d{2}(?:[-:]?\d{2}){0,2})?))?"
    r"\.(?:jsonl|ndjson)(?:\.(?P<rot>\d+))?$"
)
_ISO = "%Y-%m-%dT%H:%M:%S.%fZ"


def parse_time(value: Any) -> str | None:
    """An event time as ISO-8601 UTC with microseconds, or None when unreadable.

    Accepts ISO strings (``Z``, an offset, or none: taken as UTC) and Unix epoch
    seconds or milliseconds.

    >>> parse_time("2026-05-01T12:00:00+02:00"), parse_time(1777636800)
    ('2026-05-01T10:00:00.000000Z', '2026-05-01T12:00:00.000000Z')
    """
    try:
        if isinstance(value, bool):
            return None
        if isinstance(value, int | float):
            seconds = value / 1000 if abs(value) > 1e11 else value
            t = dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
        elif isinstance(value, str) and value.strip():
            t = dt.datetime.fromisoformat(value.strip().replace("z", "Z"))
            t = t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t.astimezone(dt.UTC)
        else:
            return None
    except (ValueError, OverflowError, OSError):
        return None
    return t.strftime(_ISO)


class EventLogConnector:
    name: ClassVar[str] = "eventlog"
    Options: ClassVar[type[ConnectorOptions]] = EventLogOptions

    def __init__(self, options: ConnectorOptions, *, base_dir: Path = Path(".")) -> None:
        assert isinstance(options, EventLogOptions)
        self.options = options
        self.root = resolve_path(base_dir, options.path)

    # -- protocol -------------------------------------------------------------
    def check(self) -> None:
        require_path(self.name, self.root)

    def discover(self) -> list[StreamInfo]:
        self.check()
        out = []
        for stream, files in self._streams().items():
            cols: dict[str, str] = {}
            for i, (_, _, event) in enumerate(self._lines(files)):
                if i >= 50:
                    break
                if isinstance(event, dict):
                    for k, v in event.items():
                        cols.setdefault(k, type(v).__name__ if v is not None else "null")
            columns = tuple(Column(k, t) for k, t in cols.items())
            out.append(StreamInfo(stream, columns, self.options.key_field, self.options.time_field))
        return out

    def read(
        self, stream: str, *, key: str, since: str | None = None, batch_size: int = DEFAULT_BATCH_SIZE
    ) -> Iterator[Batch]:
        files = self._stream_files(stream)
        after, latest, resume = self._parse_cursor(since)
        records: list[Record] = []
        bad: list[Quarantined] = []
        position: tuple[Path, int] | None = None
        for path, line, event in self._lines(files, resume):
            position = (path, line)
            item = self._event(path, line, event, key)
            if isinstance(item, Quarantined):
                bad.append(item)
            else:
                record, t = item
                if after is None or t > after:
                    records.append(record)
                    latest = max(latest or t, t)
            if len(records) + len(bad) >= batch_size:
                yield Batch(records, self._position_cursor(after, latest, path, line), bad)
                records, bad = [], []
        if records or bad or position is None:
            yield Batch(records, latest, bad)
        elif latest is not None:
            # The last batch was full: hand out the plain time cursor on its own.
            yield Batch([], latest)

    def lookup(self, stream: str, *, key: str, keys: Sequence[str]) -> list[Record]:
        """The latest event of each key (a tombstone when that event is a delete)."""
        wanted = set(keys)
        found: dict[str, tuple[str, Record]] = {}
        for path, line, event in self._lines(self._stream_files(stream)):
            item = self._event(path, line, event, key)
            if isinstance(item, Quarantined) or item[0].key not in wanted:
                continue
            record, t = item
            if record.key not in found or t >= found[record.key][0]:
                found[record.key] = (t, record)
        return [found[k][1] for k in keys if k in found]

    def close(self) -> None:
        return None

    # -- helpers --------------------------------------------------------------
    def _event(self, path: Path, line: int, event: Any, key: str) -> tuple[Record, str] | Quarantined:
        where = f"{path.name}:{line}"
        o = self.options
        record = row_record(event, o.key_field or key, where)
        if isinstance(record, Quarantined):
            return record
        t = parse_time(get_path(event, o.time_field))
        if t is None:
            value = get_path(event, o.time_field)
            reason = (
                f"missing event time '{o.time_field}'"
                if value is None
                else f"unreadable event time {o.time_field}={value!r} (expected ISO-8601 or epoch)"
            )
            return Quarantined(where, reason, json.dumps(event, default=str)[:500])
        record.deleted = get_path(event, o.type_field) in o.delete_types
        return record, t

    def _lines(
        self, files: list[Path], resume: tuple[tuple[Any, ...], int] | None = None
    ) -> Iterator[tuple[Path, int, Any]]:
        for path in files:
            skip = 0
            if resume is not None:
                order = self._order(path)
                if order < resume[0]:
                    continue
                if order == resume[0]:
                    skip = resume[1]
            with path.open(encoding=text_encoding(self.options.encoding), errors="replace") as f:
                for line, text in enumerate(f, start=1):
                    if line <= skip:
                        continue
                    text = text.strip()
                    if not text:
                        continue
                    try:
                        yield path, line, parse_json(text)
                    except json.JSONDecodeError as exc:
                        reason = f"invalid JSON: {exc.msg} at column {exc.colno}"
                        yield path, line, Quarantined(f"{path.name}:{line}", reason, text[:500])

    def _position_cursor(self, after: str | None, latest: str | None, path: Path, line: int) -> str:
        rel = str(path.relative_to(self.root)) if self.root.is_dir() else path.name
        return json.dumps({"after": after, "latest": latest, "file": rel, "line": line})

    def _parse_cursor(self, since: str | None) -> tuple[str | None, str | None, tuple[tuple[Any, ...], int] | None]:
        """(only events after this time, latest time so far, resume position) from a cursor."""
        if not since:
            return None, None, None
        if not since.startswith("{"):
            after = parse_time(since)
            if after is None:
                raise TerminalSourceError(self.name, f"unreadable cursor {since!r}")
            return after, after, None
        try:
            c = json.loads(since)
            path = self.root / c["file"] if self.root.is_dir() else self.root
            return c["after"], c["latest"], (self._order(path), int(c["line"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise TerminalSourceError(self.name, f"unreadable cursor {since!r}") from exc

    def _order(self, path: Path) -> tuple[Any, ...]:
        """Oldest first: dated rotations by date, then numbered ones (.2 before .1), then live."""
        m = _LOG.match(path.name)
        date = re.sub(r"\D", "", m["date"]) if m and m["date"] else "\uffff"
        rot = int(m["rot"]) if m and m["rot"] else 0
        rel = path.parent.relative_to(self.root) if self.root.is_dir() else Path()
        return (str(rel), date, -rot, path.name)

    def _streams(self) -> dict[str, list[Path]]:
        if self.root.is_file():
            files = [self.root]
        else:
            files = [p for p in self.root.rglob("*") if p.is_file() and _LOG.match(p.name)]
        streams: dict[str, list[Path]] = {}
        for p in files:
            m = _LOG.match(p.name)
            base = m["base"] if m else p.stem
            if self.root.is_dir() and p.parent != self.root:
                base = f"{p.parent.relative_to(self.root)}/{base}"
            streams.setdefault(base, []).append(p)
        return {s: sorted(fs, key=self._order) for s, fs in sorted(streams.items())}

    def _stream_files(self, stream: str) -> list[Path]:
        self.check()
        streams = self._streams()
        if stream in streams:
            return streams[stream]
        if len(streams) == 1 and stream in ("", "default"):
            return next(iter(streams.values()))
        raise TerminalSourceError(
            self.name,
            f"no event log '{stream}' under {self.root}"
            f" (streams: {', '.join(streams) or 'none'}; files like events-2026-05-01.jsonl"
            " belong to the stream 'events')",
        )
