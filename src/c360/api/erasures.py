"""``POST /v1/erasures``: a consumer granted the erasure right asks for a data subject's erasure.

A dry run looks a person up: anyone holding the erasure right could otherwise ask, for
any address, whether it is in the store. So each dry run is audited, a consumer may
make :data:`DRY_RUNS_PER_MINUTE` of them a minute (then 429 with Retry-After), and the
answer is counts (records per source, customers) unless the consumer holds the
:data:`DPO_RIGHT`, which alone shows the plan's records, keys and customer ids.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import orjson
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from c360.core.errors import C360Error, NotFound, StoreUnavailable
from c360.governance.erasure import SubjectRef, dry_run, erase
from c360.spec.models import ConsumerSpec

router = APIRouter()
JSON = "application/json"
# Enough for a person checking a request before erasing; too few to sweep a list of addresses.
DRY_RUNS_PER_MINUTE = 10
# The right that shows a dry run's full plan. ``c360.spec.models.Right`` does not declare it
# yet, so a valid spec grants it to no one and every consumer is answered with counts.
DPO_RIGHT = "dpo"


class DryRunLimiter:
    """At most ``limit`` dry runs per consumer in any ``window`` seconds (a sliding window).

    Kept in each worker process, like the consumers' rate limits (:mod:`c360.api.limits`):
    with N workers each allows ``limit / N``, so the server as a whole allows ``limit``.
    """

    def __init__(
        self, limit: int = DRY_RUNS_PER_MINUTE, window: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit, self.window, self._clock = limit, window, clock
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, consumer: str) -> int | None:
        """None when the dry run may go ahead (and it is counted), else whole seconds to wait."""
        with self._lock:
            now = self._clock()
            seen = self._seen.setdefault(consumer, deque())
            while seen and seen[0] <= now - self.window:
                seen.popleft()
            if len(seen) < self.limit:
                seen.append(now)
                return None
            return max(1, math.ceil(seen[0] + self.window - now))


_limiters_lock = threading.Lock()


def _dry_runs(app: FastAPI) -> DryRunLimiter:
    """The app's limiter, made on first use (one per app, so each app counts its own)."""
    with _limiters_lock:
        limiter: DryRunLimiter | None = getattr(app.state, "c360_dry_runs", None)
        if limiter is None:
            workers = max(int(os.environ.get("C360_WORKERS", "1") or 1), 1)
            limiter = DryRunLimiter(max(DRY_RUNS_PER_MINUTE // workers, 1))
            app.state.c360_dry_runs = limiter
    return limiter


def sees_plan(consumer: ConsumerSpec) -> bool:
    """Whether a dry run shows this consumer the plan (records, keys, customer ids)."""
    return DPO_RIGHT in {str(r) for r in consumer.rights}


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
        429: {"description": "Too many dry runs by this consumer; see Retry-After"},
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
    who = SubjectRef(customer_id=body.customer_id, email=body.email, source=body.source, key=body.key)
    if body.dry_run:
        return _dry_run(request, state, consumer, granted, who, body.reason)
    try:
        result = erase(state.store, state.spec, who, reason=body.reason, actor=f"consumer:{consumer}")
    except NotFound as exc:  # a store that fails is never answered as "not found"
        return _error(404, "not_found", str(exc))
    except StoreUnavailable as exc:
        return _error(503, "store_unavailable", str(exc))
    except C360Error as exc:
        return _error(400, "invalid_request", str(exc))
    # This worker serves the erasure before it answers; the others within ERASURE_POLL_SECONDS.
    state.apply_edits()
    plan = result.plan
    out: dict[str, Any] = {"committed": result.committed, **plan.summary(), "subject": plan.subject}
    return Response(orjson.dumps(out), media_type=JSON)


def _dry_run(
    request: Request, state: Any, consumer: str, granted: ConsumerSpec, who: SubjectRef, reason: str
) -> Response:
    """A dry run: counted against the consumer's allowance, audited, answered by its right."""
    wait = _dry_runs(request.app).retry_after(consumer)
    if wait is not None:
        return _error(
            429,
            "rate_limited",
            f"consumer '{consumer}' made {DRY_RUNS_PER_MINUTE} erasure dry runs in the last "
            f"minute; retry after {wait}s",
            {"Retry-After": str(wait)},
        )
    full = sees_plan(granted)
    try:
        result = dry_run(
            state.store,
            state.spec,
            who,
            reason=reason,
            actor=f"consumer:{consumer}",
            shown="plan" if full else "counts",
        )
    except NotFound as exc:  # a store that fails is never answered as "not found"
        return _error(404, "not_found", str(exc))
    except StoreUnavailable as exc:
        return _error(503, "store_unavailable", str(exc))
    except C360Error as exc:
        return _error(400, "invalid_request", str(exc))
    plan = result.plan
    out: dict[str, Any] = {"committed": False, **(plan.describe() if full else plan.tally()), "subject": plan.subject}
    return Response(orjson.dumps(out), media_type=JSON)
