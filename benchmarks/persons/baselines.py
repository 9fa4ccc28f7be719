#!/usr/bin/env python3
"""Two reference baselines for the persons benchmark (see README.md).

  keys    exact-key union-find: records that share a normalised e-mail (lower-case, trimmed), an E.164
          phone number, or that point at each other through a foreign key the systems carry (app user ->
          Shopify customer id, Zendesk external_id -> app user, Zendesk loyalty_card -> loyalty card).
          Values held by implausibly many records (placeholders such as noemail@..., 0000000000) are
          ignored: no key value seen on more than --max-key-records records joins anything.
  splink  a vanilla Splink model as a competent user would build it in an afternoon: the six exports
          flattened into one table, names ASCII-folded, Jaro-Winkler name comparisons with term-frequency
          adjustments, date of birth, e-mail, phone, postcode/city; u by random sampling, m by EM on three
          blocking sessions; predict and cluster at match probability 0.9. One deliberate departure from the
          library defaults: e-mail is compared exactly (and on the local part), without the fuzzy
          Jaro-Winkler levels of cl.EmailComparison: consumer addresses are built from the person's name,
          so a fuzzy e-mail match (anna.smith61@ vs anna.smith65@) re-counts the name evidence and merges
          namesakes; a look at a sample of the 0.9+ links shows this within minutes.

Both read only the six source files (never truth.csv / hard_cases.csv) and write one row per record:
  source,source_key,cluster_id

Usage:
  python baselines.py keys   --data DIR --out preds.csv
  python baselines.py splink --data DIR --out preds.csv [--threshold 0.9] [--seed 42]
Per-step timing and peak memory go to stderr.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import resource
import sys
import time
import unicodedata
from collections import Counter
from datetime import date, datetime
from pathlib import Path

import phonenumbers

try:  # ASCII folding that also romanises Cyrillic (Соколова -> Sokolova); NFKD folding otherwise
    from anyascii import anyascii
except ImportError:  # pragma: no cover
    anyascii = None

FILES = {
    "shop": "shop_customers.csv",
    "app": "app_users.jsonl",
    "newsletter": "newsletter_members.csv",
    "loyalty": "loyalty_cards.csv",
    "support": "support_contacts.jsonl",
    "crm": "crm_contacts.csv",
}

# ----------------------------------------------------------------------------------------------------
# logging: per-step wall time and peak RSS
# ----------------------------------------------------------------------------------------------------
_T0 = time.perf_counter()


class Step:
    def __init__(self, name: str):
        self.name = name

    def __enter__(self):
        self.t = time.perf_counter()
        return self

    def __exit__(self, *exc):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB -> MiB on Linux
        print(
            f"[{time.perf_counter() - _T0:7.1f}s] {self.name:<40} {time.perf_counter() - self.t:7.2f}s  "
            f"peak RSS {peak:,.0f} MiB",
            file=sys.stderr,
            flush=True,
        )
        return False


# ----------------------------------------------------------------------------------------------------
# reading and normalising the six exports
# ----------------------------------------------------------------------------------------------------
def read_csv(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


_COUNTRY_WORDS = {
    "united kingdom": "GB",
    "uk": "GB",
    "great britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "germany": "DE",
    "deutschland": "DE",
    "france": "FR",
    "poland": "PL",
    "polska": "PL",
    "spain": "ES",
    "espana": "ES",
    "turkey": "TR",
    "turkiye": "TR",
    "united states": "US",
    "usa": "US",
    "united states of america": "US",
    "netherlands": "NL",
    "nederland": "NL",
    "holland": "NL",
    "denmark": "DK",
    "danmark": "DK",
}
_LANG_COUNTRY = {"de": "DE", "fr": "FR", "pl": "PL", "es": "ES", "tr": "TR", "nl": "NL", "da": "DK"}


def fold(s: str) -> str:
    if anyascii is not None:
        return anyascii(s)
    return "".join(c for c in unicodedata.normalize("NFKD", s) if not unicodedata.combining(c))


def country_of(value: str | None) -> str | None:
    """An ISO alpha-2 country from a code, a free-text country name or a locale (en-GB, de, da-DK)."""
    if not value:
        return None
    v = value.strip()
    if re.fullmatch(r"[A-Za-z]{2}", v):
        return v.upper()
    m = re.fullmatch(r"([A-Za-z]{2})[-_]([A-Za-z]{2})", v)
    if m:
        return m.group(2).upper()
    return _COUNTRY_WORDS.get(fold(v).lower()) or _LANG_COUNTRY.get(v.lower())


def norm_email(s) -> str | None:
    """Lower-case and trim; not a syntactically plausible address -> None. No provider-specific rules."""
    if not s or not isinstance(s, str):
        return None
    e = s.strip().lower()
    if e.count("@") != 1 or " " in e:
        return None
    local, dom = e.split("@")
    if not local or "." not in dom or dom.startswith(".") or dom.endswith("."):
        return None
    return e


def norm_phone(s, country: str | None) -> str | None:
    """E.164 via phonenumbers, parsing national formats with the record's country where known."""
    if not s or not isinstance(s, str):
        return None
    raw = s.strip()
    if sum(c.isdigit() for c in raw) < 6:
        return None
    try:
        num = phonenumbers.parse(raw, country if country else None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(num):
        return None
    return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)


