"""Excel workbooks (.xlsx) as a source: one stream per sheet, streamed row by row.

openpyxl's read-only mode parses a sheet as it is iterated, so memory stays flat
however long the sheet. A sheet's first row (``header_row``) names the columns.
Streams are the sheet names when ``path`` is one workbook, and
``<file>!<sheet>`` when it is a folder of them. A row wider than the header, or
without its key, is quarantined as ``file.xlsx!Sheet:row``. Incremental reads
go by the workbook's content hash, as for the other files (see ``filestreams.py``).
"""

from __future__ import annotations

import datetime as dt
import json
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
    record_key,
    resolve_path,
)
from c360.connectors.filestreams import FileTree, file_cursor, file_digest, row_record, rows_to_skip
from c360.core.errors import MissingDependency, TerminalSourceError


class ExcelOptions(ConnectorOptions):
    path: str
    header_row: int = 1


_TYPE_NAMES = {
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    dt.datetime: "datetime",
    dt.date: "date",
    dt.time: "time",
}


def _openpyxl() -> Any:
    try:
        import openpyxl
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingDependency("openpyxl", "excel") from exc
    return openpyxl


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _cell(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return None if _blank(value) else value


def _raw(value: Any) -> Any:
    return None if _blank(value) else value


class ExcelConnector(FileTree):
    name: ClassVar[str] = "excel"
    Options: ClassVar[type[ConnectorOptions]] = ExcelOptions
    suffixes: ClassVar[tuple[str, ...]] = (".xlsx", ".xlsm")
    skip_prefixes: ClassVar[tuple[str, ...]] = ("~$",)  # Excel's lock files

    def __init__(self, options: ConnectorOptions, *, base_dir: Path = Path(".")) -> None:
        assert isinstance(options, ExcelOptions)
        self.options = options
        self.root = resolve_path(base_dir, options.path)
        self._xl = _openpyxl()

    # -- protocol -------------------------------------------------------------
    def discover(self) -> list[StreamInfo]:
        self.check()
        out = []
        for f in self._files():
            wb = self._open(f)
            try:
                for sheet in wb.sheetnames:
                    header: list[str] = []
                    types: dict[str, str] = {}
                    rows = self._numbered_rows(wb[sheet], f, sheet, limit=50, convert=False)
                    for n, row in rows:
                        if n == 0:
                            header = list(row)
                        elif isinstance(row, dict):
                            for k, v in row.items():
                                if v is not None and k not in types:
                                    types[k] = _TYPE_NAMES.get(type(v), type(v).__name__)
                    cols = tuple(Column(h, types.get(h, "string")) for h in header)
                    out.append(StreamInfo(self._sheet_stream(f, sheet), cols))
            finally:
                wb.close()
        return out

    def read(
        self, stream: str, *, key: str, since: str | None = None, batch_size: int = DEFAULT_BATCH_SIZE
    ) -> Iterator[Batch]:
        path, sheet = self._stream(stream)
        digest = file_digest(path)
        skip = rows_to_skip(since, digest)
        if skip is None:
            return
        wb = self._open(path)
        try:
            ws = self._sheet(wb, path, sheet)
            records: list[Record] = []
            bad: list[Quarantined] = []
            for n, row in self._numbered_rows(ws, path, sheet):
                if n <= skip or n == 0:
                    continue
                item = row_record(row, key, self._where(path, sheet, n))
                if isinstance(item, Quarantined):
                    bad.append(item)
                else:
                    records.append(item)
                if len(records) + len(bad) >= batch_size:
                    yield Batch(records, file_cursor(digest, n), bad)
                    records, bad = [], []
            yield Batch(records, file_cursor(digest), bad)
        finally:
            wb.close()

    def lookup(self, stream: str, *, key: str, keys: Sequence[str]) -> list[Record]:
        path, sheet = self._stream(stream)
        wanted = set(keys)
        wb = self._open(path)
        try:
            rows = self._numbered_rows(self._sheet(wb, path, sheet), path, sheet)
            return [
                Record(k, row)
                for n, row in rows
                if n and isinstance(row, dict) and (k := record_key(row, key) or "") in wanted
            ]
        finally:
            wb.close()

    def close(self) -> None:
        return None

    # -- helpers --------------------------------------------------------------
    def _numbered_rows(
        self, ws: Any, path: Path, sheet: str, limit: int | None = None, convert: bool = True
    ) -> Iterator[tuple[int, Any]]:
        """(0, header) first, then (sheet row number, dict or Quarantined) for each data row.

        ``convert`` turns dates and times into ISO strings (plain JSON); discover keeps
        them as they are to name their types.
        """
        value = _cell if convert else _raw
        first = self.options.header_row
        header: list[str] | None = None
        for n, values in enumerate(ws.iter_rows(min_row=first, values_only=True), start=first):
            cells = list(values)
            while cells and _blank(cells[-1]):
                cells.pop()  # sheets pad every row to the widest one
            if header is None:
                header = [str(c).strip() if c is not None else f"column_{i}" for i, c in enumerate(cells, start=1)]
                yield 0, header
                continue
            if limit is not None and n - first > limit:
                return
            if not cells:
                continue
            if len(cells) > len(header):
                yield (
                    n,
                    Quarantined(
                        self._where(path, sheet, n),
                        f"expected {len(header)} columns ({', '.join(header)}), found {len(cells)}",
                        json.dumps([_cell(c) for c in cells], default=str)[:500],
                    ),
                )
                continue
            row = dict.fromkeys(header)
            row.update(zip(header, (value(c) for c in cells), strict=False))
            yield n, row

    def _where(self, path: Path, sheet: str, row: int) -> str:
        return f"{path.name}!{sheet}:{row}"

    def _open(self, path: Path) -> Any:
        try:
            return self._xl.load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:  # zipfile.BadZipFile, InvalidFileException, KeyError
            raise TerminalSourceError(self.name, f"{path}: not a readable .xlsx workbook: {exc}") from exc

    def _sheet(self, wb: Any, path: Path, sheet: str) -> Any:
        if sheet not in wb.sheetnames:
            raise TerminalSourceError(
                self.name, f"{path.name} has no sheet '{sheet}' (sheets: {', '.join(wb.sheetnames)})"
            )
        return wb[sheet]

    def _sheet_stream(self, f: Path, sheet: str) -> str:
        return sheet if self.root.is_file() else f"{f.relative_to(self.root)}!{sheet}"

    def _stream(self, stream: str) -> tuple[Path, str]:
        """The workbook and sheet a stream names."""
        self.check()
        file, bang, sheet = stream.rpartition("!")
        if self.root.is_file():
            if not bang or file == self.root.name:
                return self.root, sheet
        elif bang and (self.root / file).is_file():
            return self.root / file, sheet
        files = [str(f.relative_to(self.root)) for f in self._files()] if self.root.is_dir() else []
        raise TerminalSourceError(
            self.name,
            f"no stream '{stream}' under {self.root}; streams are '<file>!<sheet>'"
            f" (workbooks: {', '.join(files) or 'none'})",
        )
