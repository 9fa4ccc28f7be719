"""Identity attributes: one record's raw values normalised for matching, and the normalisers."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from c360.identity.domains import corporate_domain, email, is_free_mail, registrable_domain
from c360.identity.folding import as_text
from c360.identity.names import (
    COMMON_NAME_WORDS,
    TermFrequencies,
    company_name,
    name_similarity,
    name_tokens,
    person_name,
)
from c360.identity.persons import PersonName, date_of_birth, is_relay, person_parts
from c360.identity.phones import phone
from c360.identity.places import address, city, country, postcode

__all__ = [
    "ATTRIBUTE_NAMES",
    "COMMON_NAME_WORDS",
    "IdentityAttributes",
    "TermFrequencies",
    "address",
    "city",
    "company_name",
    "corporate_domain",
    "country",
    "email",
    "is_free_mail",
    "name_similarity",
    "name_tokens",
    "normalise_attributes",
    "person_name",
    "phone",
    "postcode",
    "registrable_domain",
]

# The keys normalise_attributes reads. Explicit cross-references (a Stripe customer's
# metadata.crm_account_id, say) are trusted keys, not attributes: callers carry them as-is.
ATTRIBUTE_NAMES: tuple[str, ...] = (
    "name",
    "web_domain",
    "email",
    "phone",
    "address",
    "postcode",
    "city",
    "country",
    "person_name",
    "first_name",
    "last_name",
    "dob",
)

# Attributes a record may carry several of (a second e-mail, a mobile beside a landline).
MULTI_VALUED: frozenset[str] = frozenset({"email", "phone"})


@dataclass(frozen=True, slots=True)
class IdentityAttributes:
    """One source record projected onto the attributes identity resolution compares.

    Every field is None when the record had no usable value for it. ``email_domain`` is the
    corporate domain of ``email``: None for free mail, which is never company evidence.
    """

    name: str | None = None
    name_tokens: tuple[str, ...] | None = None
    web_domain: str | None = None
    email: str | None = None
    email_domain: str | None = None
    phone: str | None = None
    address: str | None = None
    postcode: str | None = None
    city: str | None = None
    country: str | None = None
    person_name: str | None = None
    # A person's name by parts (person grain compares them one by one), and more of their own.
    given_name: str | None = None
    family_name: str | None = None
    generation: str | None = None  # jr, sr, ii, ...
    dob: str | None = None  # ISO date of birth
    emails: tuple[str, ...] = ()  # every address, ``email`` first
    phones: tuple[str, ...] = ()  # every number, ``phone`` first
    refused: tuple[str, ...] = ()  # weak or missing evidence: "dob in the future", a relay address, ...


def normalise_attributes(raw: Mapping[str, Any], *, default_region: str | None = None) -> IdentityAttributes:
    """Normalise one record's raw identity values (keys from ``ATTRIBUTE_NAMES``).

    Keys outside ``ATTRIBUTE_NAMES`` are ignored. Values may be strings, numbers (a phone or
    postcode read as a number) or None; anything else counts as missing. Phones without an
    international prefix are read in the record's own country, else in ``default_region``;
    the postcode is formatted for the record's country.

    >>> attrs = normalise_attributes({"name": "Acme Ltd", "email": "Jo@ACME.com", "country": "UK"})
    >>> attrs.name, attrs.email_domain, attrs.country
    ('acme', 'acme.com', 'GB')
    """
    values = {key: as_text(_first(raw.get(key))) for key in ATTRIBUTE_NAMES}
    country_code = _shared(country(values["country"]))
    normalised_name = _shared(company_name(values["name"]))
    read_emails, read_phones = _contacts(raw, country_code or default_region)
    emails, phones = _distinct(read_emails), _distinct(read_phones)
    normalised_email = emails[0] if emails else None
    parts = person_parts(values["person_name"], values["first_name"], values["last_name"])
    full_name = _full_name(values["person_name"], values["first_name"], values["last_name"])
    dob, why = date_of_birth(_first(raw.get("dob")))
    # The values one company's records repeat (its name, domain, phone, address) are shared
    # strings: a million records hold each once, not once per record.
    return IdentityAttributes(
        name=normalised_name,
        name_tokens=tuple(sys.intern(t) for t in normalised_name.split()) if normalised_name else None,
        web_domain=_shared(corporate_domain(values["web_domain"])),
        email=normalised_email,
        email_domain=_shared(corporate_domain(normalised_email)),
        phone=phones[0] if phones else None,
        address=_shared(address(values["address"])),
        postcode=_shared(postcode(values["postcode"], country_code)),
        city=_shared(city(values["city"])),
        country=country_code,
        person_name=full_name,
        given_name=parts.given if parts else None,
        family_name=parts.family if parts else None,
        generation=parts.generation if parts else None,
        dob=dob,
        emails=emails,
        phones=phones,
        refused=_refused(why, read_emails, read_phones, emails, parts),
    )


def _contacts(raw: Mapping[str, Any], region: str | None) -> tuple[list[str | None], list[str | None]]:
    """Every e-mail address and phone number read, None for each one unreadable or a placeholder."""
    email_texts = [t for t in (as_text(v) for v in _many(raw.get("email"))) if t and t.strip()]
    phone_texts = [t for t in (as_text(v) for v in _many(raw.get("phone"))) if t and t.strip()]
    read_emails = [email(t) for t in email_texts]
    read_phones = [_shared(phone(t, region)) for t in phone_texts]
    return read_emails, read_phones


def _full_name(full: str | None, first: str | None, last: str | None) -> str | None:
    """The person's full name, normalised: as written whole, else from its parts."""
    if full:
        return person_name(full)
    if first or last:
        return person_name(" ".join(v for v in (first, last) if v))
    return None


def _refused(
    why: str | None,
    read_emails: list[str | None],
    read_phones: list[str | None],
    emails: tuple[str, ...],
    parts: PersonName | None,
) -> tuple[str, ...]:
    """Weak or missing evidence, each with its reason."""
    refused = [f"dob {why}"] if why else []
    refused += ["email not an address, or a placeholder" for e in read_emails if e is None]
    refused += ["phone unreadable, or a placeholder" for p in read_phones if p is None]
    refused += ["email a relay address, never found elsewhere" for e in emails if is_relay(e)]
    if parts and all(p is None or len(p.replace(" ", "")) == 1 for p in (parts.given, parts.family)):
        refused.append("name only initials")
    return tuple(refused)


def _first(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return next((v for v in value if v not in (None, "")), None)
    return value


def _many(value: Any) -> list[Any]:
    if isinstance(value, list | tuple):
        return [v for v in value if v not in (None, "")]
    return [] if value in (None, "") else [value]


def _distinct(values: Any) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in values if v))


def _shared(value: str | None) -> str | None:
    return sys.intern(value) if value is not None else None
