"""The demo's hidden ground truth: accounts, their people, and the hard cases bent into them."""

from __future__ import annotations

import random
import re
import unicodedata
from dataclasses import dataclass, field

from c360.demo._words import (
    COUNTRIES,
    COUNTRY_WEIGHTS,
    FIRST_NAMES,
    FREE_MAIL_DOMAINS,
    HOLDING_WORDS,
    LAST_NAMES,
    LOCAL_PREFIXES,
    NEAR_SECTORS,
    PREFIXES,
    SECTORS,
    STREET_NAMES,
    City,
    Country,
)

DAY = 86_400
_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SF_CHECKSUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_POSTCODE_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
_SECTOR_WORDS = tuple(SECTORS)
_EMAIL_FORMATS = ("first.last", "first.last", "flast", "firstl", "first_last", "first")


@dataclass(slots=True)
class Person:
    first: str
    last: str
    email: str
    zendesk_id: int
    free_mail: str | None = None

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}"


@dataclass(slots=True)
class Account:
    """One real-world customer as only the generator knows it."""

    index: int
    country: Country
    city: City
    street: str
    postcode: str
    phone: tuple[str, ...]  # national significant number, grouped
    brand: str  # the name people use, without legal form
    suffix: str
    legal_name: str
    web_domain: str
    email_domain: str
    industry: str
    created: int
    website_path: str = ""
    kind: str = "clean"
    crm_copies: int = 1
    billing_brand: str | None = None  # a rebrand only billing has heard of
    billing_domain: str | None = None
    in_crm: bool = True
    in_billing: bool = True
    in_support: bool = True
    in_product: bool = True
    crm_ids: list[str] = field(default_factory=list)
    people: list[Person] = field(default_factory=list)

    @property
    def number(self) -> str:
        return f"A{self.index:06d}"


