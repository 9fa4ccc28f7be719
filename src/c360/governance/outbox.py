"""Erasure events from the outbox: signed webhooks, retried with backoff until acknowledged.

The erasure transaction writes one outbox row per consumer with a webhook, so an
event is queued if and only if the erasure committed. :func:`deliver` POSTs each
due row's JSON body with ``X-C360-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of
"t.body">`` under the consumer's own webhook secret; a 2xx answer acknowledges it.
Anything else is retried after 30 s, 1 min, 2 min, ... up to an hour, forever.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass

import httpx

from c360.core.clock import utcnow
from c360.governance.audit import audit_key
from c360.store import Store
from c360.store import erasure_outbox as queue

BASE_DELAY = 30.0
MAX_DELAY = 3600.0


def webhook_secret(store: Store, consumer: str) -> str:
    """The secret a consumer checks signatures with (one per consumer, from the audit key)."""
    return audit_key(store.engine).derive(f"webhook:{consumer}").hex()


def sign(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify_signature(secret: str, body: bytes, header: str, *, now: int | None = None, tolerance: int = 300) -> bool:
    """What a consumer runs on receipt: the signature matches and is recent."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        ts = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if now is not None and abs(now - ts) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, body, ts), f"t={ts},v1={parts.get('v1', '')}")


def backoff(attempts: int) -> dt.timedelta:
    """Delay before the next try after ``attempts`` failures: 30 s doubling, capped at an hour."""
    return dt.timedelta(seconds=min(BASE_DELAY * 2.0 ** max(attempts - 1, 0), MAX_DELAY))


@dataclass
class Delivery:
    delivered: int = 0
    failed: int = 0


def deliver(
    store: Store,
    *,
    now: dt.datetime | None = None,
    client: httpx.Client | None = None,
    timeout: float = 10.0,
    limit: int = 100,
) -> Delivery:
    """One pass over the due outbox rows: POST each, record the answer, schedule retries."""
    now = now or utcnow()
    out = Delivery()
    with store.engine.connect() as conn:
        due = queue.due(conn, now, limit)
    if not due:
        return out
    own = client is None
    http = client or httpx.Client(timeout=timeout)
    try:
        for row in due:
            body = row.payload.encode()
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "c360-erasure-webhook",
                "X-C360-Signature": sign(webhook_secret(store, row.consumer), body, int(now.timestamp())),
            }
            error: str | None
            try:
                answer = http.post(row.url, content=body, headers=headers)
                error = None if 200 <= answer.status_code < 300 else f"HTTP {answer.status_code}"
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"[:300]
            with store.engine.begin() as conn:
                if error is None:
                    queue.mark_delivered(conn, row.id, attempts=row.attempts + 1, at=now)
                    out.delivered += 1
                else:
                    retry_at = now + backoff(row.attempts + 1)
                    queue.mark_failed(conn, row.id, attempts=row.attempts + 1, error=error, retry_at=retry_at)
                    out.failed += 1
    finally:
        if own:
            http.close()
    return out
