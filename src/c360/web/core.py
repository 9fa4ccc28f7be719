"""What every page shares: the app's state, templates, the signed-in user, refusals, forms."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool

from c360.api.erasures import DryRunLimiter
from c360.governance import audit
from c360.spec.validate import Spec
from c360.store import Store
from c360.web.session import COOKIE, LOGIN_COOKIE, Role, Sessions, User

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
MAX_FORM_BYTES = 64 * 1024
SIGN_INS_PER_MINUTE = 20

# Pages are the app's own: nothing is loaded from another host, nothing runs inline.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
    "script-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

ROLE_PAGES: dict[Role, str] = {
    "viewer": "the product's pages",
    "steward": "identity review and customer look-up",
    "dpo": "the audit log and erasure",
    "owner": "everything",
}


class Web:
    """The web app's view of one server: spec, store, the API's serving state and service."""

    def __init__(self, spec: Spec, store: Store, state: Any, service: Any, sessions: Sessions) -> None:
        self.spec = spec
        self.store = store
        self.state = state
        self.service = service
        self.sessions = sessions
        self.env = Environment(
            loader=FileSystemLoader(HERE / "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.globals["product"] = spec.model
        # Sign-in attempts per client address (the erasure dry runs' sliding window).
        self.sign_ins = DryRunLimiter(limit=SIGN_INS_PER_MINUTE)

    # -- who ---------------------------------------------------------------------------------
    def user(self, request: Request) -> User | None:
        return self.sessions.user(request.cookies.get(COOKIE))

    def audit(self, kind: str, actor: str, subject: str | None, detail: dict[str, Any]) -> None:
        audit.record(self.store, kind, actor, subject, {**detail, "via": "web"})

    def refuse(self, request: Request, user: User, role: Role, action: str, status: int = 403) -> Response:
        """A 403 page for an action the user's roles do not allow; the refusal is audited."""
        self.audit(
            "web_refused",
            user.actor,
            None,
            {"action": action, "needs": role, "roles": sorted(user.roles), "path": request.url.path},
        )
        return self.page(
            request, "refused.html", user, status=status, action=action, needs=role, needs_label=ROLE_PAGES[role]
        )

    def to_login(self, request: Request) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/app/login?next={quote(target, safe='')}", status_code=303)

    # -- answers -----------------------------------------------------------------------------
    def render(self, template: str, /, **context: Any) -> str:
        return self.env.get_template(template).render(**context)

    def page(
        self, request: Request, template: str, user: User | None, /, status: int = 200, **context: Any
    ) -> HTMLResponse:
        body = self.render(template, user=user, csrf=user.csrf if user else "", path=request.url.path, **context)
        return HTMLResponse(body, status_code=status, headers=SECURITY_HEADERS)

    def login_page(
        self, request: Request, *, next_url: str = "/app", error: str | None = None, status: int = 200
    ) -> HTMLResponse:
        nonce = secrets.token_urlsafe(16)
        body = self.render(
            "login.html",
            user=None,
            csrf=self.sessions.login_token(nonce),
            path="/app/login",
            next_url=safe_next(next_url),
            error=error,
        )
        response = HTMLResponse(body, status_code=status, headers=SECURITY_HEADERS)
        response.set_cookie(
            LOGIN_COOKIE,
            nonce,
            max_age=900,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/app",
        )
        return response

    def csrf_refused(self, request: Request, user: User | None) -> HTMLResponse:
        self.audit("web_csrf_refused", user.actor if user else "web:anonymous", None, {"path": request.url.path})
        return HTMLResponse(
            self.render(
                "error.html",
                user=user,
                csrf=user.csrf if user else "",
                path=request.url.path,
                title="Form expired",
                message="This form's security token is missing or not valid "
                "(an old page, or a form sent from another site). Reload the page "
                "and try again.",
            ),
            status_code=403,
            headers=SECURITY_HEADERS,
        )


def web(request: Request) -> Web:
    w: Web = request.app.state.c360_web
    return w


FormAction = Callable[[Web, Request, User, dict[str, str]], Response]


async def signed_form(request: Request, action: FormAction) -> Response:
    """A form posted by a signed-in user with this session's CSRF token, acted on in a worker thread.

    Without a session: to the sign-in page; with a missing or wrong token: refused and audited.
    """
    w = web(request)
    user = w.user(request)
    form = await read_form(request) or {}
    if user is None:
        return w.to_login(request)
    if not w.sessions.check_csrf(user, form.get("csrf")):
        return w.csrf_refused(request, user)
    return await run_in_threadpool(action, w, request, user, form)


def safe_next(target: str | None) -> str:
    """Only a path of this app: never another host (``//evil``) or scheme."""
    if not target or not target.startswith("/app") or target.startswith("//") or "\\" in target:
        return "/app"
    return target


async def read_form(request: Request) -> dict[str, str] | None:
    """A URL-encoded form's fields (first value of each); None when it is not one or too large."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        return None
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return None
    try:
        parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=200)
    except (UnicodeDecodeError, ValueError):
        return None
    return {k: v[0] for k, v in parsed.items()}
