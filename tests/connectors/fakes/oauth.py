"""A fake OAuth 2.0 token endpoint: refresh-token, client-credentials and JWT bearer grants.

It answers like the real services (RFC 6749 ``{"error": ..., "error_description": ...}``),
issues numbered access tokens, can expire every live one at once (a token that dies
mid-sync), rotate refresh tokens, and verifies JWT bearer assertions (RS256) with the
public key of the app's certificate.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.connectors.httpfake import FakeRequest, FakeResponse

CLIENT_ID = "3MVG9fakeConsumerKey"
CLIENT_SECRET = "fake-client-s3cret-0001"
REFRESH_TOKEN = "5Aep861fakeRefreshToken-s3cret"
USERNAME = "integration@acme.example"


def rsa_pair() -> tuple[bytes, bytes]:
    """A fresh RSA key pair as PEM: (private key, public key)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, public


@dataclass
class TokenIssuer:
    path: str = "/services/oauth2/token"
    client_id: str = CLIENT_ID
    client_secret: str = CLIENT_SECRET
    refresh_token: str = REFRESH_TOKEN
    username: str = USERNAME
    audience: str = "https://login.salesforce.com"
    public_key: bytes | None = None
    expires_in: int | None = None  # sent with each token when set (HubSpot, Zendesk do)
    rotate: bool = False  # issue a new refresh token with every renewal
    echo_secret_in_errors: bool = False  # a careless server: the refused secret in the error
    live: set[str] = field(default_factory=set)
    grants: list[dict[str, Any]] = field(default_factory=list)
    issued: int = 0
    claims: dict[str, Any] = field(default_factory=dict)  # of the last accepted assertion

    def accepts(self, req: FakeRequest) -> bool:
        header = req.headers.get("authorization", "")
        return header.startswith("Bearer ") and header.removeprefix("Bearer ") in self.live

    def expire(self) -> None:
        """Every access token issued so far stops working (as when a session times out)."""
        self.live.clear()

    def handle(self, req: FakeRequest) -> FakeResponse:
        if req.method != "POST":
            return FakeResponse(405, {"error": "invalid_request", "error_description": "POST"})
        ctype = req.headers.get("content-type", "")
        if ctype.startswith("application/json"):
            form = {k: str(v) for k, v in json.loads(req.body or b"{}").items()}
        else:
            form = {k: v[0] for k, v in parse_qs(req.body.decode()).items()}
        self.grants.append(form)
        grant = form.get("grant_type")
        if grant == "refresh_token":
            if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
                return self._refuse(401, "invalid_client", "invalid client credentials", form)
            if form.get("refresh_token") != self.refresh_token:
                return self._refuse(400, "invalid_grant", "expired access/refresh token", form, "refresh_token")
        elif grant == "client_credentials":
            if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
                return self._refuse(400, "invalid_client", "invalid client credentials", form, "client_secret")
        elif grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            refused = self._verify(form.get("assertion") or "")
            if refused:
                return self._refuse(400, "invalid_grant", refused, form)
        else:
            return self._refuse(400, "unsupported_grant_type", f"grant type {grant}", form)
        self.issued += 1
        token = f"00Dfake!access-{self.issued}"
        self.live.add(token)
        body: dict[str, Any] = {
            "access_token": token,
            "token_type": "Bearer",
            "issued_at": str(self.issued),
            "scope": "api refresh_token",
        }
        if self.expires_in is not None:
            body["expires_in"] = self.expires_in
        if grant == "refresh_token" and self.rotate:
            self.refresh_token = f"{REFRESH_TOKEN}-r{self.issued}"
            body["refresh_token"] = self.refresh_token
        return FakeResponse(200, body)

    def _verify(self, assertion: str) -> str | None:
        import jwt

        if self.public_key is None:
            return "no certificate uploaded for this app"
        try:
            claims = jwt.decode(
                assertion,
                self.public_key,
                algorithms=["RS256"],
                audience=self.audience,
                # the tests' clocks are not the wall clock: exp is theirs
                options={"require": ["exp", "sub", "iss"], "verify_exp": False},
            )
        except jwt.PyJWTError as exc:
            return f"invalid assertion: {type(exc).__name__}"
        if claims["iss"] != self.client_id:
            return "invalid_app_access: client identifier invalid"
        if claims["sub"] != self.username:
            return "user hasn't approved this consumer"
        self.claims = claims
        return None

    def _refuse(
        self, status: int, error: str, description: str, form: dict[str, str], echoed: str | None = None
    ) -> FakeResponse:
        if self.echo_secret_in_errors and echoed:
            description += f" (got {form.get(echoed)})"
        return FakeResponse(status, {"error": error, "error_description": description})