class Registry:
    """Everything that must stay unique across the generated world."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.brands: set[str] = set()
        self.domains: set[str] = set()
        self.emails: set[str] = set()
        self.ids: set[str] = set()
        self.phones: set[tuple[str, ...]] = set()
        self.ints: set[int] = set()

    def fresh_id(self, prefix: str, length: int) -> str:
        while True:
            key = prefix + "".join(self.rng.choices(_B62, k=length))
            if key not in self.ids:
                self.ids.add(key)
                return key

    def salesforce_id(self) -> str:
        """An 18-character Account id: key prefix, pod, 9 base-62 digits, case checksum."""
        while True:
            body = "0018d0" + "".join(self.rng.choices(_B62, k=9))
            checksum = ""
            for chunk in (body[0:5], body[5:10], body[10:15]):
                bits = sum(1 << i for i, c in enumerate(chunk) if "A" <= c <= "Z")
                checksum += _SF_CHECKSUM[bits]
            key = body + checksum
            if key not in self.ids:
                self.ids.add(key)
                return key

    def fresh_int(self, low: int, high: int) -> int:
        while True:
            n = self.rng.randint(low, high)
            if n not in self.ints:
                self.ints.add(n)
                return n

    def claim_email(self, local: str, domain: str) -> str:
        email = f"{local}@{domain}"
        n = 2
        while email in self.emails:
            email = f"{local}{n}@{domain}"
            n += 1
        self.emails.add(email)
        return email


def ascii_fold(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def tokens(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", ascii_fold(text).lower().replace("&", " and "))


def fill(rng: random.Random, pattern: str) -> str:
    out = []
    for ch in pattern:
        if ch == "#":
            out.append(str(rng.randrange(10)))
        elif ch == "N":
            out.append(str(rng.randrange(2, 10)))
        elif ch == "@":
            out.append(rng.choice(_POSTCODE_LETTERS))
        else:
            out.append(ch)
    return "".join(out)


def _street(rng: random.Random, country: str) -> str:
    name = rng.choice(STREET_NAMES[country])
    n = rng.randint(1, 240)
    if country in ("GB", "IE"):
        kind = rng.choice(("Street", "Street", "Road", "Lane", "Square", "Place", "Row"))
        street = f"{n} {name} {kind}"
        return f"Unit {rng.randint(1, 20)}, {street}" if rng.random() < 0.15 else street
    if country == "US":
        kind = rng.choice(("Street", "Avenue", "Boulevard", "St", "Ave"))
        street = f"{n} {name} {kind}"
        return f"{street} Suite {rng.randint(1, 9)}00" if rng.random() < 0.3 else street
    if country == "DE":
        kind = rng.choice(("straße", "straße", "weg", "platz", "allee"))
        return f"{name}{kind} {n}"
    if country == "FR":
        kind = rng.choice(("rue", "rue", "avenue", "boulevard"))
        return f"{n} {kind} {name}"
    if country == "JP":
        return f"{rng.randint(1, 9)}-{rng.randint(1, 20)}-{rng.randint(1, 30)} {name}"
    return f"{name} {n}"


def _brand(rng: random.Random, reg: Registry, culture: str) -> tuple[str, str]:
    """A new, unused company name (without legal form) and its industry."""
    local = LOCAL_PREFIXES[culture]
    for attempt in range(200):
        sector = rng.choice(_SECTOR_WORDS)
        prefix = rng.choice(local) if local and rng.random() < 0.35 else rng.choice(PREFIXES)
        surnames = LAST_NAMES[culture]
        r = rng.random()
        if r < 0.62:
            name = f"{prefix} {sector}"
        elif r < 0.77:
            name = f"{rng.choice(surnames)} {sector}"
        elif r < 0.85:
            a, b = rng.sample(surnames, 2)
            name, sector = f"{a} & {b}", rng.choice(("Consulting", "Partners", "Finance"))
        elif r < 0.92 or attempt > 100:
            name = f"{prefix} {rng.choice(PREFIXES)} {sector}"
        else:
            name = prefix
            sector = rng.choice(_SECTOR_WORDS)
        if name.casefold() not in reg.brands:
            reg.brands.add(name.casefold())
            return name, SECTORS[sector]
    raise RuntimeError("company name space exhausted")  # pragma: no cover


def domain_for(rng: random.Random, reg: Registry, name: str, country: Country) -> str:
    words = [w for w in tokens(name) if w != "and"] or ["company"]
    tld = country.tlds[0] if rng.random() < 0.7 else rng.choice(country.tlds)
    stems = ["".join(words), "-".join(words)]
    if len(words) > 1 and len(words[0]) >= 5:
        stems.insert(0 if rng.random() < 0.4 else 2, words[0])
    for n in range(1000):
        for stem in stems:
            candidate = f"{stem}{n or ''}.{tld}"
            if candidate not in reg.domains:
                reg.domains.add(candidate)
                return candidate
    raise RuntimeError("domain space exhausted")  # pragma: no cover


def _phone(rng: random.Random, reg: Registry, city: City) -> tuple[str, ...]:
    for _ in range(50):
        phone = tuple(fill(rng, city.phone).split(" "))
        if phone not in reg.phones:
            break
    reg.phones.add(phone)
    return phone


def _place(rng: random.Random, reg: Registry, acc: Account, city: City | None = None) -> None:
    acc.city = city or rng.choice(acc.country.cities)
    acc.street = _street(rng, acc.country.code)
    acc.postcode = fill(rng, rng.choice(acc.city.postcodes))
    acc.phone = _phone(rng, reg, acc.city)


def _new_account(rng: random.Random, reg: Registry, index: int, start: int, end: int) -> Account:
    code = rng.choices(list(COUNTRY_WEIGHTS), weights=list(COUNTRY_WEIGHTS.values()))[0]
    country = COUNTRIES[code]
    brand, industry = _brand(rng, reg, country.culture)
    suffix = rng.choice(country.suffixes)
    domain = domain_for(rng, reg, brand, country)
    acc = Account(
        index=index,
        country=country,
        city=country.cities[0],
        street="",
        postcode="",
        phone=(),
        brand=brand,
        suffix=suffix,
        legal_name=f"{brand} {suffix}",
        web_domain=domain,
        email_domain=domain,
        industry=industry,
        created=rng.randint(start, end - 21 * DAY),
    )
    _place(rng, reg, acc)
    return acc


def _move(rng: random.Random, reg: Registry, acc: Account, country: Country) -> None:
    """Relocate an account to ``country``, with that country's legal form and web domain."""
    if acc.country is not country:
        acc.country = country
        acc.suffix = rng.choice(country.suffixes)
        acc.legal_name = f"{acc.brand} {acc.suffix}"
        acc.web_domain = acc.email_domain = domain_for(rng, reg, acc.brand, country)
    _place(rng, reg, acc)


