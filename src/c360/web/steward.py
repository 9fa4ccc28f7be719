"""The steward's pages: the identity review queue, and a customer as each consumer sees it.

Decisions are the CLI's pins (``c360 identity link|unlink``): :func:`c360.store.identity.add_pin`,
audited as ``identity_pin`` with hashed record ids, honoured by every later build.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from c360.core import jsonutil
from c360.core.jsonutil import content_hash
from c360.core.records import get_path
from c360.governance.policy import served_view
from c360.spec.models import ProductSpec
from c360.store import Store, lookups
from c360.store import identity as idmap
from c360.web.core import Web, signed_form, web
from c360.web.session import User

router = APIRouter(prefix="/app", include_in_schema=False)
HIDDEN = "•••••• (personal data)"


# -- records ----------------------------------------------------------------------------------


def staged_record(store: Store, rid: str) -> dict[str, Any] | None:
    """The staged (not deleted) payload of ``source:key``, or None."""
    source, _, key = rid.partition(":")
    payload = lookups.staged_payload(store, source, key)
    if payload is None:
        return None
    data = jsonutil.loads(payload)
    return data if isinstance(data, dict) else {"value": data}


def _text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, dict | list):
        return orjson.dumps(v).decode()
    return str(v)


@dataclass
class Side:
    rid: str
    source: str
    key: str
    exists: bool
    customer_id: str | None
    identity: dict[str, str] = field(default_factory=dict)  # attribute → value(s)
    columns: dict[str, str] = field(default_factory=dict)  # declared column → value


def side(store: Store, product: ProductSpec, rid: str) -> Side:
    source, _, key = rid.partition(":")
    data = staged_record(store, rid) if source in product.sources else None
    cid = lookups.owner(store, source, key)
    out = Side(rid, source, key, data is not None, cid or None)
    if data is None:
        return out
    src = product.sources[source]
    for attr, col in src.identity_columns:
        value = _text(get_path(data, src.column_path(col)))
        if value:
            prev = out.identity.get(attr)
            out.identity[attr] = f"{prev}; {value}" if prev else value
    for col in src.columns:
        out.columns[col] = _text(get_path(data, src.column_path(col)))
    if not src.columns:
        out.columns = {k: _text(v) for k, v in data.items()}
    return out


def pair_id(a: str, b: str) -> str:
    x, y = sorted((a, b))
    return hashlib.sha256(f"{x}\x1f{y}".encode()).hexdigest()[:12]


def queue(store: Store, skip: set[str]) -> list[tuple[str, str, float, dict[str, Any]]]:
    """Borderline pairs of the last build that no steward has decided, best first."""
    decided = {(p.left, p.right) for p in idmap.pins(store)}
    out = []
    for a, b, p, ev in idmap.review_pairs(store):
        if tuple(sorted((a, b))) in decided or pair_id(a, b) in skip:
            continue
        out.append((a, b, p, ev))
    return out


def _skips(raw: str | None) -> set[str]:
    return {s for s in (raw or "").split(",") if len(s) == 12 and s.isalnum()}


# -- the queue --------------------------------------------------------------------------------


@router.get("/review")
def review(request: Request, skip: str = "") -> Response:
    w = web(request)
    user = w.user(request)
    if user is None:
        return w.to_login(request)
    if not user.can("steward"):
        return w.refuse(request, user, "steward", "review identity pairs")
    return _review_page(w, request, user, _skips(skip))


def _review_page(
    w: Web,
    request: Request,
    user: User,
    skipped: set[str],
    *,
    message: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    pairs = queue(w.store, skipped)
    current = None
    if pairs:
        a, b, p, ev = pairs[0]
        left, right = side(w.store, w.spec.model, a), side(w.store, w.spec.model, b)
        weights = sorted(((k, float(v)) for k, v in (ev.get("weights") or {}).items()), key=lambda kv: -abs(kv[1]))
        attrs = list(dict.fromkeys([*left.identity, *right.identity]))
        current = {
            "a": a,
            "b": b,
            "p": p,
            "left": left,
            "right": right,
            "weights": weights,
            "attrs": attrs,
            "refused": ev.get("refused"),
            "id": pair_id(a, b),
            "total": sum(v for _, v in weights),
        }
    return w.page(
        request,
        "review.html",
        user,
        status=status,
        current=current,
        remaining=len(pairs),
        upcoming=pairs[1:6],
        skip=",".join(sorted(skipped)),
        message=message,
        error=error,
    )


@router.post("/review/decide")
async def decide(request: Request) -> Response:
    return await signed_form(request, _decide)


def _decide(w: Web, request: Request, user: User, form: dict[str, str]) -> Response:
    decision = form.get("decision", "")
    skipped = _skips(form.get("skip"))
    if not user.can("steward"):
        return w.refuse(request, user, "steward", f"identity {decision or 'decision'}")
    a, b = form.get("a", "").strip(), form.get("b", "").strip()
    if decision == "skip":
        skipped.add(pair_id(a, b))
        return RedirectResponse(f"/app/review?skip={','.join(sorted(skipped))}", status_code=303)
    kind = {"accept": "link", "reject": "unlink", "link": "link", "unlink": "unlink"}.get(decision)
    if kind is None:
        return _review_page(w, request, user, skipped, error=f"unknown decision '{decision}'", status=400)
    problem = pin_problem(w.store, w.spec.model, a, b)
    if problem is not None:
        w.audit(
            "web_refused",
            user.actor,
            None,
            {
                "action": f"identity_{kind}",
                "reason": problem,
                "left": content_hash(a)[:16],
                "right": content_hash(b)[:16],
            },
        )
        return _review_page(w, request, user, skipped, error=problem, status=409)
    reason = (form.get("reason") or "").strip()[:500] or f"{decision} in the review queue"
    pin(w, user, kind, a, b, reason)
    verb = "linked with" if kind == "link" else "kept apart from"
    return _review_page(w, request, user, skipped, message=f"{a} {verb} {b}: a pin every later build honours")


def pin_problem(store: Store, product: ProductSpec, a: str, b: str) -> str | None:
    """Why two records cannot be pinned (unknown source, not a record, the same one), else None."""
    for rid in (a, b):
        source, sep, key = rid.partition(":")
        if not sep or not source or not key:
            return f"'{rid}' is not a source record; write it as source:key"
        if source not in product.sources:
            return f"unknown source '{source}' in '{rid}' (known: {', '.join(product.sources)})"
        if staged_record(store, rid) is None:
            return f"there is no record '{rid}' in staging (never synced, deleted at the source, or erased)"
    if a == b:
        return "a record cannot be pinned to itself"
    return None


def pin(w: Web, user: User, kind: str, a: str, b: str, reason: str) -> None:
    """The CLI's pin (``c360 identity link|unlink``), by this user, audited as the CLI audits it."""
    idmap.add_pin(w.store, kind, a, b, reason, user.actor)
    w.audit(
        "identity_pin", user.actor, None, {"pin": kind, "left": content_hash(a)[:16], "right": content_hash(b)[:16]}
    )


