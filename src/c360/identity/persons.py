"""People's identifying values: names by parts, personal e-mail forms, dates of birth.

A person's name is compared part by part: the given name (first word of it) and the family
name (all of it, hyphens and particles included), each folded to ASCII, so that ``Müller``,
``Mueller`` and ``Muller`` are one family name and ``Şahin`` is ``Sahin``. Scripts that are not
Latin are transliterated (anyascii). ``Jr``/``Sr`` and ``II``/``III`` are kept apart as the
person's *generation*: a father and a son of one name are two people.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
from dataclasses import dataclass

from anyascii import anyascii

from c360.identity.folding import fold, is_placeholder, words

_TITLES = frozenset(
    {
        "mr",
        "mrs",
        "ms",
        "miss",
        "mx",
        "dr",
        "prof",
        "sir",
        "dame",
        "lord",
        "lady",
        "rev",
        "fr",
        "herr",
        "frau",
        "m",
        "mme",
        "mlle",
        "sr",
        "sra",
        "srta",
        "pan",
        "pani",
    }
)
_GENERATIONS = {
    "jr": "jr",
    "junior": "jr",
    "jnr": "jr",
    "sr": "sr",
    "senior": "sr",
    "snr": "sr",
    "ii": "ii",
    "iii": "iii",
    "iv": "iv",
}
_POSTNOMINALS = frozenset({"phd", "md", "esq", "mba", "obe", "mbe", "cbe", "kbe", "dds", "rn"})
# German-style spellings of umlauts: "mueller" and "müller" (folded "muller") meet at "muller".
_UMLAUT_SPELLING = re.compile(r"(?<=[a-z])(ae|oe|ue)")


def ascii_fold(text: str) -> str:
    """Accents stripped and other scripts transliterated: ``"Şahin"`` → ``"sahin"``, ``"Олег"`` → ``"oleg"``."""
    folded = fold(text)
    return folded if folded.isascii() else fold(anyascii(folded))


def name_key(token: str) -> str:
    """One name word in the form spellings agree on: ``mueller``/``müller``/``muller`` → ``muller``."""
    return _UMLAUT_SPELLING.sub(lambda m: m.group(1)[0], ascii_fold(token))


@dataclass(frozen=True, slots=True)
class PersonName:
    """A person's name by parts, folded: ``given`` is the first given name, ``family`` the rest."""

    given: str | None
    family: str | None
    middle: str | None = None
    generation: str | None = None  # jr, sr, ii, iii, iv

    @property
    def initial_only(self) -> bool:
        return self.given is not None and len(self.given) == 1

    @property
    def full(self) -> str:
        return " ".join(p for p in (self.given, self.family) if p)


def _tokens(raw: str) -> tuple[list[str], str | None]:
    tokens = words(ascii_fold(raw))
    generation = None
    while tokens and tokens[-1] in _GENERATIONS | dict.fromkeys(_POSTNOMINALS, ""):
        generation = _GENERATIONS.get(tokens[-1]) or generation
        tokens = tokens[:-1]
    while len(tokens) > 1 and tokens[0] in _TITLES:
        tokens = tokens[1:]
    return tokens, generation


def person_parts(full: str | None = None, given: str | None = None, family: str | None = None) -> PersonName | None:
    """A person's name from a full name (``"SMITH, John"``, ``"Dr John Smith Jr"``) or from its parts.

    >>> person_parts("SMITH, John")
    PersonName(given='john', family='smith', middle=None, generation=None)
    >>> person_parts(given="José María", family="García-López")
    PersonName(given='jose', family='garcia lopez', middle='maria', generation=None)
    """
    given, family, full = (
        None if v is None or is_placeholder(" ".join(words(v))) else v for v in (given, family, full)
    )
    if given or family:
        g, f, generation = _from_parts(given, family)
    elif full and "@" not in full:
        g, f, generation = _from_full(full)
    else:
        return None
    g = [t for t in g if not is_placeholder(t)]
    f = [t for t in f if not is_placeholder(t)]
    if not g and not f:
        return None
    return PersonName(
        given=sys.intern(g[0]) if g else None,
        family=sys.intern(" ".join(f)) if f else None,
        middle=" ".join(g[1:]) or None,
        generation=generation,
    )


