"""Sign-in, the home page, field search and a page per field (lineage, access, history)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from c360.api.auth import AuthFailed
from c360.core.errors import C360Error
from c360.governance.contracts import changelog
from c360.governance.docs import _check as describe_check
from c360.governance.lineage import field_lineage
from c360.governance.policy import View, served_view
from c360.spec.models import ProductSpec
from c360.store import identity as idmap
from c360.web.core import Web, read_form, safe_next, web
from c360.web.graph import lineage_svg
from c360.web.session import COOKIE, LOGIN_COOKIE, roles_of

router = APIRouter(prefix="/app", include_in_schema=False)


# -- signing in -------------------------------------------------------------------------------


@router.get("/login")
def login_form(request: Request, next: str = "/app") -> Response:
    w = web(request)
    if w.user(request) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return w.login_page(request, next_url=next)


@router.post("/login")
async def login(request: Request) -> Response:
    w = web(request)
    form = await read_form(request)
    if form is None or not w.sessions.check_login_token(request.cookies.get(LOGIN_COOKIE), form.get("csrf")):
        return w.csrf_refused(request, None)
    return await run_in_threadpool(_login, w, request, form)


def _login(w: Web, request: Request, form: dict[str, str]) -> Response:
    next_url = safe_next(form.get("next"))
    wait = w.sign_ins.retry_after(request.client.host if request.client else "-")
    if wait is not None:
        # Guessing keys costs time, and cannot flood the audit log.
        return w.login_page(
            request,
            next_url=next_url,
            status=429,
            error=f"too many sign-in attempts from this address; try again in {wait}s",
        )
    try:
        consumer, method, expires, fingerprint = w.sessions.authenticate(form.get("credential", ""))
    except AuthFailed as exc:
        w.audit("web_sign_in_refused", "web:anonymous", None, {"reason": exc.message})
        return w.login_page(request, next_url=next_url, error=exc.message, status=401)
    roles = roles_of(w.spec.model, consumer)
    if not roles:
        why = (
            f"consumer '{consumer}' holds no web-app role: grant it one of the rights owner, steward, "
            "dpo or viewer in the spec"
        )
        w.audit("web_sign_in_refused", f"web:{consumer}", None, {"reason": "no web-app role", "method": method})
        return w.login_page(request, next_url=next_url, error=why, status=403)
    cookie = w.sessions.open(consumer, method, expires, fingerprint)
    w.audit("web_sign_in", f"web:{consumer}", None, {"method": method, "roles": sorted(roles)})
    response = RedirectResponse(next_url, status_code=303)
    response.set_cookie(
        COOKIE,
        cookie,
        max_age=int(max(expires - time.time(), 1)),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    response.delete_cookie(LOGIN_COOKIE, path="/app")
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    w = web(request)
    user = w.user(request)
    form = await read_form(request) or {}
    if user is None:
        return RedirectResponse("/app/login", status_code=303)
    if not w.sessions.check_csrf(user, form.get("csrf")):
        return w.csrf_refused(request, user)
    await run_in_threadpool(w.audit, "web_sign_out", user.actor, None, {})
    response = RedirectResponse("/app/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


# -- home -------------------------------------------------------------------------------------


@router.get("")
@router.get("/")
def home(request: Request) -> Response:
    w = web(request)
    user = w.user(request)
    if user is None:
        return w.to_login(request)
    snap = w.state.snapshot
    review = 0
    if user.can("steward"):
        decided = {(p.left, p.right) for p in idmap.pins(w.store)}
        review = sum(1 for a, b, _, _ in idmap.review_pairs(w.store) if tuple(sorted((a, b))) not in decided)
    versions = [(v, plan) for v, plan in changelog(w.store)]
    return w.page(
        request,
        "home.html",
        user,
        snap=snap,
        review=review,
        versions=list(reversed(versions))[:5],
        sources=w.spec.model.sources,
    )


# -- fields -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldRow:
    name: str
    type: str
    unit: str | None
    description: str
    pii: bool
    tags: tuple[str, ...]
    columns: tuple[str, ...]


def field_rows(product: ProductSpec) -> list[FieldRow]:
    rows = [
        FieldRow(
            "customer_id",
            "string",
            None,
            "Stable surrogate id of the customer, minted by c360",
            False,
            ("identity", "string"),
            ("identity_map.customer_id",),
        )
    ]
    for name, f in product.fields.items():
        cols = tuple(dict.fromkeys(f"{x['source']}.{x['column']}" for x in field_lineage(product, name)))
        sources = tuple(dict.fromkeys(c.split(".")[0] for c in cols))
        tags = (
            f.type,
            *([f.unit] if f.unit else []),
            *(["pii"] if f.pii else []),
            *(c.check for c in f.checks),
            *sources,
            *([f.owner] if f.owner else []),
        )
        rows.append(FieldRow(name, f.type, f.unit, f.description, f.pii, tuple(dict.fromkeys(tags)), cols))
    return rows


def search(product: ProductSpec, q: str) -> list[FieldRow]:
    """Fields matching every word of ``q`` in their name, description, tags or source columns."""
    words = [w for w in q.lower().split() if w]
    out = []
    for row in field_rows(product):
        hay = " ".join(
            [row.name, row.description, *row.tags, *row.columns, *(c.split(".", 1)[-1] for c in row.columns)]
        ).lower()
        if all(w in hay for w in words):
            out.append(row)
    return out


@router.get("/fields")
def fields(request: Request, q: str = "") -> Response:
    w = web(request)
    user = w.user(request)
    if user is None:
        return w.to_login(request)
    q = q[:200]
    return w.page(request, "fields.html", user, q=q, rows=search(w.spec.model, q), total=len(w.spec.model.fields) + 1)


def _form(view: View, name: str) -> dict[str, Any]:
    forms = view.forms.get(name)
    if not forms:
        return {"granted": False, "text": "not granted", "cls": "no"}
    text = " / ".join("in the clear" if m is None else f"masked: {m}" for m in forms)
    notes = []
    if len(forms) > 1:
        notes.append("depends on the row")
    if name not in view.always:
        notes.append("some rows only")
    return {"granted": True, "text": text, "notes": notes, "cls": "clear" if forms == (None,) else "masked"}


@router.get("/fields/{name}")
def field_page(request: Request, name: str) -> Response:
    w = web(request)
    user = w.user(request)
    if user is None:
        return w.to_login(request)
    product = w.spec.model
    if name not in product.field_names:
        return w.page(
            request,
            "error.html",
            user,
            status=404,
            title="No such field",
            message=f"The product has no field '{name}'.",
        )
    served = {c: s.model for c, s in w.state.snapshot.specs.items()}  # pinned consumers' shapes
    consumers = list(product.consumers) if (user.can("steward") or user.can("dpo")) else [user.consumer]
    access = []
    for c in consumers:
        view = served_view(product, c, served)
        access.append(
            {
                "consumer": c,
                "major": view.major,
                "version": view.version,
                "description": product.consumers[c].description,
                **_form(view, name),
            }
        )
    history = []
    for v, plan in changelog(w.store):
        if plan is None:
            if name in (v.model().field_names if _parses(v) else []):
                history.append(
                    {
                        "version": v.version,
                        "at": v.applied_at,
                        "by": v.applied_by,
                        "changes": [("safe", "first recorded version, with this field")],
                    }
                )
            continue
        mine = [
            (c.level, c.message)
            for c in plan.changes
            if c.field == name or c.path == f"fields.{name}" or c.path.startswith(f"fields.{name}.")
        ]
        if mine:
            history.append({"version": v.version, "at": v.applied_at, "by": v.applied_by, "changes": mine})
    spec = product.fields.get(name)
    return w.page(
        request,
        "field.html",
        user,
        name=name,
        spec=spec,
        checks=[describe_check(c) + (" (warn)" if c.level == "warn" else "") for c in (spec.checks if spec else [])],
        expr=" ".join(spec.expr.split()) if spec else None,
        lineage=field_lineage(product, name),
        svg=lineage_svg(product, name),
        access=access,
        all_consumers=len(consumers) == len(product.consumers),
        history=list(reversed(history)),
    )


def _parses(v: Any) -> bool:
    try:
        v.model()
    except C360Error:
        return False
    return True
