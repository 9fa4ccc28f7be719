"""JSON in and out (orjson), with the types staged records carry."""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
from typing import Any

import orjson

_OPTS = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS


def _default(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        # Exact decimals as strings would change the JSON type; floats are what consumers expect.
        return float(value)
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def dumps(value: Any) -> bytes:
    """Canonical JSON bytes: sorted keys, so equal content hashes equally."""
    return orjson.dumps(value, default=_default, option=_OPTS)


def loads(data: bytes | str) -> Any:
    return orjson.loads(data)


def content_hash(value: Any) -> str:
    """SHA-256 of the canonical JSON of ``value``."""
    return hashlib.sha256(dumps(value)).hexdigest()