def _near_brand(brand: str) -> str:
    words = brand.split(" ")
    last = words[-1]
    if last in NEAR_SECTORS:
        return " ".join([*words[:-1], NEAR_SECTORS[last]])
    first = words[0]
    words[0] = first[:-1] if first.endswith("s") else first + "s"
    return " ".join(words)


def _person(rng: random.Random, reg: Registry, culture: str, domain: str, fmt: str) -> Person:
    first = rng.choice(FIRST_NAMES[culture])
    last = rng.choice(LAST_NAMES[culture])
    f, surname = "".join(tokens(first)), "".join(tokens(last))
    local = {
        "first.last": f"{f}.{surname}",
        "flast": f"{f[0]}{surname}",
        "firstl": f"{f}{surname[0]}",
        "first_last": f"{f}_{surname}",
        "first": f,
    }[fmt]
    email = reg.claim_email(local, domain)
    return Person(first, last, email, reg.fresh_int(360_000_000_000, 399_999_999_999))


def free_mail_address(rng: random.Random, reg: Registry, person: Person) -> str:
    if person.free_mail is None:
        f, last = "".join(tokens(person.first)), "".join(tokens(person.last))
        local = rng.choice((f"{f}.{last}", f"{f}{last}{rng.randint(1, 99)}", f"{f[0]}{last}"))
        person.free_mail = reg.claim_email(local, rng.choice(FREE_MAIL_DOMAINS))
    return person.free_mail


def outsider(rng: random.Random, reg: Registry, culture: str, domain: str) -> Person:
    """Someone who is not on the account's staff, writing from ``domain``."""
    return _person(rng, reg, culture, domain, "first.last")


class _Pool:
    """Disjoint draws of accounts for the hard cases."""

    def __init__(self, rng: random.Random, accounts: list[Account]) -> None:
        self.free = list(accounts)
        rng.shuffle(self.free)

    def take(self, n: int) -> list[Account] | None:
        if len(self.free) < n:
            return None
        taken, self.free = self.free[:n], self.free[n:]
        return taken


def _groups(n_accounts: int, share: float) -> int:
    return max(1, round(n_accounts * share))


def _show(*accounts: Account) -> None:
    """A hard case must reach the CRM and billing, or there is nothing to confuse."""
    for acc in accounts:
        acc.in_crm = acc.in_billing = True


