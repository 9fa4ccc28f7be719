"""persons benchmark: constants, text helpers and phone formats shared by the generator modules."""

from __future__ import annotations

import random
import re
import unicodedata
from datetime import UTC, datetime

import phonenumbers

NOW = datetime(2026, 11, 20, 12, 0, 0, tzinfo=UTC)
SOURCES = ["shop", "app", "newsletter", "loyalty", "support", "crm"]
FILES = {
    "shop": "shop_customers.csv",
    "app": "app_users.jsonl",
    "newsletter": "newsletter_members.csv",
    "loyalty": "loyalty_cards.csv",
    "support": "support_contacts.jsonl",
    "crm": "crm_contacts.csv",
}
WINDOW_START = {"shop": 2016, "app": 2019, "newsletter": 2014, "loyalty": 2009, "support": 2017, "crm": 2015}
SYS_WEIGHT = {"shop": 1.0, "app": 0.75, "newsletter": 0.70, "loyalty": 0.60, "crm": 0.55, "support": 0.45}
N_SYSTEMS = [(1, 0.36), (2, 0.27), (3, 0.18), (4, 0.11), (5, 0.05), (6, 0.03)]
DUP_RATE = {"shop": 0.06, "app": 0.05, "newsletter": 0.04, "loyalty": 0.04, "support": 0.07, "crm": 0.06}
PHONE_SOURCES = ["shop", "app", "loyalty", "support", "crm"]
# probability that a record of someone who goes by a nickname uses it
NICK_P = {"app": 0.70, "newsletter": 0.55, "support": 0.60, "shop": 0.40, "crm": 0.30, "loyalty": 0.15}
# probability that a non-ASCII name is ASCII-folded in a record
FOLD_P = {"shop": 0.22, "app": 0.20, "newsletter": 0.30, "loyalty": 0.15, "support": 0.40, "crm": 0.25}
CC_CODE = {"GB": "44", "DE": "49", "FR": "33", "PL": "48", "ES": "34", "TR": "90", "US": "1", "NL": "31", "DK": "45"}
ZD_LOCALE = {
    "GB": "en-gb",
    "DE": "de",
    "FR": "fr",
    "PL": "pl",
    "ES": "es",
    "TR": "tr",
    "US": "en-US",
    "NL": "nl",
    "DK": "da",
}

# ----------------------------------------------------------------------------------------
# text helpers
# ----------------------------------------------------------------------------------------
_SPECIAL = str.maketrans(
    {
        "ß": "ss",
        "ł": "l",
        "Ł": "L",
        "ø": "o",
        "Ø": "O",
        "æ": "ae",
        "Æ": "AE",
        "ı": "i",
        "đ": "d",
        "œ": "oe",
        "Œ": "OE",
        "ð": "d",
        "þ": "th",
    }
)
_DE = str.maketrans(
    {
        "ä": "ae",
        "ö": "oe",
        "ü": "ue",
        "Ä": "Ae",
        "Ö": "Oe",
        "Ü": "Ue",
        "ß": "ss",
        "ø": "oe",
        "Ø": "Oe",
        "å": "aa",
        "Å": "Aa",
        "æ": "ae",
        "Æ": "Ae",
    }
)


def strip_accents(s: str) -> str:
    s = s.translate(_SPECIAL)
    return "".join(c for c in unicodedata.normalize("NFKD", s) if not unicodedata.combining(c))


def de_fold(s: str) -> str:
    return strip_accents(s.translate(_DE))


def is_ascii(s: str) -> bool:
    return all(ord(c) < 128 for c in s)


# Cyrillic -> Latin, three schemes. A = "BGN-like" (the person's canonical Latin spelling),
# B = ICAO 2013 (modern passports: Iuliia, Dmitrii), C = popular / English-style (Alexander, Julia)
_CYR_A = dict(zip("абвгдзиклмнопрстуфыэ", "abvgdziklmnoprstufye", strict=True)) | {
    "е": "e",
    "ё": "e",
    "ж": "zh",
    "й": "y",
    "х": "kh",
    "ц": "ts",
    "ч": "ch",
    "ш": "sh",
    "щ": "shch",
    "ъ": "",
    "ь": "",
    "ю": "yu",
    "я": "ya",
}
_CYR_B = _CYR_A | {"й": "i", "ъ": "ie", "ю": "iu", "я": "ia"}
_CYR_C = _CYR_A | {"х": "h", "й": "i", "ё": "yo"}
_CYR_POPULAR = {
    "Александр": "Alexander",
    "Алексей": "Alexey",
    "Александра": "Alexandra",
    "Юлия": "Julia",
    "Мария": "Maria",
    "Наталья": "Natalia",
    "Евгений": "Evgeny",
    "Екатерина": "Ekaterina",
    "Ксения": "Ksenia",
    "Дмитрий": "Dmitry",
    "Сергей": "Sergei",
    "Юрий": "Yury",
    "Андрей": "Andrei",
    "Анастасия": "Anastasia",
    "Татьяна": "Tatiana",
}
_VOW = set("аеёиоуыэюяьъ")


