"""``POST /v1/erasures``: a consumer granted the erasure right asks for a data subject's erasure."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from c360.core.errors import C360Error, StoreError
from c360.governance.erasure import SubjectRef, erase

router = APIRouter()
JSON = "application/json"


class ErasureRequest(BaseModel):
    """Name the subject by exactly one of ``customer_id``, ``email``, or ``source`` with ``key``."""

    model_config = ConfigDict(extra="forbid")

    customer_id: str | None = Field(default=None, max_length=64)
    email: str | None = Field(default=None, max_length=320)
    source: str | None = Field(default=None, max_length=64)
    key: str | None = Field(default=None, max_length=255)
    reason: str = Field(min_length=1, max_length=2000)
    dry_run: bool = False


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps({"error": {"code": code, "message": message}}),
        status_code=status,
        media_type=JSON,
        headers=headers,
    )


def _consumer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    state = request.app.state.c360
    # Checked against the store, not a cached key list: a key revoked a moment ago cannot erase.
    found: str | None = state.store.consumer_for_key(token.strip())
    return found


@router.post(
    "/v1/erasures",
    summary="Erase a data subject (consumers granted the erasure right)",
    status_code=200,
    responses={
        401: {"description": "No valid key"},
        403: {"description": "The consumer lacks the erasure right"},
        404: {"description": "No record of the subject"},
    },
)
def post_erasure(body: ErasureRequest, request: Request) -> Response:
    consumer = _consumer(request)
    if consumer is None:
        return _error(
            401,
            "unauthenticated",
            "send 'Authorization: Bearer <key>' with a valid key",
            {"WWW-Authenticate": "Bearer"},
        )
    state = request.app.state.c360
    granted = state.spec.model.consumers.get(consumer)
    if granted is None or "erasure" not in granted.rights:
        return _error(403, "forbidden", f"consumer '{consumer}' is not granted the erasure right")
    who = SubjectRef(
        customer_id=body.customer_id, email=body.email, source=body.source, key=body.key
    )
    try:
        result = erase(
            state.store,
            state.spec,
            who,
            reason=body.reason,
            actor=f"consumer:{consumer}",
            dry_run=body.dry_run,
        )
    except StoreError as exc:
        return _error(404, "not_found", str(exc))
    except C360Error as exc:
        return _error(400, "invalid_request", str(exc))
    if result.committed:
        # This worker serves the erasure before it answers; the others within ERASURE_POLL_SECONDS.
        state.apply_edits()
    plan = result.plan
    out: dict[str, Any] = {
        "committed": result.committed,
        **(plan.describe() if body.dry_run else plan.summary()),
        "subject": plan.subject,
    }
    return Response(orjson.dumps(out), media_type=JSON)
