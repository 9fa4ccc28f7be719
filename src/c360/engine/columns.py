"""Normalisation declared in the spec: each source column read, typed and unit-converted once.

Types: ``string``, ``integer``, ``decimal``, ``boolean``, ``timestamp`` (ISO strings with
offsets, Salesforce's ``+0000``, Unix seconds or milliseconds → UTC), ``date``, ``money``
(minor units divided by the currency's ISO 4217 exponent, then converted into the
product's currency unit), ``json``. Vocabularies map values (``Tier 3`` → ``enterprise``);
a value with no mapping becomes null and is reported, never passed through.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from babel.numbers import get_currency_precision

from c360.core import jsonutil
from c360.core.records import PathError, get_path
from c360.spec.models import ColumnSpec, ProductSpec, SourceSpec

_TRUE = {"true", "t", "yes", "y", "1", "on"}
_FALSE = {"false", "f", "no", "n", "0", "off"}


class ValueProblem(ValueError):
    """A value that cannot be read as its declared type.

    Raised for a whole record, ``problems`` holds every bad column as ``(column, problem)``.
    """

    def __init__(self, message: str, problems: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(message)
        self.problems = problems


@dataclass
class Unmapped:
    """Vocabulary values that had no mapping, counted per (source, column, value)."""

    counts: dict[tuple[str, str, str], int] = field(default_factory=dict)

    def add(self, source: str, column: str, value: str) -> None:
        k = (source, column, value)
        self.counts[k] = self.counts.get(k, 0) + 1


@lru_cache(maxsize=512)
def currency_exponent(code: str) -> int:
    """ISO 4217 minor-unit exponent: GBP 2, JPY 0, KWD 3."""
    return int(get_currency_precision(code.upper()))


def parse_timestamp(value: Any) -> dt.datetime:
    """Any common timestamp form → an aware UTC datetime.

    >>> parse_timestamp(1717059240).isoformat()
    '2024-05-30T08:54:00+00:00'
    >>> parse_timestamp("2026-05-30T10:14:00+01:00").isoformat()
    '2026-05-30T09:14:00+00:00'
    """
    if isinstance(value, dt.datetime):
        ts = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        try:
            ts = _from_epoch(float(value))
        except (ValueProblem, OverflowError):  # OverflowError: an int too large for a float
            raise ValueProblem(
                f"expected Unix seconds or milliseconds of a timestamp between the years 1 and 9999, found {value!r}"
            ) from None
    elif isinstance(value, str):
        text = value.strip()
        try:
            number = float(text)
        except ValueError:
            number = None
        if number is not None:
            try:
                ts = _from_epoch(number)
            except ValueProblem:
                raise ValueProblem(
                    f"expected Unix seconds or milliseconds of a timestamp between the years 1 "
                    f"and 9999, found {value!r}"
                ) from None
        else:
            try:
                ts = dt.datetime.fromisoformat(text.replace(" UTC", "+00:00"))
            except ValueError:
                raise ValueProblem(f"expected an ISO-8601 timestamp or Unix seconds, found {value!r}") from None
    elif isinstance(value, dt.date):
        ts = dt.datetime(value.year, value.month, value.day)
    else:
        raise ValueProblem(f"expected a timestamp, found {type(value).__name__} {value!r}")
    if ts.tzinfo is None:
        # A timestamp without an offset is taken as UTC; sources that mean local time must say so.
        ts = ts.replace(tzinfo=dt.UTC)
    try:
        return ts.astimezone(dt.UTC)
    except OverflowError:
        raise ValueProblem(f"expected a timestamp between the years 1 and 9999 in UTC, found {value!r}") from None


def _formatted(text: str, fmt: str) -> dt.datetime:
    try:
        return dt.datetime.strptime(text.strip(), fmt)
    except ValueError:
        example = dt.datetime(2025, 11, 8, 14, 30).strftime(fmt)
        raise ValueProblem(f"expected a date written as {fmt} (such as {example}), found {text!r}") from None


def _from_epoch(x: float) -> dt.datetime:
    if x > 1e11:  # milliseconds
        x /= 1000.0
    try:
        return dt.datetime.fromtimestamp(x, tz=dt.UTC)
    except (OverflowError, ValueError, OSError):  # inf, nan, or past the year 9999
        raise ValueProblem(f"{x!r} is no timestamp between the years 1 and 9999") from None


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise ValueProblem(f"expected a number, found {value!r}")
    try:
        d = Decimal(str(value).strip().replace(",", "")) if isinstance(value, str) else Decimal(str(value))
    except InvalidOperation:
        raise ValueProblem(f"expected a number, found {value!r}") from None
    if not d.is_finite():
        raise ValueProblem(f"expected a finite number, found {value!r}")
    return d


INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def _float(d: Decimal, raw: Any) -> float:
    """The number as a 64-bit float, refused when it is beyond that range (``1e400``)."""
    x = float(d)
    if math.isinf(x):
        raise ValueProblem(f"expected a number within the range of a 64-bit float (±1.8e308), found {raw!r}")
    return x


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueProblem(f"expected true or false, found {value!r}")


_SPACES = re.compile(r"\s+")
# A word's first letter: after the start, white space, a hyphen, a slash, a bracket or a quote.
_WORD_START = re.compile(r"(^|[\s\-/(\"“])(\w)")
# O'Neil, D'Arcy: a one-letter prefix and an apostrophe capitalise what follows (not "Joe's").
_ELISION = re.compile(r"(?<![\w'’])(\w['’])(\w)(?=\w)")


def clean(value: str, *, trim: bool = False, collapse_spaces: bool = False, case: str | None = None) -> str:
    """A string column's value after its declared hygiene: spaces collapsed, trimmed, cased.

    ``collapse_spaces`` makes every run of white space (tabs, newlines, non-breaking spaces)
    one space; ``trim`` strips it at both ends; ``title`` capitalises each word and lower-cases
    the rest of it.

    >>> clean("  ACME   widgets\tltd ", trim=True, collapse_spaces=True, case="title")
    'Acme Widgets Ltd'
    >>> clean("o'neil-SMITH, joe's bar", case="title")
    "O'Neil-Smith, Joe's Bar"
    """
    if collapse_spaces:
        value = _SPACES.sub(" ", value)
    if trim:
        value = value.strip()
    if case == "lower":
        value = value.lower()
    elif case == "upper":
        value = value.upper()
    elif case == "title":
        value = _WORD_START.sub(lambda m: m.group(1) + m.group(2).upper(), value.lower())
        value = _ELISION.sub(lambda m: m.group(1) + m.group(2).upper(), value)
    return value


class ColumnReader:
    """Reads and normalises one source's declared columns from raw payloads."""

    def __init__(self, name: str, source: SourceSpec, product: ProductSpec) -> None:
        self.name = name
        self.source = source
        self.product = product
        self.columns = list(source.columns.items())
        # Columns whose bad values are nulled (and reported) rather than costing the record: the
        # column's own on_error (or on_invalid) wins over the source's on_invalid.
        self.nullable = frozenset(c for c, col in self.columns if (col.invalid_policy or source.on_invalid) == "null")
        self.vocab: dict[str, dict[str, str]] = {}
        for cname, col in self.columns:
            if isinstance(col.map, str):
                self.vocab[cname] = product.vocabularies[col.map]
            elif isinstance(col.map, dict):
                self.vocab[cname] = col.map

    def read(
        self, payload: Mapping[str, Any], unmapped: Unmapped | None = None, nulled: list[tuple[str, str]] | None = None
    ) -> dict[str, Any]:
        """Normalised values by column; raises :class:`ValueProblem` naming every bad column.

        Every column is read, so the problem lists them all (``column 'Seats': expected ...,
        found '1e20'; column 'Created': ...``), not just the first. A bad value of a column
        whose policy is ``null`` (``on_error``/``on_invalid``) becomes null instead, and
        ``(column, problem)`` is added to ``nulled``.
        """
        out: dict[str, Any] = {}
        bad: list[tuple[str, str]] = []
        for cname, col in self.columns:
            path = col.from_ or cname
            try:
                raw = get_path(payload, path)
                if "[]" in path:
                    out[cname] = (
                        None
                        if raw is None
                        else [
                            v
                            for v in (self._value(cname, col, item, payload, unmapped) for item in raw)
                            if v is not None
                        ]
                    )
                else:
                    out[cname] = self._value(cname, col, raw, payload, unmapped)
            except (ValueProblem, PathError) as exc:
                out[cname] = None
                if cname in self.nullable:
                    if nulled is not None:
                        nulled.append((cname, str(exc)))
                    continue
                bad.append((cname, str(exc)))
        if bad:
            raise ValueProblem("; ".join(f"column '{c}': {p}" for c, p in bad), tuple(bad))
        return out

    def _value(
        self, cname: str, col: ColumnSpec, raw: Any, payload: Mapping[str, Any], unmapped: Unmapped | None
    ) -> Any:
        if raw is None or (isinstance(raw, str) and raw.strip() == "" and col.type != "string"):
            return None
        t = col.type
        if t == "string":
            if isinstance(raw, str):
                value = raw
            elif isinstance(raw, dict | list):
                value = jsonutil.dumps(raw).decode()
            else:
                value = str(raw)
            if col.hygiene:
                value = clean(value, trim=col.trim, collapse_spaces=col.collapse_spaces, case=col.case)
            if cname in self.vocab:
                mapped = self.vocab[cname].get(value)
                if mapped is None:
                    if unmapped is not None:
                        unmapped.add(self.name, cname, value)
                    return None
                return mapped
            return value
        if t == "integer":
            d = _decimal(raw)
            if d.adjusted() > 18 or not INT64_MIN <= (i := int(d)) <= INT64_MAX:
                raise ValueProblem(f"expected a whole number within the 64-bit integer range (±9.2e18), found {raw!r}")
            if d != i:
                raise ValueProblem(f"expected a whole number, found {raw!r}")
            return i
        if t == "decimal":
            return _float(_decimal(raw), raw)
        if t == "boolean":
            return _boolean(raw)
        if col.format is not None and isinstance(raw, str):
            raw = _formatted(raw, col.format)
        if t == "timestamp":
            return parse_timestamp(raw)
        if t == "date":
            return parse_timestamp(raw).date()
        if t == "json":
            return jsonutil.dumps(raw).decode()
        if t == "money":
            return _float(self._money(col, raw, payload), raw)
        raise ValueProblem(f"unknown column type {t}")  # pragma: no cover - the model forbids it

    def _money(self, col: ColumnSpec, raw: Any, payload: Mapping[str, Any]) -> Decimal:
        amount = _decimal(raw)
        code = col.currency or get_path(payload, col.currency_column or "")
        if not code:
            raise ValueProblem(f"no currency for amount {raw!r} (looked in '{col.currency_column}')")
        code = str(code).upper()
        if col.minor_units:
            amount = amount.scaleb(-currency_exponent(code))
        unit = self.product.currency.unit
        if code != unit:
            rate = self.product.currency.rates.get(code)
            if rate is None:
                raise ValueProblem(f"no rate from {code} to {unit} in currency.rates")
            amount = amount * rate
        return amount