_TITLES = {
    "mr",
    "mrs",
    "ms",
    "miss",
    "dr",
    "herr",
    "frau",
    "fru",
    "hr",
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
}


def clean_name(s) -> str | None:
    """ASCII-fold, lower-case, letters/space/hyphen/apostrophe only; one letter (an initial) -> None."""
    if not s or not isinstance(s, str):
        return None
    t = fold(s).lower()
    t = re.sub(r"[^a-z' -]+", " ", t)
    t = re.sub(r"\s+", " ", t).strip(" -'")
    return t if len(t) > 1 else None


def split_full_name(s) -> tuple[str | None, str | None]:
    """'SURNAME, Given' or 'Given Surname(s)', with a leading title dropped; e-mail/phone-like -> nothing."""
    if not s or not isinstance(s, str) or "@" in s or sum(c.isdigit() for c in s) > 2:
        return None, None
    if "," in s:
        sur, given = s.split(",", 1)
        return clean_name(given), clean_name(sur)
    toks = [t for t in s.strip().split() if t]
    while toks and toks[0].lower().strip(".") in _TITLES and len(toks) > 1:
        toks = toks[1:]
    if not toks:
        return None, None
    if len(toks) == 1:
        return clean_name(toks[0]), None
    return clean_name(toks[0]), clean_name(" ".join(toks[1:]))


def parse_date(s, fmt: str) -> str | None:
    if not s or not isinstance(s, str):
        return None
    try:
        d = date.fromisoformat(s.strip()) if fmt == "iso" else datetime.strptime(s.strip(), fmt).date()
    except ValueError:
        return None
    return d.isoformat()


def clean_postcode(s) -> str | None:
    if not s or not isinstance(s, str):
        return None
    t = re.sub(r"[^A-Z0-9]", "", s.upper())
    return t or None


def load(data: Path) -> list[dict]:
    """One flat dict per record: source, key, names, dob, emails, phones, postcode, city, foreign keys."""
    out = []

    def rec(src, key, first, sur, dob, emails, phones, cc, pc=None, city=None, fks=()):
        out.append(
            {
                "source": src,
                "key": str(key),
                "first_name": first,
                "surname": sur,
                "dob": dob,
                "emails": [e for e in (norm_email(x) for x in emails) if e],
                "phones": [p for p in (norm_phone(x, cc) for x in phones) if p],
                "postcode": clean_postcode(pc),
                "city": clean_name(city),
                "country": cc,
                "fks": [(s, str(k)) for s, k in fks if k],
            }
        )

    for r in read_csv(data / FILES["shop"]):
        cc = country_of(r["Default Address Country Code"])
        rec(
            "shop",
            r["Customer ID"],
            clean_name(r["First Name"]),
            clean_name(r["Last Name"]),
            None,
            [r["Email"]],
            [r["Phone"], r["Default Address Phone"]],
            cc,
            r["Default Address Zip"],
            r["Default Address City"],
        )
    for r in read_jsonl(data / FILES["app"]):
        if r.get("given_name") is not None or r.get("family_name") is not None:
            first, sur = clean_name(r.get("given_name")), clean_name(r.get("family_name"))
        else:
            first, sur = split_full_name(r.get("display_name"))
        rec(
            "app",
            r["id"],
            first,
            sur,
            parse_date(r.get("date_of_birth"), "iso"),
            [r.get("email")],
            [r.get("phone")],
            country_of(r.get("locale")),
            None,
            r.get("city"),
            [("shop", r.get("shop_customer_id"))],
        )
    for r in read_csv(data / FILES["newsletter"]):
        # Birthday is month/day only: not a date of birth, left out
        rec(
            "newsletter",
            r["LEID"],
            clean_name(r["First Name"]),
            clean_name(r["Last Name"]),
            None,
            [r["Email Address"]],
            [r["Phone Number"]],
            country_of(r["CC"]),
        )
    for r in read_csv(data / FILES["loyalty"]):
        first, sur = split_full_name(r["full_name"])
        rec(
            "loyalty",
            r["card_number"],
            first,
            sur,
            parse_date(r["birth_date"], "%d/%m/%Y"),
            [r["email"]],
            [r["phone"]],
            country_of(r["country"]),
            r["postcode"],
            r["city"],
        )
    for r in read_jsonl(data / FILES["support"]):
        first, sur = split_full_name(r.get("name"))
        uf = r.get("user_fields") or {}
        rec(
            "support",
            r["id"],
            first,
            sur,
            None,
            [r.get("email")],
            [r.get("phone")],
            country_of(r.get("locale")),
            fks=[("app", r.get("external_id")), ("loyalty", uf.get("loyalty_card"))],
        )
    for r in read_csv(data / FILES["crm"]):
        emails = [r["email"], *(r["hs_additional_emails"] or "").split(";")]
        rec(
            "crm",
            r["hs_object_id"],
            clean_name(r["firstname"]),
            clean_name(r["lastname"]),
            parse_date(r["date_of_birth"], "iso"),
            emails,
            [r["phone"], r["mobilephone"]],
            country_of(r["country"]),
            r["zip"],
            r["city"],
        )
    return out


