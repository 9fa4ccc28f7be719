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


KEY_PREFIX_CHARS = 12


def key_prefix(key: str, consumer: str) -> str:
    """What identifies a key to people without revealing it: the start of its random part.

    The consumer's name is the same on all its keys, so it cannot tell two keys apart.

    >>> key_prefix("c360_churn_model_AbCdEfGhIjKlMnOpQrStUvWx", "churn_model")
    'AbCdEfGhIjKl'
    """
    return key.removeprefix(f"c360_{consumer}_")[:KEY_PREFIX_CHARS]


def shown_prefix(prefix: str, consumer: str) -> str:
    """A stored prefix as ``consumers list`` shows it (keys made before 0.x stored ``c360_<name>``)."""
    return prefix if prefix.startswith("c360_") else f"c360_{consumer}_{prefix}"


def hash_key(key: str) -> str:
    # Keys are 192-bit random tokens, so a plain SHA-256 is not brute-forceable.
    return hashlib.sha256(key.encode()).hexdigest()