# -- customers --------------------------------------------------------------------------------


def resolve(store: Store, product: ProductSpec, by: str, q: str) -> tuple[list[str], str | None]:
    """Customer ids for a look-up by id, ``source:key`` or e-mail; or why none."""
    q = q.strip()
    if not q:
        return [], None
    if by == "id":
        target = idmap.alias_target(store, q)
        cid = target or q
        if idmap.customer_records(store, cid):
            return [cid], None
        return [], f"no customer '{q}'"
    if by == "key":
        source, sep, key = q.partition(":")
        if not sep or source not in product.sources:
            return [], f"write the record as source:key with a known source ({', '.join(product.sources)})"
        held = lookups.owner(store, source, key)
        return ([held], None) if held else ([], f"no customer holds the record {q}")
    if by == "email":
        from c360.governance.erasure import _find_by_email
        from c360.governance.suppression import normalise_email

        with store.engine.connect() as conn:
            found = _find_by_email(conn, product, {normalise_email(q)})
            ids = lookups.owners(conn, sorted(found))
        ids = list(dict.fromkeys(ids))
        return (ids, None) if ids else ([], "no record holds that e-mail address")
    return [], f"unknown look-up '{by}' (id, key or email)"


@router.get("/customers")
def customers(request: Request, q: str = "", by: str = "id") -> Response:
    w = web(request)
    user = w.user(request)
    if user is None:
        return w.to_login(request)
    as_consumer = request.query_params.get("as")
    steward = user.can("steward")
    product = w.spec.model
    q, by = q[:320], by if by in ("id", "key", "email") else "id"
    if not steward:
        # Anyone else sees a customer only by its id, only as their own consumer is served it,
        # with personal data hidden, and never the source records behind it.
        if by != "id" or (as_consumer not in (None, "", user.consumer)):
            return w.refuse(request, user, "steward", "look customers up by key or e-mail, or as another consumer")
        as_consumer = user.consumer
        served = {c: s.model for c, s in w.state.snapshot.specs.items()}
        if "customer_id" not in served_view(product, user.consumer, served).clear_everywhere:
            # As the API: reading by id is looking up by customer_id, which it must see in the clear.
            return w.refuse(
                request, user, "steward", "look customers up by an id your consumer is not granted in the clear"
            )
    consumers = list(product.consumers)
    if not as_consumer or as_consumer not in product.consumers:
        as_consumer = user.consumer if user.consumer in product.consumers else consumers[0]
    ids, problem = resolve(w.store, product, by, q) if q else ([], None)
    record = None
    if len(ids) == 1:
        record = customer_view(w, user, ids[0], as_consumer, steward=steward, by=by)
        if record is None:
            problem = f"no customer '{q}'" if not steward else problem
    return w.page(
        request,
        "customer.html",
        user,
        q=q,
        by=by,
        ids=ids if len(ids) > 1 else [],
        problem=problem,
        record=record,
        as_consumer=as_consumer,
        consumers=consumers if steward else [user.consumer],
        steward=steward,
    )


