"""Who is calling: a consumer's API key (stored only as a hash) or a signed JWT bearer token.

JWTs are optional and configured from the environment or a small YAML/JSON file
named by ``C360_AUTH_CONFIG``::

    C360_JWT_ISSUER=https://idp.example.com/     # required claim iss
    C360_JWT_AUDIENCE=c360                       # required claim aud
    C360_JWT_SECRET=...                          # HS256, or
    C360_JWT_PUBLIC_KEY_FILE=/etc/c360/idp.pem   # RS256, or
    C360_JWT_JWKS_FILE=/etc/c360/jwks.json       # RS256 keys selected by the token's kid
    C360_JWT_CLAIM=c360_consumer                 # the claim naming the consumer (default)

A token is checked for signature, expiry, issuer and audience; the consumer it names
must exist in the spec to see anything (deny by default).
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import yaml
from pydantic import BaseModel, ConfigDict, SecretStr

from c360.core.errors import C360Error
from c360.core.ids import hash_key

log = logging.getLogger("c360.api")

# HS256 wants a key at least as long as its hash (RFC 7518 §3.2); the mask key likewise.
MIN_SECRET_BYTES = 32


def weak_secret(what: str, length: int) -> None:
    """Warn, loudly, of a secret short enough to guess: tokens or masks made with it can be forged."""
    log.warning(
        "%s is %d byte(s) long; use at least %d random bytes (e.g. `openssl rand -hex 32`): "
        "a short secret can be guessed",
        what,
        length,
        MIN_SECRET_BYTES,
    )


class AuthFailed(Exception):
    """The bearer credential is missing, unknown, revoked, expired or badly signed."""

    def __init__(self, message: str, error: str = "invalid_token") -> None:
        self.message = message
        self.error = error
        super().__init__(message)


class JwtConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    issuer: str
    audience: str
    secret: SecretStr | None = None
    public_key_file: Path | None = None
    jwks_file: Path | None = None
    consumer_claim: str = "c360_consumer"
    leeway_seconds: int = 30

    @classmethod
    def load(cls, environ: dict[str, str] | None = None) -> JwtConfig | None:
        """From ``C360_AUTH_CONFIG`` (a file) or ``C360_JWT_*`` variables; None if unset."""
        env = dict(os.environ if environ is None else environ)
        data: dict[str, Any] = {}
        path = env.get("C360_AUTH_CONFIG")
        if path:
            try:
                loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
            except OSError as exc:
                raise C360Error(f"cannot read C360_AUTH_CONFIG {path}: {exc.strerror}") from None
            section = loaded.get("jwt", loaded) if isinstance(loaded, dict) else None
            if not isinstance(section, dict):
                raise C360Error(f"C360_AUTH_CONFIG {path}: expected a mapping of JWT settings")
            data = dict(section)
        for name, key in (
            ("ISSUER", "issuer"),
            ("AUDIENCE", "audience"),
            ("SECRET", "secret"),
            ("PUBLIC_KEY_FILE", "public_key_file"),
            ("JWKS_FILE", "jwks_file"),
            ("CLAIM", "consumer_claim"),
        ):
            if env.get(f"C360_JWT_{name}"):
                data[key] = env[f"C360_JWT_{name}"]
        if not data:
            return None
        cfg = cls.model_validate(data)
        if sum(x is not None for x in (cfg.secret, cfg.public_key_file, cfg.jwks_file)) != 1:
            raise C360Error(
                "JWT configuration needs exactly one of secret (HS256), public_key_file (RS256) or jwks_file (RS256)"
            )
        if cfg.secret is not None and len(cfg.secret.get_secret_value().encode()) < MIN_SECRET_BYTES:
            weak_secret("the JWT secret (C360_JWT_SECRET)", len(cfg.secret.get_secret_value().encode()))
        return cfg


class JwtVerifier:
    """Verifies tokens against one issuer; decoded tokens are cached until they expire."""

    def __init__(self, config: JwtConfig) -> None:
        self.config = config
        self._cache: dict[str, tuple[str, float]] = {}
        self._keys: dict[str, Any] = {}
        self._key: Any = None
        if config.secret is not None:
            self._key, self._algorithms = config.secret.get_secret_value(), ["HS256"]
        elif config.public_key_file is not None:
            self._key, self._algorithms = (config.public_key_file.read_text(encoding="utf-8"), ["RS256"])
        else:
            assert config.jwks_file is not None
            jwks = jwt.PyJWKSet.from_dict(json.loads(config.jwks_file.read_text(encoding="utf-8")))
            self._keys = {k.key_id or "": k.key for k in jwks.keys}
            self._algorithms = ["RS256"]

    def consumer(self, token: str) -> str:
        hit = self._cache.get(token)
        now = time.time()
        if hit is not None and hit[1] > now:
            return hit[0]
        key = self._key
        try:
            if self._keys:
                kid = jwt.get_unverified_header(token).get("kid") or ""
                key = self._keys.get(kid)
                if key is None:
                    raise AuthFailed("the token's signing key is not known")
            claims = jwt.decode(
                token,
                key,
                algorithms=self._algorithms,
                audience=self.config.audience,
                issuer=self.config.issuer,
                leeway=self.config.leeway_seconds,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise AuthFailed("the token has expired") from None
        except jwt.InvalidTokenError as exc:
            raise AuthFailed(f"the token is not valid: {exc}") from None
        consumer = claims.get(self.config.consumer_claim)
        if not isinstance(consumer, str) or not consumer:
            raise AuthFailed(f"the token has no '{self.config.consumer_claim}' claim")
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[token] = (consumer, float(claims["exp"]))
        return consumer


@dataclass
class Authenticator:
    """Bearer credential → consumer: an API key by its hash (a dict hit), else a JWT."""

    keys: dict[str, tuple[str, float | None]]
    jwt: JwtVerifier | None = None

    def consumer(self, authorization: str | None) -> str:
        if not authorization:
            raise AuthFailed("send 'Authorization: Bearer <key>'", error="")
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise AuthFailed("send 'Authorization: Bearer <key>'", error="")
        hit = self.keys.get(hash_key(token))
        if hit is not None:
            consumer, expires = hit
            if expires is not None and expires <= time.time():
                raise AuthFailed("the key is unknown, revoked or expired")
            return consumer
        if self.jwt is not None and token.count(".") == 2:
            return self.jwt.consumer(token)
        raise AuthFailed("the key is unknown, revoked or expired")
