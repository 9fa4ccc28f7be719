"""Small text helpers shared by error messages: closest-word suggestions."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(word: str, choices: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The valid word closest to ``word``, if any is close enough.

    >>> closest("mmr", ["mrr", "ltv", "csat"])
    'mrr'
    """
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=cutoff)
    return matches[0] if matches else None
