"""Identity normalisation throughput: company names, e-mails and domains, normalisations/s.

Generates N company names and N e-mail addresses (seeded, mostly distinct, about a third
free mail) and times each normaliser over them once with its caches cleared (every value
new) and once more warm (every value seen before, as in a re-run over the same sources).

    python benchmarks/identity_normalise.py --records 100000
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable, Sequence
from typing import Any

from c360.identity import domains, names
from c360.identity.normalise import company_name, corporate_domain, email, normalise_attributes, registrable_domain

WORDS = (
    "acme", "northwind", "contoso", "fabrikam", "initech", "umbrella", "globex", "hooli",
    "vandelay", "wayne", "stark", "tyrell", "cyberdyne", "soylent", "wonka", "gringotts",
    "monarch", "oceanic", "massive", "dynamic", "aperture", "black", "mesa", "blue", "sun",
    "zenith", "apex", "summit", "pioneer", "harbour", "meridian", "lumen", "quantum",
    "nestlé", "ørsted", "société", "générale", "müller", "straße",
)  # fmt: skip
COMMON = (
    "global", "solutions", "systems", "group", "holdings", "services", "trading",
    "international", "the",
)  # fmt: skip
LEGAL = ["Ltd", "Limited", "Inc.", "GmbH", "S.A.", "LLC", "PLC", "& Co. KG", "Pty Ltd", ""]
FREE = ["gmail.com", "outlook.com", "yahoo.co.uk", "hotmail.com", "proton.me"]
TLDS = ["com", "co.uk", "de", "io", "fr", "com.au"]


def generate(n: int, seed: int = 7) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    company_names: list[str] = []
    emails: list[str] = []
    for i in range(n):
        words = [rng.choice(WORDS).title() for _ in range(rng.randint(1, 2))]
        if rng.random() < 0.5:
            words.append(rng.choice(COMMON).title())
        name = " ".join([*words, f"{i % 9973}", rng.choice(LEGAL)]).strip()
        company_names.append(name.upper() if rng.random() < 0.1 else name)
        user = f"{rng.choice(WORDS)}.{i}"
        if rng.random() < 0.33:
            host = rng.choice(FREE)
        else:
            host = f"{rng.choice(['', 'mail.', 'eu.'])}{words[0].lower()}{i % 5003}.{rng.choice(TLDS)}"
        emails.append(f" {user.title()}@{host} ")
    return company_names, emails


def clear_caches() -> None:
    names.company_name.cache_clear()
    domains._registrable.cache_clear()


def rate(fn: Callable[[Any], object], values: Sequence[Any]) -> float:
    start = time.perf_counter()
    for value in values:
        fn(value)
    return len(values) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    args = parser.parse_args()

    company_names, emails = generate(args.records)
    records = [{"name": n, "email": e} for n, e in zip(company_names, emails, strict=True)]
    registrable_domain("warm.up.example.com")  # load the public-suffix list outside the timing
    cases: list[tuple[str, Callable[[Any], object], Sequence[Any]]] = [
        ("company_name", company_name, company_names),
        ("email", email, emails),
        ("registrable_domain", registrable_domain, emails),
        ("corporate_domain", corporate_domain, emails),
        ("normalise_attributes (name+email)", normalise_attributes, records),
    ]
    print(f"{args.records:,} generated names and e-mails")
    print(f"{'normaliser':36} {'cold /s':>12} {'warm /s':>12}")
    for label, fn, values in cases:
        clear_caches()
        cold = rate(fn, values)
        warm = rate(fn, values)
        print(f"{label:36} {cold:12,.0f} {warm:12,.0f}")


if __name__ == "__main__":
    main()