def frequent_values(recs: list[dict], field: str, cap: int) -> set:
    """Values of a field held by more than `cap` records: placeholders / shared junk, not identifiers."""
    c = Counter()
    for r in recs:
        vals = r[field] if isinstance(r[field], list) else [r[field]]
        for v in set(vals):
            if v:
                c[v] += 1
    return {v for v, n in c.items() if n > cap}


# ----------------------------------------------------------------------------------------------------
# baseline 1: exact keys
# ----------------------------------------------------------------------------------------------------
class DSU:
    def __init__(self, n: int):
        self.p = list(range(n))

    def find(self, i: int) -> int:
        while self.p[i] != i:
            self.p[i] = self.p[self.p[i]]
            i = self.p[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.p[max(ra, rb)] = min(ra, rb)


def run_keys(recs: list[dict], max_key_records: int) -> dict:
    with Step(f"keys: ignore values on >{max_key_records} records"):
        junk = frequent_values(recs, "emails", max_key_records) | frequent_values(recs, "phones", max_key_records)
        print(f"    ignored key values: {len(junk)} (e.g. {sorted(junk)[:4]})", file=sys.stderr)
    with Step("keys: union-find"):
        dsu = DSU(len(recs))
        first_with = {}
        index = {(r["source"], r["key"]): i for i, r in enumerate(recs)}
        for i, r in enumerate(recs):
            for v in set(r["emails"]) | set(r["phones"]):
                if v in junk:
                    continue
                if v in first_with:
                    dsu.union(i, first_with[v])
                else:
                    first_with[v] = i
            for fk in r["fks"]:
                j = index.get(fk)
                if j is not None:
                    dsu.union(i, j)
    return {(r["source"], r["key"]): f"k{dsu.find(i)}" for i, r in enumerate(recs)}


# ----------------------------------------------------------------------------------------------------
# baseline 2: vanilla Splink
# ----------------------------------------------------------------------------------------------------
def run_splink(recs: list[dict], threshold: float, seed: int, max_key_records: int) -> dict:
    import pandas as pd
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    with Step("splink: flatten + null placeholder values"):
        junk_e = frequent_values(recs, "emails", max_key_records)
        junk_p = frequent_values(recs, "phones", max_key_records)
        junk_d = frequent_values(recs, "dob", 5 * max_key_records)  # birthdays legitimately repeat more
        rows = []
        for i, r in enumerate(recs):
            emails = [e for e in r["emails"] if e not in junk_e]
            phones = [p for p in r["phones"] if p not in junk_p]
            rows.append(
                {
                    "unique_id": i,
                    "source": r["source"],
                    "first_name": r["first_name"],
                    "surname": r["surname"],
                    "dob": None if r["dob"] in junk_d else r["dob"],
                    "email": emails[0] if emails else None,
                    "phone": phones[0] if phones else None,
                    "postcode": r["postcode"],
                    "city": r["city"],
                }
            )
        df = pd.DataFrame(rows)
        print(
            f"    {len(df):,} records; nulled {len(junk_e)} e-mails, {len(junk_p)} phones, {len(junk_d)} dobs",
            file=sys.stderr,
        )

    # exact e-mail (tf-adjusted) and same local part at another provider; no fuzzy levels (see docstring)
    email = cl.CustomComparison(
        output_column_name="email",
        comparison_levels=[
            cll.NullLevel("email"),
            cll.ExactMatchLevel("email").configure(tf_adjustment_column="email"),
            cll.CustomLevel("regexp_extract(email_l, '^[^@]+') = regexp_extract(email_r, '^[^@]+')").configure(
                label_for_charts="same local part, other domain"
            ),
            cll.ElseLevel(),
        ],
    )
    location = cl.CustomComparison(
        output_column_name="postcode_city",
        comparison_levels=[
            cll.CustomLevel(
                "(postcode_l IS NULL AND city_l IS NULL) OR (postcode_r IS NULL AND city_r IS NULL)"
            ).configure(is_null_level=True, label_for_charts="no location on one side"),
            cll.ExactMatchLevel("postcode"),
            cll.ExactMatchLevel("city").configure(tf_adjustment_column="city"),
            cll.ElseLevel(),
        ],
    )
    settings = SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=[
            cl.NameComparison("first_name"),  # exact (tf) / JW 0.92 / 0.88 / 0.7 / else
            cl.NameComparison("surname"),
            cl.DateOfBirthComparison("dob", input_is_string=True),
            email,
            cl.ExactMatch("phone").configure(term_frequency_adjustments=True),
            location,
        ],
        blocking_rules_to_generate_predictions=[
            block_on("email"),
            block_on("phone"),
            block_on("first_name", "surname"),
            block_on("surname", "dob"),
            block_on("first_name", "dob"),
            block_on("surname", "postcode"),
        ],
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )
    with Step("splink: register + linker"):
        db_api = DuckDBAPI()
        sdf = db_api.register(df, table_name="persons")
        linker = Linker(sdf, settings, log_level=30)
    with Step("splink: prior from deterministic rules"):
        linker.training.estimate_probability_two_random_records_match(
            [block_on("email"), block_on("phone"), block_on("first_name", "surname", "dob")], recall=0.7
        )
    with Step("splink: u by random sampling"):
        linker.training.estimate_u_using_random_sampling(max_pairs=1e7, seed=seed)
    for cols in (("first_name", "surname"), ("dob",), ("email",)):
        with Step(f"splink: EM, pairs blocked on {'+'.join(cols)}"):
            linker.training.estimate_parameters_using_expectation_maximisation(block_on(*cols))
    with Step(f"splink: predict (p >= {threshold})"):
        pred = linker.inference.predict(threshold_match_probability=threshold)
    with Step("splink: cluster"):
        clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(pred, threshold)
        cdf = clusters.as_pandas_dataframe()
    cid = dict(zip(cdf["unique_id"].astype(int), cdf["cluster_id"].astype(str), strict=True))
    return {(r["source"], r["key"]): f"s{cid.get(i, i)}" for i, r in enumerate(recs)}


