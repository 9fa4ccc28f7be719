"""Places: ISO country codes, postcodes and street-address lines."""

from __future__ import annotations

import re
from functools import lru_cache

import pycountry
from rapidfuzz import fuzz, process

from c360.identity.folding import is_placeholder, words

# Names people write for a country that pycountry does not carry (folded, as `words` gives).
_COUNTRY_ALIASES = {
    "GB": (
        "uk", "u k", "united kingdom", "great britain", "britain", "england", "scotland",
        "wales", "northern ireland", "united kingdom of great britain and northern ireland",
    ),
    "US": ("usa", "u s", "u s a", "united states", "united states of america", "america"),
    "DE": ("deutschland", "federal republic of germany", "bundesrepublik deutschland"),
    "NL": ("holland", "the netherlands", "nederland"),
    "KR": ("south korea", "korea", "republic of korea", "korea south"),
    "KP": ("north korea", "korea north"),
    "RU": ("russia",),
    "IR": ("iran",),
    "VN": ("vietnam",),
    "CZ": ("czech republic", "czechia"),
    "CI": ("ivory coast", "cote divoire", "cote d ivoire"),
    "MK": ("macedonia",),
    "SZ": ("swaziland",),
    "MM": ("burma",),
    "TW": ("taiwan",),
    "BO": ("bolivia",),
    "VE": ("venezuela",),
    "TZ": ("tanzania",),
    "SY": ("syria",),
    "LA": ("laos",),
    "MD": ("moldova",),
    "VA": ("vatican", "vatican city", "holy see"),
    "AE": ("uae", "u a e", "emirates"),
    "ES": ("espana",),
    "IT": ("italia",),
    "CH": ("schweiz", "suisse", "svizzera"),
    "AT": ("osterreich", "oesterreich"),
    "BE": ("belgie", "belgique", "belgien"),
    "SE": ("sverige",),
    "NO": ("norge",),
    "DK": ("danmark",),
    "FI": ("suomi",),
    "PL": ("polska",),
    "BR": ("brasil",),
    "FR": ("republique francaise",),
    "TR": ("turkey", "turkiye"),
    "IE": ("eire", "republic of ireland"),
    "NZ": ("nz", "aotearoa"),
    "CV": ("cape verde",),
    "TL": ("east timor",),
    "BN": ("brunei",),
    "PS": ("palestine",),
    "JP": ("nippon", "nihon"),
    "CN": ("prc", "peoples republic of china"),
}  # fmt: skip

# Sports and vehicle codes people type for a country, and its name in the neighbours' languages.
_MORE_COUNTRY_ALIASES = {
    "DE": ("ger", "germany", "allemagne", "duitsland", "alemania", "germania", "niemcy"),
    "NL": ("ned", "hol", "pays bas", "niederlande", "paises bajos", "paesi bassi", "olanda"),
    "GB": ("gbr", "eng", "royaume uni", "vereinigtes konigreich", "grossbritannien", "verenigd koninkrijk",
           "groot brittannie", "engeland", "angleterre", "reino unido", "regno unito"),
    "US": ("etats unis", "vereinigte staaten", "verenigde staten", "estados unidos", "stati uniti"),
    "FR": ("fra", "frankreich", "frankrijk", "francia"),
    "CH": ("sui", "switzerland", "zwitserland"),
    "BE": ("bel", "belgium", "belgie"),
    "AT": ("aut", "austria", "autriche", "oostenrijk"),
    "DK": ("den", "danemark", "denemarken", "daenemark"),
    "ES": ("esp", "spanien", "espagne", "spanje"),
    "IT": ("ita", "italien", "italie"),
    "PT": ("por", "portugal"),
    "GR": ("gre", "griechenland", "grece"),
    "IE": ("irl", "irland", "irlande", "ierland"),
    "LU": ("lux", "luxemburg"),
    "SE": ("swe", "schweden", "suede", "zweden"),
    "PL": ("pol", "polen", "pologne"),
}  # fmt: skip

