"""Identifiers c360 mints: customer ids and consumer keys."""

from __future__ import annotations

import hashlib
import secrets

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case


def new_customer_id() -> str:
    """A fresh surrogate id such as ``c_8k2m4q7r9t1v``: random, so it carries no meaning."""
    n = secrets.randbits(60)
    chars = []
    for _ in range(12):
        n, r = divmod(n, 32)
        chars.append(_ALPHABET[r])
    return "c_" + "".join(chars)


def new_api_key(consumer: str) -> str:
    """A bearer key: shown once, stored only as :func:`hash_key`."""
    return f"c360_{consumer}_{secrets.token_urlsafe(24)}"


def hash_key(key: str) -> str:
    # Keys are 192-bit random tokens, so a plain SHA-256 is not brute-forceable.
    return hashlib.sha256(key.encode()).hexdigest()
