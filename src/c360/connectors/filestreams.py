"""What the file sources share: streams as files below ``path``, and content-hash cursors.

A file source's ``path`` (relative to the spec's folder) is one file, whose
stream is its name, or a folder, whose streams are the files below it with the
source's suffixes, named by their path relative to it.

The cursor is the file's SHA-256 once the whole file was read, and
``<sha256>@<n>`` after a batch that ended at the file's ``n``-th row, so a sync
that stops midway resumes after that row while the file is unchanged; a changed
file is read again whole (staging drops unchanged records by their content hash).
"""

from __future__ import annotations

import codecs
import hashlib
import json
import math
from pathlib import Path
from typing import Any, ClassVar

from c360.connectors.base import Notice, Quarantined, Record, record_key
from c360.core.errors import TerminalSourceError

INT64 = 2**63


def text_encoding(encoding: str) -> str:
    """The codec to read a file declared in ``encoding`` with: UTF-8 files may begin with a BOM.

    >>> text_encoding("utf-8"), text_encoding("UTF8"), text_encoding("latin-1")
    ('utf-8-sig', 'utf-8-sig', 'latin-1')
    """
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        raise TerminalSourceError("file", f"unknown encoding '{encoding}' (e.g. utf-8, latin-1, cp1252)") from None
    return "utf-8-sig" if name == "utf-8" else encoding


def _number_text(text: str) -> float | str:
    # A number beyond a 64-bit float (1e400) keeps its text: typing it reports it, with its value.
    x = float(text)
    return x if math.isfinite(x) else text


def _int_text(text: str) -> int | str:
    # Staging stores 64-bit integers; a larger one keeps its text, for the column's type to judge.
    n = int(text)
    return n if -INT64 <= n < INT64 else text


def parse_json(text: str) -> Any:
    """JSON as sources write it, with numbers no wider than staging holds.

    Numbers past a 64-bit float or integer, and ``NaN``/``Infinity``, keep their text, so the
    record is quarantined (or the field nulled) by its column type naming the value, rather
    than becoming ``inf`` or failing the whole sync.

    >>> parse_json('{"a": 1e400, "b": 100000000000000000000, "c": NaN, "d": 1.5}')
    {'a': '1e400', 'b': '100000000000000000000', 'c': 'NaN', 'd': 1.5}
    """
    return json.loads(text, parse_float=_number_text, parse_int=_int_text, parse_constant=str)


def undecodable(where: str, text: str, encoding: str) -> Notice | None:
    """A notice when ``text`` holds bytes the file's encoding could not decode (read as U+FFFD)."""
    if "\ufffd" not in text:
        return None
    return Notice(
        "undecodable",
        f"{where}: holds bytes that are not valid {encoding}, read as U+FFFD; "
        f"declare the source's encoding (e.g. encoding: latin-1 or cp1252)",
    )


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def file_cursor(digest: str, position: int | None = None) -> str:
    """The cursor for a file read to its end (``position=None``) or up to a row."""
    return digest if position is None else f"{digest}@{position}"


def rows_to_skip(since: str | None, digest: str) -> int | None:
    """Rows of an unchanged file already read, or None when nothing is left to read.

    >>> rows_to_skip("abc@40", "abc"), rows_to_skip("abc", "abc"), rows_to_skip("old", "abc")
    (40, None, 0)
    """
    if not since:
        return 0
    seen, _, position = since.partition("@")
    if seen != digest:
        return 0  # the file changed: read it again whole
    if not position:
        return None
    return int(position) if position.isdigit() else 0


def row_record(row: Any, key: str, where: str) -> Record | Quarantined:
    """A parsed row as a record, or quarantined when it failed to parse, is no object or has no key.

    >>> row_record({"id": 7}, "id", "a.csv:2")
    Record(key='7', data={'id': 7}, deleted=False)
    >>> row_record([1], "id", "a.jsonl:3").reason
    'expected an object, found list'
    """
    if isinstance(row, Quarantined):
        return row
    if not isinstance(row, dict):
        found = type(row).__name__
        return Quarantined(where, f"expected an object, found {found}", str(row)[:500])
    k = record_key(row, key)
    if k is None:
        return Quarantined(where, f"missing key '{key}'", json.dumps(row, default=str)[:500])
    return Record(k, row, location=where)


def require_path(source: str, root: Path) -> None:
    """Raise a Terminal error naming ``root`` when it does not exist."""
    if not root.exists():
        raise TerminalSourceError(source, f"no such file or folder: {root}")


class FileTree:
    """Streams as the files below ``root``: one file, or a folder of files with ``suffixes``."""

    name: ClassVar[str]
    suffixes: ClassVar[tuple[str, ...]] = ()
    skip_prefixes: ClassVar[tuple[str, ...]] = ()  # lock and temporary files, e.g. Excel's "~$"

    root: Path

    def check(self) -> None:
        require_path(self.name, self.root)

    def _files(self) -> list[Path]:
        if self.root.is_file():
            return [self.root]
        return sorted(
            p
            for p in self.root.rglob("*")
            if p.is_file() and p.suffix.lower() in self.suffixes and not p.name.startswith(self.skip_prefixes)
        )

    def _stream_name(self, f: Path) -> str:
        return f.name if self.root.is_file() else str(f.relative_to(self.root))

    def _stream_path(self, stream: str) -> Path:
        self.check()
        if self.root.is_file():
            if stream in ("", self.root.name, "default"):
                return self.root
        elif (p := self.root / stream).is_file():
            return p
        names = [self._stream_name(f) for f in self._files()]
        raise TerminalSourceError(
            self.name, f"no stream '{stream}' under {self.root} (found: {', '.join(names) or 'none'})"
        )