_FUZZY_CUTOFF = 90.0
_FUZZY_MIN_LENGTH = 4
_FUZZY_MAX_LENGTH = 60


def _country_table() -> dict[str, str]:
    table: dict[str, str] = {}
    for aliases_by_code in (_COUNTRY_ALIASES, _MORE_COUNTRY_ALIASES):
        for code, aliases in aliases_by_code.items():
            for alias in aliases:
                table[alias] = code
    for entry in pycountry.countries:
        for attr in ("name", "official_name", "common_name", "alpha_3"):
            value = getattr(entry, attr, None)
            if value:
                table.setdefault(" ".join(words(value)), entry.alpha_2)
    # Codes last, so no alias can shadow one and country(country(x)) == country(x).
    for entry in pycountry.countries:
        table[entry.alpha_2.lower()] = entry.alpha_2
    return table


_COUNTRIES = _country_table()
_COUNTRY_NAMES = tuple(k for k in _COUNTRIES if len(k) >= _FUZZY_MIN_LENGTH)


# A BCP 47 locale tag: language, optional script, region (``en-GB``, ``da_DK``, ``pt-Latn-BR``).
_LOCALE = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z]{4})?[-_]([A-Za-z]{2})")


@lru_cache(maxsize=8192)
def country(raw: str | None) -> str | None:
    """The ISO 3166-1 alpha-2 code for a country name or code, or None when unknown.

    Exact names, codes and common aliases first (case-insensitive); pycountry's fuzzy search
    and a typo-tolerant comparison only when nothing matched exactly.

    >>> [country(x) for x in ("United Kingdom", "uk", "England", "U.S.A.", "Deutschland", "da-DK")]
    ['GB', 'GB', 'GB', 'US', 'DE', 'DK']
    """
    if not isinstance(raw, str):
        return None
    tag = _LOCALE.fullmatch(raw.strip())
    if tag is not None:
        head = raw.strip()[:2]
        # US-CA is a subdivision (ISO 3166-2) of the country it starts with; a locale tag (en-GB,
        # da_DK, pt-Latn-BR) starts with a lower-case language and names its country last.
        subdivision = head.isupper() and raw.strip()[2] == "-" and pycountry.countries.get(alpha_2=head)
        region = head if subdivision else tag.group(1).upper()
        return region if pycountry.countries.get(alpha_2=region) is not None else None
    key = " ".join(words(raw))
    code = _COUNTRIES.get(key)
    if code is not None:
        return code
    # pycountry's fuzzy search costs ~20 ms; only country-like values (short, no digits) get it.
    if is_placeholder(key) or not _FUZZY_MIN_LENGTH <= len(key) <= _FUZZY_MAX_LENGTH:
        return None
    if any(c.isdigit() for c in key) or key.count(" ") > 4:
        return None
    try:
        found = pycountry.countries.search_fuzzy(key)
    except LookupError:
        found = []
    if found:
        return str(found[0].alpha_2)
    best = process.extractOne(key, _COUNTRY_NAMES, scorer=fuzz.ratio, score_cutoff=_FUZZY_CUTOFF)
    return _COUNTRIES[best[0]] if best else None


_country_code = country  # postcode() takes a parameter named `country`


_GB_POSTCODE = re.compile(r"(?:[A-Z]{1,2}[0-9][A-Z0-9]?|GIR)([0-9][A-Z]{2})")
_US_ZIP = re.compile(r"([0-9]{5})(?:-?[0-9]{4})?")
_CA_POSTCODE = re.compile(r"[A-Z][0-9][A-Z][0-9][A-Z][0-9]")
_NL_POSTCODE = re.compile(r"[1-9][0-9]{3}[A-Z]{2}")
_IE_EIRCODE = re.compile(r"[A-Z][0-9][0-9W][0-9A-Z]{4}")
_SE_POSTCODE = re.compile(r"[1-9][0-9]{4}")
_GENERIC_POSTCODE = re.compile(r"[A-Z0-9]+(?:[ -][A-Z0-9]+)*")
_SPACES = re.compile(r"\s+")
_DIGITS = {
    "DE": 5, "FR": 5, "ES": 5, "IT": 5, "FI": 5, "MX": 5, "MY": 5, "TH": 5, "ID": 5,
    "AU": 4, "AT": 4, "BE": 4, "CH": 4, "DK": 4, "NO": 4, "NZ": 4, "ZA": 4, "HU": 4,
    "LU": 4, "SG": 6, "IN": 6, "CN": 6, "RU": 6,
}  # fmt: skip


