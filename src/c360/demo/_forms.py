"""How each source system writes the same fact differently: names, phones, sites, times."""

from __future__ import annotations

import datetime as dt
import random

from c360.demo._accounts import Account, tokens
from c360.demo._words import STREET_ABBREVIATIONS, SUFFIX_ALTERNATIVES, City, Country


def utc(ts: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.UTC)


def salesforce_time(ts: int) -> str:
    return utc(ts).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def iso_z(ts: int) -> str:
    return utc(ts).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_local(rng: random.Random, ts: int, city: City, dst: bool) -> str:
    """A timestamp as a client in ``city`` reports it: local time with its offset, or Z."""
    if rng.random() < 0.15:
        return iso_z(ts)
    moment = utc(ts)
    hours = city.utc_offset + (1 if dst and 4 <= moment.month <= 10 else 0)
    local = moment.astimezone(dt.timezone(dt.timedelta(hours=hours)))
    return local.isoformat(timespec="seconds")


def phone_text(rng: random.Random, country: Country, groups: tuple[str, ...]) -> str:
    """One of the ways people type a phone number: national, international, E.164, 00-prefix."""
    cc, trunk = country.dialing_code, country.trunk
    if country.code == "US":
        area, rest = groups[0], groups[1] + groups[2]
        return rng.choice(
            (
                f"({area}) {rest[:3]}-{rest[3:]}",
                f"+1 {area}-{rest[:3]}-{rest[3:]}",
                f"{area}.{rest[:3]}.{rest[3:]}",
                f"+1{area}{rest}",
                f"1-{area}-{rest[:3]}-{rest[3:]}",
            )
        )
    sep = "-" if country.code == "JP" else " "
    national = trunk + sep.join(groups)
    spaced = " ".join(groups) if country.code != "JP" else groups[0] + "-" + "-".join(groups[1:])
    exit_code = "010" if country.code == "JP" else "00"  # the international call prefix
    forms = [national, national, f"+{cc} {spaced}", f"+{cc}{''.join(groups)}", f"{exit_code}{cc} {spaced}"]
    if country.code == "GB":
        forms.append(f"+44 (0){' '.join(groups)}")
    return rng.choice(forms)


def website(rng: random.Random, domain: str, path: str, clean: bool) -> str:
    if clean:
        return f"https://www.{domain}{path}"
    return rng.choice(
        (
            f"https://www.{domain}{path}",
            f"{domain}{path}",
            f"www.{domain}{path}/",
            f"http://{domain}{path}",
            f"https://{domain}{path}/",
            f"http://www.{domain}{path}",
        )
    )


def country_text(rng: random.Random, country: Country, clean: bool) -> str:
    if clean:
        return country.names[0]
    return rng.choices(country.names, weights=country.name_weights)[0]


def postcode_text(rng: random.Random, postcode: str, clean: bool) -> str:
    if clean or " " not in postcode or rng.random() < 0.85:
        return postcode
    return rng.choice((postcode.replace(" ", ""), postcode.lower()))


def street_text(rng: random.Random, street: str) -> str:
    """The street as a second system keeps it: often abbreviated the other way round."""
    if rng.random() < 0.75:
        return street
    for long, short in STREET_ABBREVIATIONS.items():
        if long in street:
            return street.replace(long, short)
        if short in street and rng.random() < 0.5:
            return street.replace(short, long)
    return street


def typo(rng: random.Random, text: str) -> str:
    """A one-keystroke slip in a word long enough to survive it."""
    words = text.split(" ")
    candidates = [i for i, w in enumerate(words) if len(w) >= 5 and w.isalpha()]
    if not candidates:
        return text
    i = rng.choice(candidates)
    w = words[i]
    k = rng.randint(1, len(w) - 3)
    op = rng.randrange(3)
    if op == 0:
        w = w[:k] + w[k + 1] + w[k] + w[k + 2 :]
    elif op == 1:
        w = w[:k] + w[k + 1 :]
    else:
        w = w[:k] + w[k] + w[k:]
    words[i] = w
    return " ".join(words)


def other_suffix(rng: random.Random, suffix: str) -> str:
    return rng.choice(SUFFIX_ALTERNATIVES.get(suffix, (suffix,)))


def billing_name(rng: random.Random, acc: Account, clean: bool) -> str:
    """The customer name a finance team typed into billing, not copied from the CRM."""
    brand = acc.billing_brand or acc.brand
    legal = f"{brand} {acc.suffix}"
    if acc.kind == "trading_name":
        return brand if clean or rng.random() < 0.7 else brand.upper()
    if clean:
        return legal
    r = rng.random()
    if r < 0.45:
        return legal
    if r < 0.65:
        return brand
    if r < 0.80:
        return f"{brand} {other_suffix(rng, acc.suffix)}"
    if r < 0.90:
        return f"{brand} {other_suffix(rng, acc.suffix)}".upper()
    if r < 0.95:
        return typo(rng, legal)
    if "&" in legal:
        return legal.replace("&", "and")
    return legal.lower()


def crm_duplicate_name(rng: random.Random, acc: Account) -> str:
    """The second CRM record of one company, typed by another rep."""
    return rng.choice(
        (f"{acc.brand} {other_suffix(rng, acc.suffix)}", acc.brand, acc.legal_name.upper(), typo(rng, acc.legal_name))
    )


def organization_name(rng: random.Random, acc: Account) -> str:
    return acc.brand if rng.random() < 0.8 else acc.legal_name


def workspace_name(rng: random.Random, acc: Account) -> str:
    words = [w for w in tokens(acc.brand) if w != "and"]
    return rng.choice((words[0], "-".join(words), acc.brand, acc.brand, "".join(words)))


def mangle_case(email: str) -> str:
    local, domain = email.split("@", 1)
    return ".".join(p.capitalize() for p in local.split(".")) + "@" + domain.capitalize()
