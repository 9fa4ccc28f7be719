"""File connectors: CSV, JSON Lines and JSON arrays, from one file or a folder.

Streams are the files below ``path`` (relative to the spec's folder). An
incremental read skips files whose content hash has not changed since the
cursor; a changed file is read again whole (staging drops unchanged records by
their content hash). Rows that cannot be parsed are quarantined as
``file:line`` with the reason. Streams and cursors are those of every file
source (see ``filestreams.py``).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

from c360.connectors.base import (
    DEFAULT_BATCH_SIZE,
    Batch,
    Column,
    ConnectorOptions,
    Notice,
    Quarantined,
    Record,
    StreamInfo,
    record_key,
    resolve_path,
)
from c360.connectors.filestreams import (
    FileTree,
    file_cursor,
    file_digest,
    parse_json,
    row_record,
    rows_to_skip,
    text_encoding,
    undecodable,
)
from c360.core.errors import TerminalSourceError


class FileOptions(ConnectorOptions):
    path: str
    encoding: str = "utf-8"


class CsvOptions(FileOptions):
    delimiter: str = ","


class _FileConnector(FileTree):
    name: ClassVar[str] = "file"
    Options: ClassVar[type[ConnectorOptions]] = FileOptions
    suffixes: ClassVar[tuple[str, ...]] = ()

    def __init__(self, options: ConnectorOptions, *, base_dir: Path = Path(".")) -> None:
        assert isinstance(options, FileOptions)
        self.options = options
        self.root = resolve_path(base_dir, options.path)

    # -- protocol -------------------------------------------------------------
    def discover(self) -> list[StreamInfo]:
        self.check()
        out = []
        for f in self._files():
            cols: list[str] = []
            for rec in self._rows(f, limit=50):
                if isinstance(rec, dict):
                    cols.extend(k for k in rec if k not in cols)
            out.append(StreamInfo(self._stream_name(f), tuple(Column(c, "string") for c in cols)))
        return out

    def read(
        self, stream: str, *, key: str, since: str | None = None, batch_size: int = DEFAULT_BATCH_SIZE
    ) -> Iterator[Batch]:
        path = self._stream_path(stream)
        digest = file_digest(path)
        skip = rows_to_skip(since, digest)
        if skip is None:
            return
        records: list[Record] = []
        bad: list[Quarantined] = []
        notices: list[Notice] = []
        position = 0
        for line, row in self._numbered_rows(path, notices):
            position += 1
            if position <= skip:
                notices.clear()
                continue
            item = row_record(row, key, f"{path.name}:{line}")
            if isinstance(item, Quarantined):
                bad.append(item)
            else:
                records.append(item)
            if len(records) + len(bad) >= batch_size:
                yield Batch(records, file_cursor(digest, position), bad, notices)
                records, bad, notices = [], [], []
        yield Batch(records, file_cursor(digest), bad, notices)

    # Live reads look up a few keys at a time. A file up to this size is indexed by key once,
    # and again only when it changes; a larger one is scanned on each look-up.
    INDEX_MAX_BYTES: ClassVar[int] = 16 * 1024 * 1024

    def lookup(self, stream: str, *, key: str, keys: Sequence[str]) -> list[Record]:
        path = self._stream_path(stream)
        stat = path.stat()
        if stat.st_size <= self.INDEX_MAX_BYTES:
            cache: dict[tuple[str, str], tuple[tuple[int, int], dict[str, list[tuple[int, dict[str, Any]]]]]]
            cache = self.__dict__.setdefault("_lookup_index", {})
            signature = (stat.st_mtime_ns, stat.st_size)
            hit = cache.get((str(path), key))
            if hit is None or hit[0] != signature:
                index: dict[str, list[tuple[int, dict[str, Any]]]] = {}
                for line, row in self._numbered_rows(path):
                    if isinstance(row, dict) and (k := record_key(row, key)) is not None:
                        index.setdefault(k, []).append((line, row))
                hit = cache[(str(path), key)] = (signature, index)
            found = sorted((line, k, row) for k in set(keys) for line, row in hit[1].get(k, ()))
            return [Record(k, dict(row)) for _, k, row in found]  # in file order, as a scan finds them
        wanted = set(keys)
        out = []
        for _, row in self._numbered_rows(path):
            if isinstance(row, dict) and (k := record_key(row, key)) in wanted:
                out.append(Record(k or "", row))
        return out

    def close(self) -> None:
        return None

    # -- helpers --------------------------------------------------------------
    def _rows(self, path: Path, limit: int) -> Iterator[Any]:
        for i, (_, row) in enumerate(self._numbered_rows(path)):
            if i >= limit:
                return
            yield row

    def _numbered_rows(self, path: Path, notices: list[Notice] | None = None) -> Iterator[tuple[int, Any]]:
        """Each row with its line; rows whose bytes the encoding could not decode add to ``notices``."""
        raise NotImplementedError

    def _note(self, notices: list[Notice] | None, where: str, text: str) -> None:
        if notices is not None and (n := undecodable(where, text, self.options.encoding)) is not None:
            notices.append(n)


class CsvConnector(_FileConnector):
    name: ClassVar[str] = "csv"
    Options: ClassVar[type[ConnectorOptions]] = CsvOptions
    suffixes: ClassVar[tuple[str, ...]] = (".csv", ".tsv")

    def _numbered_rows(self, path: Path, notices: list[Notice] | None = None) -> Iterator[tuple[int, Any]]:
        assert isinstance(self.options, CsvOptions)
        with path.open(newline="", encoding=text_encoding(self.options.encoding), errors="replace") as f:
            reader = csv.reader(f, delimiter=self.options.delimiter)
            try:
                header = next(reader)
            except StopIteration:
                return
            width = len(header)
            for values in reader:
                line = reader.line_num
                if not values:
                    continue
                self._note(notices, f"{path.name}:{line}", "".join(values))
                if len(values) != width:
                    yield (
                        line,
                        Quarantined(
                            f"{path.name}:{line}",
                            f"expected {width} columns ({', '.join(header)}), found {len(values)}",
                            self.options.delimiter.join(values)[:500],
                        ),
                    )
                    continue
                yield line, {h: (v or None) for h, v in zip(header, values, strict=True)}


class JsonlConnector(_FileConnector):
    name: ClassVar[str] = "jsonl"
    suffixes: ClassVar[tuple[str, ...]] = (".jsonl", ".ndjson")

    def _numbered_rows(self, path: Path, notices: list[Notice] | None = None) -> Iterator[tuple[int, Any]]:
        with path.open(encoding=text_encoding(self.options.encoding), errors="replace") as f:  # type: ignore[attr-defined, unused-ignore]
            for line, text in enumerate(f, start=1):
                text = text.strip()
                if not text:
                    continue
                self._note(notices, f"{path.name}:{line}", text)
                try:
                    yield line, parse_json(text)
                except json.JSONDecodeError as exc:
                    reason = f"invalid JSON: {exc.msg} at column {exc.colno}"
                    yield line, Quarantined(f"{path.name}:{line}", reason, text[:500])


class JsonConnector(_FileConnector):
    name: ClassVar[str] = "json"
    suffixes: ClassVar[tuple[str, ...]] = (".json",)

    def _numbered_rows(self, path: Path, notices: list[Notice] | None = None) -> Iterator[tuple[int, Any]]:
        text = path.read_text(encoding=text_encoding(self.options.encoding), errors="replace")  # type: ignore[attr-defined, unused-ignore]
        if (at := text.find("\ufffd")) >= 0:
            self._note(notices, f"{path.name}:{text.count(chr(10), 0, at) + 1}", text[at : at + 1])
        try:
            data = parse_json(text)
        except json.JSONDecodeError as exc:
            raise TerminalSourceError(self.name, f"{path}:{exc.lineno}: invalid JSON: {exc.msg}") from exc
        if isinstance(data, dict):
            # Common API dumps wrap the array: {"data": [...]} or {"records": [...]}.
            arrays = [v for v in data.values() if isinstance(v, list)]
            data = arrays[0] if len(arrays) == 1 else [data]
        elif not isinstance(data, list):
            data = [data]  # a lone scalar: quarantined by read() as "expected an object"
        yield from enumerate(data, start=1)
