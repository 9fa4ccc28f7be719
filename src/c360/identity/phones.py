"""Telephone numbers in E.164 form."""

from __future__ import annotations

import phonenumbers

from c360.identity.places import country

_MIN_DIGITS = 6
_MAX_INPUT = 64


def phone(raw: str | None, default_region: str | None = None) -> str | None:
    """A valid telephone number in E.164 form (``+442079460958``), or None.

    Numbers without an international prefix are read in ``default_region`` (any form
    :func:`~c360.identity.places.country` understands: ``"GB"``, ``"UK"``, ``"Germany"``).
    Numbers of a length impossible for their country, too short, or a single repeated digit
    (``0000``, ``123``, ``+1 111 111 1111``) give None; numbers of a possible length outside
    the ranges allocated today are kept; extensions are dropped.
    """
    if not isinstance(raw, str) or len(raw) > _MAX_INPUT:
        return None
    digits = [c for c in raw if c.isdigit()]
    if len(digits) < _MIN_DIGITS or len(set(digits)) == 1:
        return None
    region = country(default_region) if default_region else None
    try:
        number = phonenumbers.parse(raw, region)
    except Exception:  # phonenumbers raises NumberParseException and, on odd input, others
        return None
    # Numbers outside the allocated ranges (555 exchanges, new ranges the metadata does not
    # know yet) still identify a line when their length is possible for the country.
    if not phonenumbers.is_valid_number(number) and not phonenumbers.is_possible_number(number):
        return None
    national = str(number.national_number)
    if len(set(national)) == 1:
        return None
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