def _from_parts(given: str | None, family: str | None) -> tuple[list[str], list[str], str | None]:
    """(given name words, family name words, generation) of a name given by parts."""
    g, gen_g = _tokens(given or "")
    f, gen_f = _tokens(family or "")
    return g, f, gen_f or gen_g


def _from_full(full: str) -> tuple[list[str], list[str], str | None]:
    """(given name words, family name words, generation) of a full name (``"SMITH, John"``)."""
    text = full
    if text.count(",") == 1:
        last, _, first = text.partition(",")
        if words(first) and not set(words(first)) <= set(_GENERATIONS) | _POSTNOMINALS:
            text = f"{first} {last}"
    tokens, generation = _tokens(text)
    g, f = (tokens[:-1], tokens[-1:]) if len(tokens) > 1 else (tokens, [])
    # Particles belong to the family name: "Ludwig van Beethoven", "Ana de la Cruz".
    while len(g) > 1 and g[-1] in _PARTICLES:
        f = [g.pop(), *f]
    return g, f, generation


_PARTICLES = frozenset(
    {
        "van",
        "von",
        "der",
        "den",
        "de",
        "la",
        "le",
        "da",
        "dos",
        "das",
        "del",
        "di",
        "du",
        "ten",
        "ter",
        "zu",
        "bin",
        "ibn",
        "al",
        "el",
        "mac",
        "st",
    }
)

# Providers that ignore dots in the local part, and domains that are another's alias.
_DOTLESS = frozenset({"gmail.com"})
_ALIASES = {"googlemail.com": "gmail.com"}
# Relay services hand out one address per person and per service: it never recurs elsewhere.
RELAY_DOMAINS = frozenset(
    {
        "privaterelay.appleid.com",
        "relay.firefox.com",
        "mozmail.com",
        "duck.com",
        "simplelogin.com",
        "anonaddy.me",
        "passmail.net",
    }
)


def personal_email(address: str | None) -> str | None:
    """The form in which one mailbox's addresses agree: ``J.Doe+shop@googlemail.com`` → ``jdoe@gmail.com``.

    ``+tags`` are dropped everywhere (sub-addresses of one mailbox), dots only where the
    provider ignores them. ``address`` is an already normalised e-mail address.
    """
    if not address or "@" not in address:
        return None
    local, domain = address.rsplit("@", 1)
    domain = _ALIASES.get(domain, domain)
    local = local.split("+", 1)[0]
    if domain in _DOTLESS:
        local = local.replace(".", "")
    return f"{local}@{domain}" if local else None


def is_relay(address: str) -> bool:
    return address.rsplit("@", 1)[-1] in RELAY_DOMAINS


# Oldest plausible age: a date of birth before this many years ago is a placeholder (1900-01-01).
OLDEST = 120
_PLACEHOLDER_DATES = frozenset({dt.date(1900, 1, 1), dt.date(1901, 1, 1), dt.date(1970, 1, 1)})


def date_of_birth(raw: object, today: dt.date | None = None) -> tuple[str | None, str | None]:
    """(an ISO date of birth, or None; why a value was refused, or None).

    Dates in the future, older than :data:`OLDEST` years, or the usual placeholders
    (1900-01-01, 1970-01-01) are refused as the missing evidence they are.
    """
    if raw is None or raw == "":
        return None, None
    if isinstance(raw, dt.datetime):
        day = raw.date()
    elif isinstance(raw, dt.date):
        day = raw
    elif isinstance(raw, str):
        try:
            day = dt.date.fromisoformat(raw.strip()[:10])
        except ValueError:
            return None, "unreadable"
    else:
        return None, "unreadable"
    today = today or dt.date.today()
    if day > today:
        return None, "in the future"
    if day.year < today.year - OLDEST or day in _PLACEHOLDER_DATES:
        return None, "a placeholder"
    return day.isoformat(), None