def translit(word: str, scheme: str) -> str:
    if scheme == "C" and word in _CYR_POPULAR:
        return _CYR_POPULAR[word]
    table = {"A": _CYR_A, "B": _CYR_B, "C": _CYR_C}[scheme]
    low = word.lower()
    out = []
    for i, ch in enumerate(low):
        nxt = low[i + 1] if i + 1 < len(low) else ""
        if scheme == "A" and ch == "е" and (i == 0 or low[i - 1] in _VOW):
            out.append("ye")
        elif ch == "и" and nxt == "й" and i + 2 == len(low):
            out.append({"A": "i", "B": "i", "C": ""}[scheme])  # -ий: A iy, B ii, C y
        elif (ch == "й" and i + 1 == len(low) and i > 0 and low[i - 1] == "и" and scheme == "C") or (
            ch == "ы" and nxt == "й" and i + 2 == len(low)
        ):
            out.append("y")
        elif ch == "й" and i > 0 and low[i - 1] == "ы" and i + 1 == len(low):
            out.append("")
        else:
            out.append(table.get(ch, ch))
    s = "".join(out)
    return s[:1].upper() + s[1:]


_KEYB = ["qwertyuiop", "asdfghjkl", "zxcvbnm"]
_NEIGH = {}
for _r, _row in enumerate(_KEYB):
    for _i, _c in enumerate(_row):
        _n = [_row[j] for j in (_i - 1, _i + 1) if 0 <= j < len(_row)]
        for _rr in (_r - 1, _r + 1):
            if 0 <= _rr < 3:
                _n += [_KEYB[_rr][j] for j in (_i - 1, _i) if 0 <= j < len(_KEYB[_rr])]
        _NEIGH[_c] = _n


def typo(s: str, rng: random.Random) -> str:
    idx = [i for i, c in enumerate(s) if c.isalpha()]
    if len(idx) < 4:
        return s
    i = rng.choice(idx[1:])  # keep the first letter: most real typos are not in it
    c = s[i]
    op = rng.choice(["sub", "del", "swap", "dbl", "sub"])
    if op == "sub":
        nb = _NEIGH.get(c.lower())
        if not nb:
            return s[:i] + s[i + 1 :]
        r = rng.choice(nb)
        return s[:i] + (r.upper() if c.isupper() else r) + s[i + 1 :]
    if op == "del":
        return s[:i] + s[i + 1 :]
    if op == "swap" and i + 1 < len(s) and s[i + 1].isalpha() and s[i + 1] != c:
        return s[:i] + s[i + 1] + c + s[i + 2 :]
    return s[:i] + c + s[i:]


def wchoice(rng, pairs):
    tot = sum(w for _, w in pairs)
    x = rng.random() * tot
    for v, w in pairs:
        x -= w
        if x <= 0:
            return v
    return pairs[-1][0]


def zipf_choice(rng, items, s=0.9):
    return wchoice(rng, [(it, 1.0 / (i + 2) ** s) for i, it in enumerate(items)])


def luhn_digit(num: str) -> str:
    tot = 0
    for i, d in enumerate(reversed(num)):
        x = int(d)
        if i % 2 == 0:
            x *= 2
            if x > 9:
                x -= 9
        tot += x
    return str((10 - tot % 10) % 10)


def gendered(pairs: list, surname: str, gender: str) -> str:
    """The masculine or feminine form of a Polish/Russian surname (unchanged if not in the table)."""
    return next((f_ if gender == "F" else m_ for m_, f_ in pairs if surname in (m_, f_)), surname)


def title(s: str) -> str:
    return " ".join(w[:1].upper() + w[1:] for w in s.split(" "))