def customer_view(w: Web, user: User, cid: str, consumer: str, *, steward: bool, by: str) -> dict[str, Any] | None:
    """The golden record as ``consumer`` is served it by the API, and (for stewards) its source records."""
    product = w.spec.model
    snap = w.state.snapshot
    view_rows = snap.views.get(consumer)
    served = {c: s.model for c, s in snap.specs.items()}
    view = served_view(product, consumer, served)
    body = view_rows.get(cid) if view_rows is not None else None
    if body is None and not steward:
        return None
    projection = orjson.loads(body) if body is not None else None
    pii = {n for n, f in product.fields.items() if f.pii}
    if view.major is not None and consumer in snap.specs:
        pii = {n for n, f in snap.specs[consumer].model.fields.items() if f.pii}
    shown: list[dict[str, Any]] = []
    if projection is not None:
        for name, value in projection.items():
            mask = view.mask(name) if name in view.forms else None
            hidden = name in pii and not steward
            shown.append(
                {
                    "name": name,
                    "value": HIDDEN if hidden else _text(value),
                    "mask": mask,
                    "pii": name in pii,
                    "hidden": hidden,
                }
            )
    records = []
    if steward:
        for r in idmap.customer_records(w.store, cid):
            s = side(w.store, product, f"{r.source}:{r.key}")
            records.append(
                {
                    "rid": f"{r.source}:{r.key}",
                    "method": r.method,
                    "score": r.score,
                    "columns": s.columns,
                    "exists": s.exists,
                }
            )
    w.audit(
        "web_customer_read",
        user.actor,
        cid,
        {
            "as": consumer,
            "by": by,
            "fields": [f["name"] for f in shown if not f["hidden"]],
            "source_records": len(records),
        },
    )
    return {
        "id": cid,
        "fields": shown,
        "visible": projection is not None,
        "records": records,
        "major": view.major,
        "version": snap.version,
        "as_of": snap.as_of,
    }
