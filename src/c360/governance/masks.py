"""Every mask kind in one registry: how it masks a value, how much it reveals, how it is typed.

A mask kind (:data:`c360.spec.models.MaskKind`) is described once, here: the function that
masks a value, its rank from least to most revealing (the union of a consumer's applicable
rules serves the most revealing one), the JSON type and JSON Schema of a masked value, and
the words the documentation site and the ODCS export use for it. Serving
(:mod:`c360.governance.access`), the compiled policy (:mod:`c360.governance.policy`), the
contract exports (:mod:`c360.governance.contracts`) and the docs all read it from here.

A kind the spec model allows but the registry lacks fails at import; a kind the registry does
not know raises :class:`UnknownMask` wherever it is looked up: never a silent pass.

**Incompatible masks.** Two masks are *incompatible* when their masked values have different
JSON types (``year`` gives an integer, ``email``, ``hash`` and ``last4`` give strings): one
consumer served a field under both would get it as an integer on some rows and a string on
others, so its contract could give the field no single type. ``redact`` serves null, which
every masked type allows, so it is compatible with every mask. Validate reports incompatible
masks of one field for one consumer (:func:`compatible`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, get_args

from c360.spec.models import MaskKind

__all__ = [
    "MASKED_TYPES",
    "MASKS",
    "MASK_JSON_TYPE",
    "MASK_REVEAL",
    "Mask",
    "UnknownMask",
    "apply_mask",
    "compatible",
    "mask_of",
]


class UnknownMask(ValueError):
    """A mask kind the registry has no entry for."""


@dataclass(frozen=True)
class Mask:
    """One mask kind: everything c360 says about it, in one place."""

    name: MaskKind
    apply: Callable[[Any, bytes], Any]  # a value that is not null → what the consumer sees
    reveal: int  # rank: 0 reveals least; the union of applicable rules takes the highest
    json_type: str  # the JSON type of a masked value that is not null ("null": always null)
    json_schema: Mapping[str, Any]  # the JSON Schema of a masked value (nulls included)
    description: str  # for people: what the consumer sees of the value
    odcs_description: str  # for the ODCS export's property
    odcs_logical_type: str | None  # ODCS logicalType of a masked value; None: the field's own type

    def __call__(self, value: Any, key: bytes) -> Any:
        """``value`` masked; null stays null."""
        return None if value is None else self.apply(value, key)


def _email(value: Any, key: bytes) -> Any:
    local, at, domain = str(value).rpartition("@")
    if not at or not local:
        return "***"
    return f"{local[0]}***@{domain}"


def _hash(value: Any, key: bytes) -> Any:
    # Keyed (HMAC-SHA256): equal values still join, but nobody without the key can confirm a
    # guess by hashing it.
    text = value if isinstance(value, str) else repr(value)
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()[:32]


_YEAR = re.compile(r"^(\d{4})-\d{2}-\d{2}")


def _year(value: Any, key: bytes) -> Any:
    m = _YEAR.match(str(value))
    return int(m.group(1)) if m else None


def _last4(value: Any, key: bytes) -> Any:
    return str(value)[-4:]


def _redact(value: Any, key: bytes) -> Any:
    return None


def _nullable(json_type: str) -> dict[str, Any]:
    return {"type": "null"} if json_type == "null" else {"type": [json_type, "null"]}


def _entries() -> dict[MaskKind, Mask]:
    rows: list[tuple[MaskKind, Callable[[Any, bytes], Any], str, str, str | None]] = [
        # name, apply, JSON type, description, ODCS logical type; in order of what they reveal
        ("redact", _redact, "null", "the field is present, its value always null", None),
        ("hash", _hash, "string", "a keyed hash of the value: equal values match, the value is not shown", "string"),
        ("year", _year, "integer", "only the year of a date or timestamp", "integer"),
        ("last4", _last4, "string", "only the last four characters", "string"),
        ("email", _email, "string", "the first letter and the domain of an e-mail address (j***@acme.com)", "string"),
    ]
    return {
        name: Mask(
            name=name,
            apply=fn,
            reveal=rank,
            json_type=json_type,
            json_schema=MappingProxyType(_nullable(json_type)),
            description=description,
            odcs_description=f"Masked ({name}): {description}",
            odcs_logical_type=logical,
        )
        for rank, (name, fn, json_type, description, logical) in enumerate(rows)
    }


MASKS: Mapping[MaskKind, Mask] = MappingProxyType(_entries())


def _complete() -> None:
    """Every kind the spec allows has an entry, and the registry holds no other: else import fails."""
    allowed = set(get_args(MaskKind))
    missing, extra = allowed - set(MASKS), set(MASKS) - allowed
    if missing or extra:
        raise ImportError(
            f"the mask registry does not match MaskKind: missing {sorted(missing)}, unknown {sorted(extra)}"
        )
    if sorted(m.reveal for m in MASKS.values()) != list(range(len(MASKS))):
        raise ImportError("mask reveal ranks must be distinct, from 0 up")


_complete()


def mask_of(kind: str) -> Mask:
    """The registry entry of ``kind``; :class:`UnknownMask` when there is none."""
    try:
        return MASKS[kind]  # type: ignore[index]
    except KeyError:
        raise UnknownMask(f"unknown mask {kind!r} (known: {', '.join(MASKS)})") from None


def apply_mask(kind: str, value: Any, key: bytes) -> Any:
    """One value as a consumer with mask ``kind`` sees it; null stays null."""
    return mask_of(kind)(value, key)


def compatible(a: str, b: str) -> bool:
    """Whether one field may be served under both masks and keep a single JSON type (see above)."""
    ta, tb = mask_of(a).json_type, mask_of(b).json_type
    return ta == tb or "null" in (ta, tb)


# Derived views, for the places that want a plain table.
MASK_REVEAL: tuple[MaskKind, ...] = tuple(sorted(MASKS, key=lambda k: MASKS[k].reveal))
MASK_JSON_TYPE: Mapping[MaskKind, str] = MappingProxyType({k: m.json_type for k, m in MASKS.items()})
MASKED_TYPES: Mapping[MaskKind, Mapping[str, Any]] = MappingProxyType({k: m.json_schema for k, m in MASKS.items()})
