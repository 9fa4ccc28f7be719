"""Who is signed in to the web app: a signed session cookie, roles from the consumer's rights, CSRF.

A person signs in with a consumer's API key (or, when JWTs are configured for the API, a token
naming a consumer). The cookie holds no secret: the consumer, how it signed in, when it expires,
a random session id and, for a key, a keyed fingerprint of the key's stored hash, so that a key
revoked a moment ago ends every session opened with it. It is signed with HMAC-SHA256 under
``C360_WEB_SECRET`` (at least 32 bytes) or, by default, a sub-key of the store's audit key, so
every worker and restart agrees without new configuration.

Roles come from the consumer's ``rights`` in the spec, read on every request: ``owner`` (everything),
``steward`` (the review queue, customers), ``dpo`` (the audit log, erasure) and ``viewer`` (the
product's pages). A consumer holding none of them cannot sign in (deny by default).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass
from typing import Any, Literal

import jwt as pyjwt
import orjson

from c360.api.auth import MIN_SECRET_BYTES, AuthFailed, JwtVerifier, weak_secret
from c360.core.ids import hash_key
from c360.governance.audit import audit_key
from c360.spec.models import ProductSpec
from c360.store import Store, keys

Role = Literal["owner", "steward", "dpo", "viewer"]
ROLES: tuple[Role, ...] = ("owner", "steward", "dpo", "viewer")
COOKIE = "c360_session"
LOGIN_COOKIE = "c360_login"
SESSION_SECONDS = 8 * 3600


def roles_of(product: ProductSpec, consumer: str) -> frozenset[Role]:
    """The web roles a consumer's rights give it; an owner holds every role."""
    spec = product.consumers.get(consumer)
    if spec is None:
        return frozenset()
    held = {str(r) for r in spec.rights}
    if "owner" in held:
        return frozenset(ROLES)
    return frozenset(r for r in ROLES if r in held)


@dataclass(frozen=True)
class User:
    """The signed-in person, as the consumer whose credential they presented."""

    consumer: str
    roles: frozenset[Role]
    method: str  # key | jwt
    sid: str
    expires: float
    csrf: str

    def can(self, role: Role) -> bool:
        return "owner" in self.roles or role in self.roles

    @property
    def actor(self) -> str:
        """How the audit log names this person's actions."""
        return f"web:{self.consumer}"

    @property
    def role_label(self) -> str:
        return ", ".join(r for r in ROLES if r in self.roles)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Sessions:
    """Signs, reads and re-checks session cookies, and makes CSRF tokens."""

    def __init__(
        self, store: Store, product: ProductSpec, jwt: JwtVerifier | None, secret: bytes | None = None
    ) -> None:
        self.store = store
        self.product = product
        self.jwt = jwt
        env = os.environ.get("C360_WEB_SECRET")
        if secret is None and env:
            if len(env.encode()) < MIN_SECRET_BYTES:
                weak_secret("the web session secret (C360_WEB_SECRET)", len(env.encode()))
            secret = env.encode()
        self._secret = secret if secret is not None else audit_key(store.engine).derive("web-session")

    # -- signing ----------------------------------------------------------------------------
    def _mac(self, purpose: str, data: bytes) -> bytes:
        return hmac.new(self._secret, purpose.encode() + b"\x1f" + data, hashlib.sha256).digest()

    def sign(self, payload: dict[str, Any]) -> str:
        body = orjson.dumps(payload)
        return _b64(body) + "." + _b64(self._mac("session", body))

    def unsign(self, value: str) -> dict[str, Any] | None:
        body_text, sep, mac_text = value.partition(".")
        if not sep:
            return None
        try:
            body, mac = _unb64(body_text), _unb64(mac_text)
        except (ValueError, TypeError):
            return None
        if not hmac.compare_digest(mac, self._mac("session", body)):
            return None
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
        return data if isinstance(data, dict) else None

    def csrf_for(self, sid: str) -> str:
        return _b64(self._mac("csrf", sid.encode()))[:32]

    def login_token(self, nonce: str) -> str:
        """The sign-in form's CSRF token, bound to the pre-session cookie's nonce."""
        return _b64(self._mac("login", nonce.encode()))[:32]

    def check_csrf(self, user: User, sent: str | None) -> bool:
        return bool(sent) and hmac.compare_digest(str(sent).encode(), user.csrf.encode())

    def check_login_token(self, nonce: str | None, sent: str | None) -> bool:
        if not nonce or not sent:
            return False
        return hmac.compare_digest(sent.encode(), self.login_token(nonce).encode())

    def _fingerprint(self, key_hash: str) -> str:
        return _b64(self._mac("key", key_hash.encode()))[:32]

    # -- signing in -------------------------------------------------------------------------
    def authenticate(self, credential: str) -> tuple[str, str, float, str]:
        """(consumer, method, expires, fingerprint) for a key or token; raises :class:`AuthFailed`."""
        credential = credential.strip()
        if not credential:
            raise AuthFailed("enter a consumer's API key")
        now = time.time()
        consumer = self.store.consumer_for_key(credential)
        if consumer is not None:
            return consumer, "key", now + SESSION_SECONDS, self._fingerprint(hash_key(credential))
        if self.jwt is not None and credential.count(".") == 2:
            consumer = self.jwt.consumer(credential)  # verified: signature, expiry, issuer, audience
            exp = float(pyjwt.decode(credential, options={"verify_signature": False}).get("exp", now))
            return consumer, "jwt", min(now + SESSION_SECONDS, exp), ""
        raise AuthFailed("the key is unknown, revoked or expired")

    def open(self, consumer: str, method: str, expires: float, fingerprint: str) -> str:
        """A new signed session cookie value."""
        return self.sign({"c": consumer, "m": method, "e": expires, "s": secrets.token_urlsafe(16), "k": fingerprint})

    def user(self, cookie: str | None) -> User | None:
        """The session's user, re-checked: signature, expiry, key still active, roles now held."""
        if not cookie:
            return None
        data = self.unsign(cookie)
        if data is None:
            return None
        consumer, method, expires, sid = data.get("c"), data.get("m"), data.get("e"), data.get("s")
        if not (isinstance(consumer, str) and isinstance(sid, str) and isinstance(expires, int | float)):
            return None
        if expires <= time.time():
            return None
        if method == "key" and not self._key_active(consumer, str(data.get("k") or "")):
            return None
        if method not in ("key", "jwt"):
            return None
        roles = roles_of(self.product, consumer)
        if not roles:
            return None
        return User(consumer, roles, str(method), sid, float(expires), self.csrf_for(sid))

    def _key_active(self, consumer: str, fingerprint: str) -> bool:
        if not fingerprint:
            return False
        now = time.time()
        for key_hash, expires_at in keys.active_of(self.store, consumer):
            if expires_at is not None and expires_at.timestamp() <= now:
                continue
            if hmac.compare_digest(self._fingerprint(key_hash), fingerprint):
                return True
        return False