# ----------------------------------------------------------------------------------------------------
def write_predictions(path: Path, pred: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["source", "source_key", "cluster_id"])
        for (s, k), c in sorted(pred.items()):
            w.writerow([s, k, c])


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("method", choices=["keys", "splink"])
    ap.add_argument("--data", required=True, type=Path)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--threshold", type=float, default=0.9, help="splink: match probability to link/cluster at")
    ap.add_argument("--seed", type=int, default=42, help="splink: seed for u sampling")
    ap.add_argument(
        "--max-key-records",
        type=int,
        default=10,
        help="a key value held by more records than this is treated as a placeholder",
    )
    a = ap.parse_args(argv)
    with Step("read + normalise six sources"):
        recs = load(a.data)
        print(f"    {len(recs):,} records: {dict(Counter(r['source'] for r in recs))}", file=sys.stderr)
    if a.method == "keys":
        pred = run_keys(recs, a.max_key_records)
    else:
        pred = run_splink(recs, a.threshold, a.seed, a.max_key_records)
    with Step("write predictions"):
        write_predictions(a.out, pred)
    sizes = Counter(Counter(pred.values()).values())
    print(f"    {len(pred):,} records in {len(set(pred.values())):,} clusters; largest {max(sizes)}", file=sys.stderr)


if __name__ == "__main__":
    main()