def _apply_hard_cases(rng: random.Random, reg: Registry, accounts: list[Account]) -> None:
    n = len(accounts)
    pool = _Pool(rng, accounts)

    for _ in range(_groups(n, 0.012)):  # near_name: two companies, one letter apart
        pair = pool.take(2)
        if pair is None:
            break
        a, b = pair
        near = _near_brand(a.brand)
        if near.casefold() in reg.brands:
            continue
        reg.brands.add(near.casefold())
        b.country, b.brand, b.industry = a.country, near, a.industry
        b.suffix = rng.choice(b.country.suffixes)
        b.legal_name = f"{near} {b.suffix}"
        b.web_domain = b.email_domain = domain_for(rng, reg, near, b.country)
        others = [c for c in b.country.cities if c != a.city]
        _place(rng, reg, b, rng.choice(others))
        a.kind = b.kind = "near_name"
        _show(a, b)

    for _ in range(_groups(n, 0.008)):  # franchise: one brand, one site, several owners
        group = pool.take(3)
        if group is None:
            break
        head = group[0]
        base, country, site = head.brand, head.country, head.web_domain
        for member, city in zip(group, rng.sample(country.cities, 3), strict=True):
            member.country, member.industry = country, head.industry
            _place(rng, reg, member, city)
            member.brand = f"{base} {city.name}"
            reg.brands.add(member.brand.casefold())
            member.suffix = rng.choice(country.suffixes)
            member.legal_name = f"{member.brand} {member.suffix}"
            member.web_domain, member.website_path = site, "/" + "-".join(tokens(city.name))
            member.email_domain = domain_for(rng, reg, member.brand, country)
            member.kind = "franchise"
        _show(*group)

    for _ in range(_groups(n, 0.012)):  # subsidiary_domain: staff mail on the parent's domain
        pair = pool.take(2)
        if pair is None:
            break
        parent, sub = pair
        _move(rng, reg, sub, parent.country)
        sub.email_domain, sub.web_domain = parent.email_domain, parent.web_domain
        sub.website_path = "/" + tokens(sub.brand)[0]
        parent.kind = sub.kind = "subsidiary_domain"
        _show(parent, sub)
        parent.in_support = sub.in_support = True

    for _ in range(_groups(n, 0.012)):  # shared_address: two tenants of one building
        pair = pool.take(2)
        if pair is None:
            break
        a, b = pair
        _move(rng, reg, b, a.country)
        b.city, b.street, b.postcode = a.city, a.street, a.postcode
        b.phone = _phone(rng, reg, b.city)
        a.kind = b.kind = "shared_address"
        _show(a, b)

    for _ in range(_groups(n, 0.02)):  # trading_name: CRM holds the legal name only
        taken = pool.take(1)
        if taken is None:
            break
        (acc,) = taken
        surname = rng.choice(LAST_NAMES[acc.country.culture])
        holding = f"{surname} {rng.choice(HOLDING_WORDS)}"
        if holding.casefold() in reg.brands:
            holding = f"{surname} {acc.brand.split(' ')[0]} {rng.choice(HOLDING_WORDS)}"
        reg.brands.add(holding.casefold())
        acc.legal_name = f"{holding} {acc.suffix}"
        acc.kind = "trading_name"
        _show(acc)

    for _ in range(_groups(n, 0.02)):  # rebrand: new name and domain reached billing only
        taken = pool.take(1)
        if taken is None:
            break
        (acc,) = taken
        old_words = set(tokens(acc.brand))
        for _ in range(20):  # a new name that shares no word with the old one
            new_brand, _ = _brand(rng, reg, acc.country.culture)
            if not old_words & set(tokens(new_brand)):
                break
        acc.billing_brand = new_brand
        acc.billing_domain = domain_for(rng, reg, new_brand, acc.country)
        acc.kind = "rebrand"
        _show(acc)

    for _ in range(_groups(n, 0.02)):  # duplicate: the CRM holds the company twice
        taken = pool.take(1)
        if taken is None:
            break
        (acc,) = taken
        acc.crm_copies, acc.in_crm = 2, True
        acc.kind = "duplicate"


def build_accounts(rng: random.Random, reg: Registry, n: int, difficulty: str, start: int, end: int) -> list[Account]:
    """The ground truth: ``n`` accounts, their presence in each source, and their people."""
    accounts = [_new_account(rng, reg, i + 1, start, end) for i in range(n)]
    for acc in accounts:
        if difficulty != "easy":
            acc.in_crm = rng.random() < 0.95
            acc.in_billing = not acc.in_crm or rng.random() < 0.9
        acc.in_support = rng.random() < 0.7
        acc.in_product = rng.random() < 0.85
    if difficulty == "hard":
        _apply_hard_cases(rng, reg, accounts)
    for acc in accounts:
        fmt = rng.choice(_EMAIL_FORMATS)
        culture = acc.country.culture
        acc.people = [_person(rng, reg, culture, acc.email_domain, fmt) for _ in range(rng.randint(2, 9))]
        acc.crm_ids = [reg.salesforce_id() for _ in range(acc.crm_copies)] if acc.in_crm else []
    return accounts