def _compact_postcode(compact: str, code: str | None) -> str | None:
    """Format a postcode with no spaces for a known country; None when it is not one."""
    if code in (None, "GB") and _GB_POSTCODE.fullmatch(compact):
        return f"{compact[:-3]} {compact[-3:]}"
    if code == "GB":
        return None
    if code == "US":
        zip_match = _US_ZIP.fullmatch(compact)
        if zip_match:
            return zip_match.group(1)
        # A ZIP read as a number loses its leading zero: 2134 is 02134 (Boston).
        return compact.zfill(5) if compact.isdigit() and len(compact) == 4 else None
    if code == "CA":
        return f"{compact[:3]} {compact[3:]}" if _CA_POSTCODE.fullmatch(compact) else None
    if code == "NL":
        return f"{compact[:4]} {compact[4:]}" if _NL_POSTCODE.fullmatch(compact) else None
    if code == "IE":
        return f"{compact[:3]} {compact[3:]}" if _IE_EIRCODE.fullmatch(compact) else None
    if code == "SE":
        return f"{compact[:3]} {compact[3:]}" if _SE_POSTCODE.fullmatch(compact) else None
    if code is not None and code in _DIGITS:
        return compact if compact.isdigit() and len(compact) == _DIGITS[code] else None
    return ""  # no country rule: the caller keeps its generic form


def postcode(raw: str | None, country: str | None = None) -> str | None:
    """A postcode in its national written form, or None for junk.

    Upper-cased with whitespace normalised; countries with a known format are validated and
    spaced (``sw1a1aa`` in GB -> ``SW1A 1AA``, ``1012ab`` in NL -> ``1012 AB``); a US ZIP+4
    keeps its five-digit ZIP. Without a country, a value shaped like a UK postcode or a ZIP+4
    is still recognised. ``country`` may be any form :func:`country` understands.
    """
    if not isinstance(raw, str):
        return None
    text = _SPACES.sub(" ", raw.strip().upper())
    if len(text) > 16:
        return None
    compact = text.replace(" ", "").replace("-", "")
    if len(compact) < 3 or not compact.isascii() or not compact.isalnum():
        return None
    if not any(c.isdigit() for c in compact) or len(set(compact)) == 1:
        return None  # "N/A", "NONE", "00000", "XXXX"
    code = _country_code(country) if country else None
    if code is None and "-" in text and _US_ZIP.fullmatch(compact) and len(compact) == 9:
        code = "US"
    formatted = _compact_postcode(compact, code)
    if formatted != "":
        return formatted
    return text if _GENERIC_POSTCODE.fullmatch(text) else None


# Street-line words and the abbreviation kept (USPS / Royal Mail usage).
_ADDRESS_ABBREVIATIONS = {
    "street": "st", "str": "st", "road": "rd", "avenue": "ave", "av": "ave", "suite": "ste",
    "floor": "fl", "flr": "fl", "boulevard": "blvd", "drive": "dr", "lane": "ln",
    "court": "ct", "place": "pl", "square": "sq", "apartment": "apt", "building": "bldg",
    "bldng": "bldg", "highway": "hwy", "parkway": "pkwy", "terrace": "ter", "crescent": "cres",
    "close": "cl", "gardens": "gdns", "mount": "mt", "department": "dept", "room": "rm",
    "number": "no", "north": "n", "south": "s", "east": "e", "west": "w",
}  # fmt: skip
_ADDRESS_DROPPED = frozenset({"and"})


