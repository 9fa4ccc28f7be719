"""Given names and their short forms: Bob is Robert, Kasia is Katarzyna, Paco is Francisco.

Two given names are *variants* of one another when one is a short form of the other, or both
are short forms of one name (Bob and Rob, both Robert). The English table is the ``nicknames``
package's; ``data/diminutives.csv`` adds the short forms of other languages. Every name is
folded first, so ``José`` and ``Jose`` are one name.
"""

from __future__ import annotations

import functools
from importlib import resources

from c360.identity.folding import fold


@functools.cache
def _table() -> tuple[dict[str, frozenset[str]], dict[str, frozenset[str]]]:
    """(name → its short forms, short form → the names it stands for), folded."""
    from nicknames import NickNamer

    forms: dict[str, set[str]] = {}
    for name, shorts in NickNamer().nickname_lookup.items():
        forms.setdefault(fold(name), set()).update(fold(s) for s in shorts)
    text = resources.files("c360.identity").joinpath("data/diminutives.csv").read_text(encoding="utf-8")
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, *rest = (fold(part.strip()) for part in line.split(","))
        forms.setdefault(name, set()).update(s for s in rest if s and s != name)
    longs: dict[str, set[str]] = {}
    for name, shorts in forms.items():
        for short in shorts:
            longs.setdefault(short, set()).add(name)
    return ({k: frozenset(v) for k, v in forms.items()}, {k: frozenset(v) for k, v in longs.items()})


def canonical_forms(given: str) -> frozenset[str]:
    """The name itself and every full name it may be short for (``bob`` → robert, ...).

    >>> sorted(canonical_forms("kasia"))
    ['kasia', 'katarzyna']
    """
    name = fold(given)
    _, longs = _table()
    return frozenset({name, *longs.get(name, ())})


def are_variants(a: str, b: str) -> bool:
    """One given name is a short form of the other, or both of one name.

    >>> are_variants("Bob", "Robert"), are_variants("bob", "rob"), are_variants("anna", "maria")
    (True, True, False)
    >>> are_variants("Katie", "Katherine"), are_variants("John", "Joan")
    (True, False)
    """
    x, y = fold(a), fold(b)
    if x == y:
        return True
    forms, _ = _table()
    if y in forms.get(x, ()) or x in forms.get(y, ()):
        return True
    cx, cy = canonical_forms(x), canonical_forms(y)
    if cx & cy:
        return True
    # One hop further: a name Katie stands for (Katy) is a short form of Katherine.
    return any(n in forms.get(y, ()) for n in cx) or any(n in forms.get(x, ()) for n in cy)