# ----------------------------------------------------------------------------------------
# phones
# ----------------------------------------------------------------------------------------
def _d(rng, n):
    return "".join(rng.choice("0123456789") for _ in range(n))


PHONE_GEN = {
    "GB": {
        "mobile": lambda r: "7" + r.choice("45789") + _d(r, 8),
        "landline": lambda r: r.choice(
            [
                "20" + r.choice("378") + _d(r, 7),
                "161" + _d(r, 7),
                "113" + _d(r, 7),
                "121" + _d(r, 7),
                "141" + _d(r, 7),
                "117" + _d(r, 7),
                "131" + _d(r, 7),
            ]
        ),
    },
    "DE": {
        "mobile": lambda r: r.choice(
            [
                "151" + _d(r, 8),
                "160" + _d(r, 7),
                "170" + _d(r, 7),
                "171" + _d(r, 7),
                "172" + _d(r, 7),
                "176" + _d(r, 8),
                "157" + _d(r, 8),
            ]
        ),
        "landline": lambda r: r.choice(
            ["30" + _d(r, 8), "89" + _d(r, 8), "40" + _d(r, 8), "221" + _d(r, 7), "69" + _d(r, 8), "711" + _d(r, 7)]
        ),
    },
    "FR": {"mobile": lambda r: r.choice("67") + _d(r, 8), "landline": lambda r: r.choice("12345") + _d(r, 8)},
    "PL": {
        "mobile": lambda r: r.choice(["50", "51", "53", "57", "60", "66", "69", "72", "78", "79", "88"]) + _d(r, 7),
        "landline": lambda r: r.choice(["22", "12", "61", "71", "58", "42"]) + _d(r, 7),
    },
    "ES": {"mobile": lambda r: "6" + _d(r, 8), "landline": lambda r: r.choice(["91", "93", "95", "96"]) + _d(r, 7)},
    "TR": {
        "mobile": lambda r: "5" + r.choice(["30", "32", "33", "35", "42", "44", "05", "06", "52", "55"]) + _d(r, 7),
        "landline": lambda r: r.choice(["212", "216", "312", "232", "224"]) + _d(r, 7),
    },
    "US": {
        "mobile": lambda r: (
            r.choice(["212", "646", "415", "312", "617", "213", "305", "206", "512", "404", "718", "713", "214", "602"])
            + r.choice("23456789")
            + _d(r, 2)
            + _d(r, 4)
        ),
        "landline": None,
    },
    "NL": {
        "mobile": lambda r: "6" + r.choice("12345") + _d(r, 7),
        "landline": lambda r: r.choice(["20", "10", "30", "70", "40", "50"]) + _d(r, 7),
    },
    "DK": {
        "mobile": lambda r: r.choice(["2", "3", "4", "5", "6"]) + _d(r, 7),
        "landline": lambda r: r.choice(["3", "4", "7", "8", "9"]) + _d(r, 7),
    },
}
PHONE_GEN["US"]["landline"] = PHONE_GEN["US"]["mobile"]


def fmt_phone(e164: str, style: str, rng: random.Random) -> str:
    num = phonenumbers.parse(e164)
    cc = str(num.country_code)
    if style == "e164":
        return e164
    if style == "intl":
        return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    nat = phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.NATIONAL)
    if style == "national":
        return nat
    if style == "compact":
        return re.sub(r"\D", "", nat)
    if style == "00":
        intl = phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
        return "00" + cc + " " + intl.split(" ", 1)[1]
    if style == "plus0":
        nd = re.sub(r"\D", "", nat)
        if nd.startswith("0"):
            return f"+{cc} (0){nd[1:]}"
        return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    if style == "dots":
        if cc == "33":
            return nat.replace(" ", ".")
        return nat.replace(" ", "-")
    if style == "digits_cc":  # country code, no plus: a CRM import that lost the '+'
        return e164[1:]
    raise ValueError(style)


STREET_ABBR = (
    (" Street", " St"),
    ("straße", "str."),
    ("Straße", "Str."),
    (" Road", " Rd"),
    ("straat", "str."),
    (" Avenue", " Ave"),
    ("Calle ", "C/ "),
    ("rue ", "r. "),
    ("ulica ", "ul. "),
    ("Caddesi", "Cad."),
    ("Sokak", "Sok."),
    (" Lane", " Ln"),
    ("vej ", "vej. "),
)