def address(raw: str | None) -> str | None:
    """A street-address line in canonical form, or None.

    Folded to lower case without punctuation, common words abbreviated (street -> st,
    road -> rd, avenue -> ave, suite -> ste, floor -> fl, ...), unit and house numbers kept.

    >>> address("Suite #200, 1 Main Street")
    'ste 200 1 main st'
    """
    if not isinstance(raw, str):
        return None
    tokens = [_ADDRESS_ABBREVIATIONS.get(t, t) for t in words(raw) if t not in _ADDRESS_DROPPED]
    line = " ".join(tokens)
    return None if is_placeholder(line) else line


# Exonyms and spellings of one city (folded), each to the one form compared.
_CITY_ALIASES = {
    "munich": "munchen", "muenchen": "munchen", "cologne": "koln", "koeln": "koln",
    "the hague": "den haag", "s gravenhage": "den haag", "sgravenhage": "den haag", "la haye": "den haag",
    "nuremberg": "nurnberg", "nuernberg": "nurnberg", "dusseldorf": "dusseldorf", "duesseldorf": "dusseldorf",
    "frankfurt am main": "frankfurt", "frankfurt a m": "frankfurt", "francfort": "frankfurt",
    "hanover": "hannover", "brunswick": "braunschweig", "aix la chapelle": "aachen",
    "vienna": "wien", "vienne": "wien", "prague": "praha", "warsaw": "warszawa", "varsovie": "warszawa",
    "milan": "milano", "rome": "roma", "turin": "torino", "naples": "napoli", "florence": "firenze",
    "venice": "venezia", "genoa": "genova", "lisbon": "lisboa", "lisbonne": "lisboa",
    "brussels": "brussel", "bruxelles": "brussel", "antwerp": "antwerpen", "anvers": "antwerpen",
    "ghent": "gent", "gand": "gent", "bruges": "brugge", "louvain": "leuven",
    "geneva": "geneve", "genf": "geneve", "zurich": "zurich", "zuerich": "zurich", "basle": "basel", "bale": "basel",
    "copenhagen": "kobenhavn", "gothenburg": "goteborg", "goeteborg": "goteborg",
    "nyc": "new york", "new york city": "new york", "ny": "new york", "la": "los angeles",
    "sf": "san francisco", "washington dc": "washington", "washington d c": "washington",
    "dublin city": "dublin", "londres": "london", "londen": "london", "edimbourg": "edinburgh",
    "marseilles": "marseille", "lyons": "lyon", "dunkirk": "dunkerque", "strassburg": "strasbourg",
    "luik": "liege", "luttich": "liege", "bergen op zoom": "bergen op zoom",
}  # fmt: skip
_CITY_TAILS = re.compile(r"\s+(?:cedex(?:\s+\d+)?|\d{1,2}(?:e|er|eme)?|\d{5})$")
_CITY_QUALIFIERS = re.compile(r"\s+(?:upon|on|am|an der|an|sur|im|bei|aan den|aan de|aan)\s+.*$")


@lru_cache(maxsize=65_536)
def city(raw: str | None) -> str | None:
    """A city name in one comparable form, or None.

    Folded, with postal tails removed ("Paris Cedex 08" -> "paris"), river and region
    qualifiers dropped ("Newcastle upon Tyne" -> "newcastle", "Frankfurt am Main" ->
    "frankfurt") and common exonyms mapped to one form ("Munich", "Muenchen" -> "munchen").

    >>> [city(x) for x in ("München", "Munich", "Paris Cedex 08", "'s-Gravenhage", "The Hague")]
    ['munchen', 'munchen', 'paris', 'den haag', 'den haag']
    """
    if not isinstance(raw, str):
        return None
    folded = " ".join(words(raw))
    if is_placeholder(folded) or any(c.isdigit() for c in folded.replace(" ", "")[:1]):
        return None
    aliased = _CITY_ALIASES.get(folded)
    if aliased is not None:
        return aliased
    short = _CITY_QUALIFIERS.sub("", _CITY_TAILS.sub("", folded)).strip()
    short = _CITY_ALIASES.get(short, short)
    return short or None
