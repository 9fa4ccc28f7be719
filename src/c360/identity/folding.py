"""Text folding shared by the identity normalisers: unicode, case, punctuation, placeholders."""

from __future__ import annotations

import re
import unicodedata

# Letters NFKD leaves whole (no decomposition), folded by hand so "Søren" matches "Soren".
_NON_DECOMPOSING = str.maketrans(
    {
        "ø": "o",
        "đ": "d",
        "ð": "d",
        "ł": "l",
        "ŀ": "l",
        "ħ": "h",
        "ı": "i",
        "ŧ": "t",
        "þ": "th",
        "æ": "ae",
        "œ": "oe",
        "ß": "ss",
        "ĸ": "k",
        "ŉ": "n",
    }
)

# Dropped inside a word rather than splitting it: "O'Brien" -> "obrien", "S.A." -> "sa".
_JOINERS = str.maketrans("", "", "'`´’‘.")
_SEPARATORS = re.compile(r"[\W_]+")

# Values systems put in a field when they have nothing to put there, after folding.
PLACEHOLDERS = frozenset(
    {
        "",
        "na",
        "n a",
        "nan",
        "none",
        "null",
        "nil",
        "unknown",
        "unkown",
        "not known",
        "not available",
        "not applicable",
        "test",
        "tbc",
        "tbd",
        "xxx",
        "x",
        "undefined",
        "blank",
        "empty",
        "missing",
        "no name",
        "noname",
        "default",
    }
)


def _fold_once(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text).casefold()
    decomposed = unicodedata.normalize("NFKD", decomposed)
    kept = "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
    return kept.translate(_NON_DECOMPOSING)


def fold(text: str) -> str:
    """Case-fold and strip accents: ``"Nestlé Straße"`` -> ``"nestle strasse"``.

    The result is a fixed point (folding it again changes nothing), which is what makes every
    normaliser built on it idempotent.
    """
    if text.isascii():
        return text.lower()
    # A handful of code points only settle after a second round (casefold can produce
    # characters that NFKD decomposes again); loop until stable, bounded for safety.
    for _ in range(4):
        folded = _fold_once(text)
        if folded == text:
            break
        text = folded
    return text


def words(text: str) -> list[str]:
    """Folded alphanumeric words: punctuation splits words, apostrophes and dots join them.

    >>> words("O'Brien & Sons, S.A.")
    ['obrien', 'and', 'sons', 'sa']
    """
    folded = fold(text).replace("&", " and ").translate(_JOINERS)
    return [w for w in _SEPARATORS.split(folded) if w]


def is_placeholder(folded: str) -> bool:
    """True for folded values such as ``"n a"``, ``"unknown"`` or ``""``."""
    return folded in PLACEHOLDERS


def as_text(raw: object) -> str | None:
    """A raw attribute value as text, or None when there is no usable value.

    Integers (phones and postcodes read as numbers) become their digits; integral floats lose
    the ``.0``; NaN, booleans and containers give None.
    """
    if raw is None or isinstance(raw, bool):
        return None
    if isinstance(raw, str):
        return raw
    if isinstance(raw, int):
        return str(raw)
    if isinstance(raw, float):
        if raw != raw or raw in (float("inf"), float("-inf")):
            return None
        return str(int(raw)) if raw.is_integer() else repr(raw)
    return None
