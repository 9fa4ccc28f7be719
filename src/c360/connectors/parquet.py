"""Parquet files as a source: one stream per file below ``path``, read batch by batch.

``ParquetFile.iter_batches`` decodes one record batch at a time, so memory stays
flat whatever the file's size. Incremental reads work as for the other files
(see ``filestreams.py``): an unchanged file is skipped by its SHA-256, a changed one
is read again, and ``<sha256>@<n>`` resumes after the ``n``-th row.
"""

from __future__ import annotations

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
    resolve_path,
)
from c360.connectors.filestreams import FileTree, file_cursor, file_digest, rows_to_skip
from c360.connectors.sql import plain_value
from c360.core.errors import MissingDependency, TerminalSourceError


class ParquetOptions(ConnectorOptions):
    path: str
    columns: list[str] | None = None  # read only these (plus the key)


def _pq() -> Any:
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:  # pragma: no cover - pyarrow is a core dependency
        raise MissingDependency("pyarrow", "all") from exc
    return pq


class ParquetConnector(FileTree):
    name: ClassVar[str] = "parquet"
    Options: ClassVar[type[ConnectorOptions]] = ParquetOptions
    suffixes: ClassVar[tuple[str, ...]] = (".parquet", ".pq")

    def __init__(self, options: ConnectorOptions, *, base_dir: Path = Path(".")) -> None:
        assert isinstance(options, ParquetOptions)
        self.options = options
        self.root = resolve_path(base_dir, options.path)
        self._pq = _pq()

    # -- protocol -------------------------------------------------------------
    def discover(self) -> list[StreamInfo]:
        self.check()
        out = []
        for f in self._files():
            schema = self._open(f).schema_arrow
            cols = tuple(Column(field.name, str(field.type)) for field in schema)
            out.append(StreamInfo(self._stream_name(f), cols))
        return out

    def read(
        self, stream: str, *, key: str, since: str | None = None, batch_size: int = DEFAULT_BATCH_SIZE
    ) -> Iterator[Batch]:
        path = self._stream_path(stream)
        digest = file_digest(path)
        skip = rows_to_skip(since, digest)
        if skip is None:
            return
        pf = self._open(path)
        names = pf.schema_arrow.names
        if key not in names:
            raise TerminalSourceError(self.name, f"{path.name} has no column '{key}' (columns: {', '.join(names)})")
        position = 0
        for rb in pf.iter_batches(batch_size=batch_size, columns=self._columns(key)):
            if position + rb.num_rows <= skip:
                position += rb.num_rows
                continue
            if position < skip:
                rb = rb.slice(skip - position)
                position = skip
            records, bad = self._records(rb, key, path.name, position)
            position += rb.num_rows
            yield Batch(records, file_cursor(digest, position), bad)
        yield Batch([], file_cursor(digest))

    def lookup(self, stream: str, *, key: str, keys: Sequence[str]) -> list[Record]:
        path = self._stream_path(stream)
        wanted = set(keys)
        out = []
        pf = self._open(path)
        for rb in pf.iter_batches(columns=self._columns(key)):
            # Only rows whose key matches are converted to Python objects.
            key_values = rb.column(rb.schema.get_field_index(key)).to_pylist()
            hits = [i for i, v in enumerate(key_values) if v is not None and str(v) in wanted]
            if hits:
                records, _ = self._records(rb.take(hits), key, path.name, 0)
                out.extend(records)
        return out

    def close(self) -> None:
        return None

    # -- helpers --------------------------------------------------------------
    def _records(self, rb: Any, key: str, file: str, offset: int) -> tuple[list[Record], list[Quarantined]]:
        records: list[Record] = []
        bad: list[Quarantined] = []
        names = rb.schema.names
        arrays = [_jsonable(rb.column(i)) for i in range(rb.num_columns)]
        nested = [names[i] for i, a in enumerate(arrays) if not _is_json_native(a.type)]
        ki = names.index(key)
        # Column-wise conversion: much faster than building each row from Arrow scalars.
        columns = [a.to_pylist() for a in arrays]
        for i, values in enumerate(zip(*columns, strict=True), start=offset + 1):
            row = dict(zip(names, values, strict=True))
            for name in nested:
                row[name] = _deep_plain(row[name])
            k = values[ki]
            if k is None or k == "":
                raw = json.dumps(row, default=str)[:500]
                bad.append(Quarantined(f"{file}:{i}", f"missing key '{key}'", raw))
            else:
                records.append(Record(str(k), row))
        return records, bad

    def _columns(self, key: str) -> list[str] | None:
        cols = self.options.columns
        if cols is None:
            return None
        return cols if key in cols else [key, *cols]

    def _open(self, path: Path) -> Any:
        try:
            return self._pq.ParquetFile(path)
        except Exception as exc:  # ArrowInvalid and friends: not a Parquet file
            raise TerminalSourceError(self.name, f"{path}: not a readable Parquet file: {exc}") from exc


def _jsonable(array: Any) -> Any:
    """Dates, times, timestamps and decimals as ISO / exact strings, converted by Arrow."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.types as t

    typ = array.type
    if t.is_timestamp(typ):
        # Zoned timestamps are UTC instants: format them as naive wall times in UTC and
        # mark the offset (casting a naive timestamp to string is ~20x faster than strftime).
        text = pc.cast(array.cast(pa.timestamp(typ.unit)), pa.string())
        text = pc.replace_substring(text, " ", "T", max_replacements=1)
        return pc.binary_join_element_wise(text, "+00:00", "") if typ.tz else text
    if t.is_date(typ) or t.is_time(typ) or t.is_decimal(typ):
        return pc.cast(array, pa.string())
    return array


def _is_json_native(arrow_type: Any) -> bool:
    """Whether values of this Arrow type are already plain JSON (strings, numbers, bools)."""
    import pyarrow.types as t

    return bool(
        t.is_integer(arrow_type)
        or t.is_floating(arrow_type)
        or t.is_string(arrow_type)
        or t.is_large_string(arrow_type)
        or t.is_boolean(arrow_type)
        or t.is_null(arrow_type)
    )


def _deep_plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deep_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_plain(v) for v in value]
    return plain_value(value)
