"""The DPO's pages: the audit log (filter, verify the chain) and erasure (dry run, then execute).

Erasure is :mod:`c360.governance.erasure`, as ``c360 erase`` runs it: the dry run
(:func:`~c360.governance.erasure.dry_run`, audited as ``erasure_dry_run``) shows the plan's
records; executing (:func:`~c360.governance.erasure.erase`) changes everything in one transaction,
then this worker serves the erasure at once (the API's ``POST /v1/erasures`` does the same).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from c360.core.errors import C360Error, NotFound
from c360.governance.audit import verify
from c360.governance.erasure import SubjectRef, dry_run, erase
from c360.store import audit_repo
from c360.web.core import Web, signed_form, web
from c360.web.session import User

router = APIRouter(prefix="/app", include_in_schema=False)
PAGE = 100


def _bound(text: str, end: bool) -> str | None:
    """A filter's time as the audit log writes times (ISO 8601 UTC text, compared as text)."""
    text = text.strip()
    if not text:
        return None
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            t = dt.datetime.combine(day, dt.time.max if end else dt.time.min, dt.UTC)
        else:
            t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
            if t.tzinfo is None:
                t = t.replace(tzinfo=dt.UTC)
    except ValueError:
        raise ValueError(f"'{text}' is not a date or time (write 2026-12-06 or 2026-12-06T10:00)") from None
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def audit_rows(w: Web, actor: str, kind: str, since: str, until: str, before: int | None) -> list[dict[str, Any]]:
    lo, hi = _bound(since, False), _bound(until, True)
    rows = audit_repo.newest(w.store, actor=actor, kind=kind, since=lo, until=hi, before=before, limit=PAGE)
    out = []
    for seq, at, k, a, subject, detail in rows:
        try:
            parsed = orjson.loads(detail)
            text = (
                ", ".join(
                    f"{key}: {orjson.dumps(v).decode() if not isinstance(v, str) else v}" for key, v in parsed.items()
                )
                if isinstance(parsed, dict)
                else str(parsed)
            )
        except orjson.JSONDecodeError:
            text = detail
        out.append({"seq": seq, "at": at, "kind": k, "actor": a, "subject": subject or "", "detail": text})
    return out


def _kinds(w: Web) -> list[str]:
    return audit_repo.kinds(w.store)


@router.get("/audit")
def audit_page(
    request: Request, actor: str = "", kind: str = "", since: str = "", until: str = "", before: int | None = None
) -> Response:
    w = web(request)
    user = w.user(request)
    if user is None:
        return w.to_login(request)
    if not user.can("dpo"):
        return w.refuse(request, user, "dpo", "read the audit log")
    return _audit_page(
        w, request, user, actor=actor[:128], kind=kind[:32], since=since[:40], until=until[:40], before=before
    )


def _audit_page(
    w: Web,
    request: Request,
    user: User,
    *,
    actor: str = "",
    kind: str = "",
    since: str = "",
    until: str = "",
    before: int | None = None,
    verification: Any = None,
) -> Response:
    error = None
    try:
        rows = audit_rows(w, actor, kind, since, until, before)
    except ValueError as exc:
        rows, error = [], str(exc)
    return w.page(
        request,
        "audit.html",
        user,
        rows=rows,
        actor=actor,
        kind=kind,
        since=since,
        until=until,
        kinds=_kinds(w),
        error=error,
        verification=verification,
        older=rows[-1]["seq"] if len(rows) == PAGE else None,
    )


@router.post("/audit/verify")
async def audit_verify(request: Request) -> Response:
    return await signed_form(request, _verify)


def _verify(w: Web, request: Request, user: User, form: dict[str, str]) -> Response:
    if not user.can("dpo"):
        return w.refuse(request, user, "dpo", "verify the audit chain")
    result = verify(w.store)
    w.audit(
        "web_audit_verify",
        user.actor,
        None,
        {"ok": result.ok, "rows": result.rows, "problem": str(result.problem) if result.problem else None},
    )
    return _audit_page(w, request, user, verification=result)


# -- erasure ----------------------------------------------------------------------------------


def _subject(form: dict[str, str]) -> tuple[SubjectRef, str, str]:
    by = form.get("by", "email")
    value = form.get("value", "").strip()[:320]
    if by == "customer":
        who = SubjectRef(customer_id=value or None)
    elif by == "key":
        source, _, key = value.partition(":")
        who = SubjectRef(source=source or None, key=key or None)
    else:
        by = "email"
        who = SubjectRef(email=value or None)
    return who, by, value


@router.get("/erasure")
def erasure_form(request: Request) -> Response:
    w = web(request)
    user = w.user(request)
    if user is None:
        return w.to_login(request)
    if not user.can("dpo"):
        return w.refuse(request, user, "dpo", "erase a data subject")
    return w.page(request, "erasure.html", user, by="email", value="", reason="", plan=None, done=None, error=None)


@router.post("/erasure")
async def erasure_post(request: Request) -> Response:
    return await signed_form(request, _erasure)


def _erasure(w: Web, request: Request, user: User, form: dict[str, str]) -> Response:
    step = form.get("step", "preview")
    if not user.can("dpo"):
        return w.refuse(request, user, "dpo", "erase a data subject" if step == "execute" else "plan an erasure")
    who, by, value = _subject(form)
    reason = form.get("reason", "").strip()[:2000]
    ctx: dict[str, Any] = {"by": by, "value": value, "reason": reason, "plan": None, "done": None, "error": None}
    try:
        if step == "execute":
            if form.get("confirm") != "yes":
                raise C360Error("tick the box to confirm: an erasure cannot be undone")
            result = erase(w.store, w.spec, who, reason=reason, actor=user.actor)
            w.state.apply_edits()  # this worker serves the erasure before it answers
            ctx["done"] = {"committed": result.committed, **result.plan.summary()}
        else:
            result = dry_run(w.store, w.spec, who, reason=reason, actor=user.actor, shown="plan")
            ctx["plan"] = result.plan.describe()
    except NotFound as exc:  # a store that fails is not "no such subject": it is raised
        ctx["error"] = str(exc)
        return w.page(request, "erasure.html", user, status=404, **ctx)
    except C360Error as exc:
        ctx["error"] = str(exc)
        return w.page(request, "erasure.html", user, status=400, **ctx)
    return w.page(request, "erasure.html", user, **ctx)
