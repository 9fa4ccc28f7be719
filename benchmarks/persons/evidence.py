"""persons benchmark: identity evidence parsed back from the rendered rows, and the recall ceiling.

Evidence comes only from what is in the rendered rows; the ceiling uses the truth solely to restrict
links to records of one person (see README, Recall ceiling).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import date, datetime

import phonenumbers
from names import (
    CITIES,
    COUNTRY_FREE_TEXT,
    NICKNAMES,
    PLACEHOLDER_DOBS,
    PLACEHOLDER_EMAILS,
    PLACEHOLDER_PHONES,
    RELAY_DOMAIN,
)
from textkit import CC_CODE, NOW, SOURCES, ZD_LOCALE, is_ascii, strip_accents, translit

# ----------------------------------------------------------------------------------------
# features parsed back from the rendered rows (used by the recall ceiling, honest: only
# what is in the files)
# ----------------------------------------------------------------------------------------
PLACEHOLDER_EMAIL_SET = {e.lower() for e in PLACEHOLDER_EMAILS}
PLACEHOLDER_PHONE_DIGITS = {re.sub(r"\D", "", x) for x in PLACEHOLDER_PHONES}
_COUNTRY_TEXT = {t.lower(): cc for cc, ts in COUNTRY_FREE_TEXT.items() for t in ts}


def norm_phone(s, cc):
    if not s or not isinstance(s, str):
        return None
    d = re.sub(r"\D", "", s)
    if len(d) < 6 or d in PLACEHOLDER_PHONE_DIGITS or len(set(d)) <= 2:
        return None
    s2 = s.strip()
    if (
        not s2.startswith("+")
        and not s2.startswith("00")
        and cc
        and d.startswith(CC_CODE.get(cc, "##"))
        and len(d) >= 11
    ):
        s2 = "+" + d  # country code without '+'
    try:
        n = phonenumbers.parse(s2, cc or None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(n):
        return None
    return phonenumbers.format_number(n, phonenumbers.PhoneNumberFormat.E164)


def phones_in_row(src, row, cc):
    if src == "shop":
        vals = [row["Phone"], row["Default Address Phone"]]
    elif src in ("app", "support"):
        vals = [row["phone"]]
    elif src == "newsletter":
        vals = [row["Phone Number"]]
    elif src == "loyalty":
        vals = [row["phone"]]
    else:
        vals = [row["phone"], row["mobilephone"]]
    out = []
    for v in vals:
        e = norm_phone(v, cc)
        if e:
            out.append(e)
    return out


def norm_email(e):
    if not e or not isinstance(e, str):
        return None
    e = e.strip().lower()
    if e.count("@") != 1:
        return None
    local, dom = e.split("@")
    if not local or "." not in dom or e in PLACEHOLDER_EMAIL_SET or dom == RELAY_DOMAIN:
        return None
    local = local.split("+")[0]
    if dom in ("gmail.com", "googlemail.com"):
        local, dom = local.replace(".", ""), "gmail.com"
    return f"{local}@{dom}"


_STOP = {
    "mr",
    "mrs",
    "ms",
    "miss",
    "dr",
    "herr",
    "frau",
    "m",
    "mme",
    "mlle",
    "pan",
    "pani",
    "sr",
    "sra",
    "d",
    "dna",
    "bay",
    "bayan",
    "dhr",
    "mevr",
    "mw",
    "hr",
    "fru",
    "jr",
    "junior",
    "senior",
    "y",
    "van",
    "de",
    "den",
    "der",
    "ter",
    "ten",
    "te",
    "caller",
}


def _ctok(t):
    t = strip_accents(t.lower())
    t = re.sub(r"[^a-z]", "", t)
    t = t.replace("ae", "a").replace("oe", "o").replace("ue", "u").replace("aa", "a")
    return t


def _cyr_latin(s):
    if is_ascii(s) or not re.search(r"[\u0400-\u04FF]", s):
        return s
    return " ".join(translit(w, "A") if re.search(r"[\u0400-\u04FF]", w) else w for w in s.split())


_NICKMAP = defaultdict(set)
for _f, _ns in NICKNAMES.items():
    for _n in _ns:
        _NICKMAP[_ctok(_n)].add(_ctok(_f))


def name_tokens(*parts):
    s = " ".join(x for x in parts if x and isinstance(x, str))
    if "@" in s:
        return frozenset()
    s = _cyr_latin(s)
    toks = []
    for w in re.split(r"[\s,\-\.]+", s):
        c = _ctok(w)
        if not c or c in _STOP:
            continue
        toks.append(c)
    out = set(toks)
    for t in toks:
        out |= _NICKMAP.get(t, set())
    return frozenset(out)


def _ed1(a, b):
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1 or min(len(a), len(b)) < 4:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (
            len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]
        )
    if len(a) > len(b):
        a, b = b, a
    return any(b[:i] + b[i + 1 :] == a for i in range(len(b)))


def names_compatible(A, B):
    for a in A:
        if len(a) < 2:
            continue
        for b in B:
            if len(b) >= 2 and _ed1(a, b):
                return True
    return False


def _city_key(s):
    if not s:
        return None
    return _CITY_CANON.get(_ctok(s.split(",")[0].replace("Cedex", "").strip()) or "", _ctok(s) or None)


_CITY_CANON = {}
for _cc, _cs in CITIES.items():
    for _c in _cs:
        for _v in [_c[0], *_c[1]]:
            _CITY_CANON[_ctok(_v.split(",")[0].replace("Cedex 08", "").strip())] = _ctok(_c[0])


def _dob(s, fmt):
    if not s:
        return None
    try:
        if fmt == "iso":
            d = date.fromisoformat(s)
        elif fmt == "dmy":
            d = datetime.strptime(s, "%d/%m/%Y").date()
        else:
            return ("md", s)
    except ValueError:
        return None
    if d > NOW.date() or d.isoformat() in PLACEHOLDER_DOBS:
        return None
    return d


def features(src, row):
    """Identity evidence a resolver could read from a row (normalised generously)."""
    f = {
        "emails": [],
        "phones": [],
        "names": frozenset(),
        "dob": None,
        "pc": None,
        "city": None,
        "line": None,
        "fks": [],
    }
    if src == "shop":
        cc = row["Default Address Country Code"] or None
        f["emails"] = [row["Email"]]
        f["names"] = name_tokens(row["First Name"], row["Last Name"])
        f["pc"], f["city"] = row["Default Address Zip"], row["Default Address City"]
        f["line"] = row["Default Address Address1"]
    elif src == "app":
        cc = (row["locale"] or "-").split("-")[-1]
        f["emails"] = [row["email"]]
        f["names"] = name_tokens(row.get("display_name"), row.get("given_name"), row.get("family_name"))
        f["dob"] = _dob(row["date_of_birth"], "iso")
        f["city"] = row["city"]
        if row["shop_customer_id"]:
            f["fks"].append(("shop", row["shop_customer_id"]))
    elif src == "newsletter":
        cc = row["CC"] or None
        f["emails"] = [row["Email Address"]]
        f["names"] = name_tokens(row["First Name"], row["Last Name"])
        f["dob"] = _dob(row["Birthday"], "md")
    elif src == "loyalty":
        cc = row["country"]
        f["emails"] = [row["email"]]
        f["names"] = name_tokens(row["full_name"])
        f["dob"] = _dob(row["birth_date"], "dmy")
        f["pc"], f["city"], f["line"] = row["postcode"], row["city"], row["address_line"]
    elif src == "support":
        cc = {v: k for k, v in ZD_LOCALE.items()}.get(row["locale"])
        f["emails"] = [row["email"]]
        f["names"] = name_tokens(row["name"])
        if row["external_id"]:
            f["fks"].append(("app", row["external_id"]))
        if row["user_fields"]["loyalty_card"]:
            f["fks"].append(("loyalty", row["user_fields"]["loyalty_card"]))
    else:
        cc = _COUNTRY_TEXT.get((row["country"] or "").lower())
        f["emails"] = [row["email"], *(row["hs_additional_emails"] or "").split(";")]
        f["names"] = name_tokens(row["firstname"], row["lastname"])
        f["dob"] = _dob(row["date_of_birth"], "iso")
        f["pc"], f["city"], f["line"] = row["zip"], row["city"], row["address"]
    f["emails"] = [e for e in (norm_email(x) for x in f["emails"]) if e]
    f["phones"] = phones_in_row(src, row, cc)
    f["pc"] = re.sub(r"[^A-Z0-9]", "", (f["pc"] or "").upper()).lstrip("D") or None if f["pc"] else None
    f["city"] = _city_key(f["city"])
    f["line"] = re.sub(r"[^a-z0-9]", "", strip_accents((f["line"] or "").lower()))[:12] or None
    return f


def dob_match(a, b):
    if a is None or b is None:
        return False
    if isinstance(a, tuple) or isinstance(b, tuple):
        if isinstance(a, tuple) and isinstance(b, tuple):
            return False
        d, md = (b, a) if isinstance(a, tuple) else (a, b)
        return f"{d.month:02d}/{d.day:02d}" == md[1]
    return a == b


def _find(par, i):
    while par[i] != i:
        par[i] = par[par[i]]
        i = par[i]
    return i


def recall_ceiling(recs):
    """Share of true pairs inside one person's evidence-connected component (see README)."""
    feats = {id(x): features(x.src, x.row) for x in recs}
    keyed = {(x.src, x.key): x for x in recs}
    # full-name keys and how many true people carry each (name-alone evidence only if unique)
    name_people = defaultdict(set)
    for x in recs:
        n = feats[id(x)]["names"]
        if len([t for t in n if len(t) > 1]) >= 2:
            name_people[n].add(x.p.pid)
    by_person = defaultdict(list)
    for x in recs:
        by_person[x.p.pid].append(x)
    reach = reach_exact = total = 0
    unreachable_records = 0
    iso_src = Counter()
    for pid, xs in by_person.items():
        n = len(xs)
        if n < 2:
            continue
        total += n * (n - 1) // 2
        for exact_only in (False, True):
            par = list(range(n))
            for i in range(n):
                fi = feats[id(xs[i])]
                for j in range(i + 1, n):
                    fj = feats[id(xs[j])]
                    ok = (
                        bool(set(fi["emails"]) & set(fj["emails"]))
                        or bool(set(fi["phones"]) & set(fj["phones"]))
                        or (xs[j].src, xs[j].key) in fi["fks"]
                        or (xs[i].src, xs[i].key) in fj["fks"]
                        or any(keyed.get(k) is not None and keyed[k].p.pid == pid and k in fj["fks"] for k in fi["fks"])
                    )
                    if not ok and not exact_only and names_compatible(fi["names"], fj["names"]):
                        ok = (
                            dob_match(fi["dob"], fj["dob"])
                            or (fi["pc"] and fi["pc"] == fj["pc"])
                            or (fi["city"] and fi["city"] == fj["city"])
                            or (fi["line"] and fi["line"] == fj["line"])
                            or (fi["names"] == fj["names"] and len(name_people.get(fi["names"], ())) == 1)
                        )
                    if ok:
                        par[_find(par, i)] = _find(par, j)
            comp = Counter(_find(par, i) for i in range(n))
            got = sum(c * (c - 1) // 2 for c in comp.values())
            if exact_only:
                reach_exact += got
            else:
                reach += got
                unreachable_records += sum(1 for c in comp.values() if c == 1)
                for i in range(n):
                    if comp[_find(par, i)] == 1:
                        iso_src[xs[i].src] += 1
    return {
        "true_pairs": total,
        "reachable_pairs": reach,
        "recall_ceiling": round(reach / total, 4) if total else 1.0,
        "exact_key_reachable_pairs": reach_exact,
        "exact_key_recall_ceiling": round(reach_exact / total, 4) if total else 1.0,
        "records_isolated_within_their_person": unreachable_records,
        "isolated_records_per_source": {s: iso_src[s] for s in SOURCES},
    }
