"""Identifier transforms: how a declared key is put in one form before records compare it.

A rule such as ``salesforce_id(billing.crm_account_id) = crm.Id`` or an identifier declared
with ``transform: lower`` compares transformed values. A transform returns None when a value
cannot be put in that form (a 17-character "Salesforce id"): the value is then left out of
matching and counted, never compared raw.

Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import lru_cache

from c360.identity.domains import email, registrable_domain
from c360.identity.phones import phone

Transform = Callable[[str, str | None], str | None]  # (value, the record's country) -> value | None

_SF_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_SF_15 = re.compile(r"[a-zA-Z0-9]{15}")
_SF_18 = re.compile(r"[a-zA-Z0-9]{18}")


def salesforce_suffix(id15: str) -> str:
    """The three checksum characters Salesforce appends to a 15-character id to make it 18.

    Each chunk of five characters gives one character: bit i is set when character i is an
    upper-case letter, and the 5-bit number indexes ``A..Z0..5``.
    """
    out = []
    for chunk in (id15[0:5], id15[5:10], id15[10:15]):
        bits = sum(1 << i for i, c in enumerate(chunk) if "A" <= c <= "Z")
        out.append(_SF_ALPHABET[bits])
    return "".join(out)


def salesforce_id(value: str, country: str | None = None) -> str | None:
    """A Salesforce record id in its 18-character, case-safe form, or None.

    >>> salesforce_id("0015g0000WvoNiq"), salesforce_id("0015g0000WvoNiqAQE")
    ('0015g0000WvoNiqAQE', '0015g0000WvoNiqAQE')
    >>> salesforce_id("0015g0000WvoNiqAQ") is None  # 17 characters
    True
    """
    text = value.strip()
    if _SF_15.fullmatch(text):
        return text + salesforce_suffix(text)
    if _SF_18.fullmatch(text):
        # The suffix is case-insensitive; a wrong one means the value is not a Salesforce id.
        return text[:15] + text[15:].upper() if text[15:].upper() == salesforce_suffix(text[:15]) else None
    return None


def is_salesforce_18(value: str) -> bool:
    return bool(_SF_18.fullmatch(value)) and value[15:].upper() == salesforce_suffix(value[:15])


def _trim(value: str, country: str | None = None) -> str | None:
    return value.strip() or None


def _lower(value: str, country: str | None = None) -> str | None:
    return value.strip().lower() or None


def _digits(value: str, country: str | None = None) -> str | None:
    return "".join(c for c in value if c.isdigit()) or None


def _e164(value: str, country: str | None = None) -> str | None:
    return phone(value, country)


def _domain(value: str, country: str | None = None) -> str | None:
    return registrable_domain(value)


def _email(value: str, country: str | None = None) -> str | None:
    return email(value)


TRANSFORMS: dict[str, Transform] = {
    "trim": _trim,
    "lower": _lower,
    "digits": _digits,
    "salesforce_id": salesforce_id,
    "e164": _e164,
    "domain": _domain,
    "email": _email,
}
TRANSFORM_NAMES = (*TRANSFORMS, "regex")


@lru_cache(maxsize=256)
def _pattern(text: str) -> re.Pattern[str]:
    return re.compile(text)


def regex_extract(pattern: str) -> Transform:
    """The first group of ``pattern`` (or the whole match) found in the value, else None."""
    compiled = _pattern(pattern)

    def extract(value: str, country: str | None = None) -> str | None:
        m = compiled.search(value)
        if m is None:
            return None
        return (m.group(1) if compiled.groups else m.group(0)) or None

    return extract


def compose(names: Iterable[str], pattern: str | None = None) -> Transform:
    """Apply transforms left to right; ``regex`` takes ``pattern``. Raises KeyError for an unknown name."""
    steps = [regex_extract(pattern or "") if n == "regex" else TRANSFORMS[n] for n in names]

    def run(value: str, country: str | None = None) -> str | None:
        out: str | None = value
        for step in steps:
            if out is None:
                return None
            out = step(out, country)
        return out

    return run
