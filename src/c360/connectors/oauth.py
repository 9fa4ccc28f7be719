"""Access tokens that renew themselves: OAuth 2.0 refresh-token, client-credentials and JWT bearer.

A source declares ``oauth:`` (an :class:`OAuthOptions`) instead of a fixed access token::

    oauth:
      grant: refresh_token            # or client_credentials, jwt_bearer
      client_id: 3MVG9...
      client_secret_file: /run/secrets/sf_client_secret
      refresh_token: ${SF_REFRESH_TOKEN}

Every secret comes inline (usually ``${ENV_VAR}``, substituted when the spec is read) or
from a file (the ``*_file`` option, read once when the connector is built, relative to the
spec's folder). :class:`TokenSession` gets a token from the ``token_url`` before the first
request, renews it before its ``expires_in`` runs out (when the server says), and
:class:`TokenAuth` renews it once when a request is refused as unauthorised (a token that
expired mid-sync) and sends that request again. A refused renewal is a terminal error that
names the grant and the server's ``error``, never a secret: every message is scrubbed of the
secrets the session holds. A server that rotates refresh tokens has the new one kept for the
session and, when it came from ``refresh_token_file``, written back to that file.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Generator, Iterable
from pathlib import Path
from typing import Any, Literal

import httpx
from pydantic import SecretStr, model_validator

from c360.connectors.base import OptionGroup, resolve_path
from c360.connectors.http import HttpOptions, source_http
from c360.core.errors import TerminalSourceError, TransientSourceError

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_EARLY = 60.0  # renew this many seconds before the server's expires_in runs out
_JWT_LIFETIME = 180  # seconds: Salesforce accepts assertions valid for at most 3 minutes


class OAuthOptions(OptionGroup):
    """How a source gets its access tokens; each secret inline or from a ``*_file``."""

    grant: Literal["refresh_token", "client_credentials", "jwt_bearer"]
    client_id: str
    token_url: str | None = None  # default: the service's own token endpoint
    client_secret: SecretStr | None = None
    client_secret_file: str | None = None
    refresh_token: SecretStr | None = None
    refresh_token_file: str | None = None
    private_key: SecretStr | None = None  # PEM RSA private key (jwt_bearer)
    private_key_file: str | None = None
    username: str | None = None  # the JWT's subject (jwt_bearer)
    audience: str | None = None  # the JWT's audience, e.g. https://login.salesforce.com
    scope: str | None = None

    @model_validator(mode="after")
    def _complete(self) -> OAuthOptions:
        both = [
            n
            for n in ("client_secret", "refresh_token", "private_key")
            if getattr(self, n) is not None and getattr(self, f"{n}_file") is not None
        ]
        if both:
            raise ValueError(f"set '{both[0]}' or '{both[0]}_file', not both")
        if self.grant == "refresh_token" and not (self.refresh_token or self.refresh_token_file):
            raise ValueError("grant 'refresh_token' needs 'refresh_token' or 'refresh_token_file'")
        if self.grant == "client_credentials" and not (self.client_secret or self.client_secret_file):
            raise ValueError("grant 'client_credentials' needs 'client_secret' or 'client_secret_file'")
        if self.grant == "jwt_bearer":
            if not (self.private_key or self.private_key_file):
                raise ValueError("grant 'jwt_bearer' needs 'private_key_file' (or 'private_key')")
            if not self.username:
                raise ValueError("grant 'jwt_bearer' needs 'username' (the user the app acts as)")
        return self


def read_secret(
    source: str, value: SecretStr | None, file: str | None, *, option: str, base_dir: Path | None
) -> SecretStr | None:
    """The secret given inline, or read from ``file`` (trailing newline dropped); None if neither.

    An unreadable or empty file is a terminal error naming the option and the path, never
    the content.
    """
    if value is not None or file is None:
        return value
    path = resolve_path(base_dir or Path("."), file)
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise TerminalSourceError(
            source, f"option '{option}_file': cannot read {path} ({exc.strerror or type(exc).__name__})"
        ) from None
    if not text:
        raise TerminalSourceError(source, f"option '{option}_file': {path} is empty")
    return SecretStr(text)


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret (and its longer substrings) replaced by ``***``."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


class TokenSession:
    """An access token from ``token_url``, renewed when it expires or is refused.

    ``body`` is how the token request is sent: ``form`` (RFC 6749; Salesforce, HubSpot)
    or ``json`` (Zendesk). ``clock`` and ``sleep`` are injectable so tests never wait.
    """

    def __init__(
        self,
        source: str,
        options: OAuthOptions,
        *,
        token_url: str,
        base_dir: Path | None = None,
        http: HttpOptions | None = None,
        body: Literal["form", "json"] = "form",
        clock: Callable[[], float] = time.time,
        on_token: Callable[[dict[str, Any]], None] | None = None,
        **overrides: Any,
    ) -> None:
        self.source, self.options, self.body, self._clock = source, options, body, clock
        self._on_token = on_token
        self.token_url = options.token_url or token_url
        self.client_secret = read_secret(
            source, options.client_secret, options.client_secret_file, option="client_secret", base_dir=base_dir
        )
        self.refresh_token = read_secret(
            source, options.refresh_token, options.refresh_token_file, option="refresh_token", base_dir=base_dir
        )
        self._refresh_path = (
            resolve_path(base_dir or Path("."), options.refresh_token_file) if options.refresh_token_file else None
        )
        self.private_key = read_secret(
            source, options.private_key, options.private_key_file, option="private_key", base_dir=base_dir
        )
        url = httpx.URL(self.token_url)
        self.http = source_http(
            source,
            str(url.copy_with(path="/", query=None)),
            http or HttpOptions(),
            classify=self._classify,
            **overrides,
        )
        self._lock = threading.Lock()
        self._access: str | None = None
        self._expires_at: float | None = None
        self.renewals = 0  # token requests made (the first one included)

    def __repr__(self) -> str:  # never the secrets
        return f"TokenSession({self.source!r}, grant={self.options.grant!r}, token_url={self.token_url!r})"

    @property
    def secrets(self) -> list[str]:
        out = [
            s.get_secret_value() for s in (self.client_secret, self.refresh_token, self.private_key) if s is not None
        ]
        return [*out, *([self._access] if self._access else [])]

    def token(self) -> str:
        """The current access token, fetched or renewed first when it is missing or expiring."""
        with self._lock:
            if self._access is None or (self._expires_at is not None and self._clock() >= self._expires_at - _EARLY):
                self._fetch()
            assert self._access is not None
            return self._access

    def renew(self, stale: str | None) -> str:
        """A new access token, unless another request already replaced ``stale``."""
        with self._lock:
            if self._access is None or self._access == stale:
                self._fetch()
            assert self._access is not None
            return self._access

    def close(self) -> None:
        self.http.close()

    # -- the token request ------------------------------------------------------
    def _fetch(self) -> None:
        path = httpx.URL(self.token_url).raw_path.decode() or "/"
        form = self._form()
        kwargs: dict[str, Any] = {"json": form} if self.body == "json" else {"data": form}
        response = self.http.post(path, headers={"Accept": "application/json"}, **kwargs)
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            answer = {}
        token = answer.get("access_token")
        if not isinstance(token, str) or not token:
            raise TerminalSourceError(
                self.source, f"the {self.options.grant} token request to {path} answered without an access_token"
            )
        self.renewals += 1
        self._access = token
        expires = answer.get("expires_in")
        self._expires_at = self._clock() + float(expires) if isinstance(expires, int | float) and expires > 0 else None
        self._keep_rotated(answer.get("refresh_token"))
        if self._on_token is not None and answer:
            self._on_token({k: v for k, v in answer.items() if k not in ("access_token", "refresh_token", "id_token")})

    def _form(self) -> dict[str, str]:
        """The token request's form, by grant."""
        o = self.options
        if o.grant == "jwt_bearer":
            form = {"grant_type": JWT_BEARER, "assertion": self._assertion()}
        else:
            form = {"grant_type": o.grant, "client_id": o.client_id}
            if o.grant == "refresh_token":
                assert self.refresh_token is not None
                form["refresh_token"] = self.refresh_token.get_secret_value()
            if self.client_secret is not None:
                form["client_secret"] = self.client_secret.get_secret_value()
        if o.scope:
            form["scope"] = o.scope
        return form

    def _keep_rotated(self, rotated: Any) -> None:
        """A refresh token the server rotated replaces the old one, here and where it was read from."""
        if self.options.grant != "refresh_token" or not isinstance(rotated, str) or not rotated:
            return
        if self.refresh_token is None or rotated == self.refresh_token.get_secret_value():
            return
        self.refresh_token = SecretStr(rotated)
        self._write_back(rotated)

    def _assertion(self) -> str:
        import jwt

        o = self.options
        assert self.private_key is not None
        claims = {
            "iss": o.client_id,
            "sub": o.username,
            "aud": o.audience or "https://login.salesforce.com",
            "exp": int(self._clock()) + _JWT_LIFETIME,
        }
        try:
            return jwt.encode(claims, self.private_key.get_secret_value(), algorithm="RS256")
        except (ValueError, TypeError, jwt.PyJWTError) as exc:
            where = f"private_key_file {o.private_key_file}" if o.private_key_file else "private_key"
            raise TerminalSourceError(
                self.source, f"{where} is not a PEM RSA private key ({type(exc).__name__})"
            ) from None

    def _write_back(self, token: str) -> None:
        """Keep a rotated refresh token where it came from, so the next run can renew too."""
        if self._refresh_path is None:
            return
        tmp = self._refresh_path.with_name(f".{self._refresh_path.name}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(token + "\n")
            os.replace(tmp, self._refresh_path)
        except OSError as exc:
            raise TerminalSourceError(
                self.source,
                f"the server rotated the refresh token, and it could not be written "
                f"back to {self._refresh_path} ({exc.strerror or type(exc).__name__}): make the "
                "file writable, then authorise the app again",
            ) from None

    def _classify(self, response: httpx.Response) -> TransientSourceError | TerminalSourceError | None:
        status = response.status_code
        if status == 429 or status >= 500:
            return None  # the defaults: transient
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            code = str(body.get("error") or body.get("errorCode") or body.get("category") or "")
            text = str(body.get("error_description") or body.get("message") or "")[:200]
        else:
            code, text = "", response.text.strip()[:200]
        detail = scrub(f"{code}: {text}" if code else text, self.secrets)
        grant = self.options.grant
        hint = {
            "refresh_token": "the refresh token was revoked or has expired, or the client is "
            "wrong: authorise the app again and set a new refresh_token",
            "client_credentials": "check client_id and client_secret, and that the app allows "
            "the client credentials flow (with a run-as user)",
            "jwt_bearer": "check client_id (the consumer key), username, that the app's "
            "certificate matches the private key and that the user is "
            "pre-authorised for the app",
        }[grant]
        return TerminalSourceError(
            self.source,
            f"renewing the access token failed: the {grant} token request to "
            f"{response.request.url.path} answered {status} ({detail}); {hint}",
        )


class TokenAuth(httpx.Auth):
    """Bearer auth from a :class:`TokenSession`; one renewal and resend on an expired token.

    ``expired`` tells an answer that means "this token is no longer good" (default: 401).
    A second refusal with the new token is left to the source's own error handling.
    """

    requires_response_body = True

    def __init__(self, session: TokenSession, expired: Callable[[httpx.Response], bool] | None = None) -> None:
        self.session = session
        self.expired = expired or (lambda r: r.status_code == 401)

    def __repr__(self) -> str:
        return f"TokenAuth({self.session!r})"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self.session.token()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if self.expired(response):
            request.headers["Authorization"] = f"Bearer {self.session.renew(token)}"
            yield request


def static_or_session(
    source: str,
    *,
    token: SecretStr | None,
    token_file: str | None,
    oauth: OAuthOptions | None,
    token_url: str,
    base_dir: Path | None,
    http: HttpOptions,
    option: str = "access_token",
    expired: Callable[[httpx.Response], bool] | None = None,
    **session: Any,
) -> tuple[dict[str, str], httpx.Auth | None, TokenSession | None]:
    """Headers and auth for a bearer source: a fixed token, or an OAuth session that renews.

    Returns ``(headers, auth, session)``; exactly one of the first two carries the token.
    """
    if oauth is not None:
        tokens = TokenSession(source, oauth, token_url=token_url, base_dir=base_dir, http=http, **session)
        return {}, TokenAuth(tokens, expired), tokens
    fixed = read_secret(source, token, token_file, option=option, base_dir=base_dir)
    if fixed is None:
        raise TerminalSourceError(source, f"set '{option}', '{option}_file' or 'oauth'")
    return {"Authorization": f"Bearer {fixed.get_secret_value()}"}, None, None
