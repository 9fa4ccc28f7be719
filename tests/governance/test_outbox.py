"""The erasure outbox on both stores: signed delivery, retries with backoff, state per consumer."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import insert, select

from c360.governance.erasure import requests
from c360.governance.outbox import backoff, deliver, verify_signature, webhook_secret
from c360.store import Store
from c360.store.schema import erasure_outbox, erasures
from tests.governance.test_audit import store as store

T0 = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


class Hook:
    """A consumer's webhook endpoint: fails ``failures`` times with 503, then acknowledges."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.received: list[tuple[bytes, str]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.received.append((body, self.headers.get("X-C360-Signature", "")))
                status = 503 if len(hook.received) <= hook.failures else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/erasures"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture()
def hook() -> Iterator[Hook]:
    h = Hook(failures=2)
    yield h
    h.server.shutdown()


def queue(store: Store, consumers: dict[str, str]) -> None:
    with store.engine.begin() as conn:
        conn.execute(
            insert(erasures).values(
                erasure_id="er_1",
                requested_at=T0,
                actor="cli:ana",
                scope="person",
                subject="p_1",
                reason="Art. 17",
                report='{"notify_sources":["crm"]}',
            )
        )
        conn.execute(
            insert(erasure_outbox),
            [
                {
                    "erasure_id": "er_1",
                    "consumer": c,
                    "url": url,
                    "payload": '{"event":"erasure","erasure_id":"er_1"}',
                    "state": "pending",
                    "attempts": 0,
                    "next_attempt_at": T0,
                }
                for c, url in consumers.items()
            ],
        )


def states(store: Store) -> dict[str, tuple[str, int]]:
    with store.engine.connect() as conn:
        return {
            c: (s, a)
            for c, s, a in conn.execute(
                select(erasure_outbox.c.consumer, erasure_outbox.c.state, erasure_outbox.c.attempts)
            )
        }


def test_retried_with_backoff_until_acknowledged(store: Store, hook: Hook) -> None:
    queue(store, {"finance": hook.url, "marketing": "http://127.0.0.1:9/down"})
    first = deliver(store, now=T0, timeout=2)
    assert (first.delivered, first.failed) == (0, 2)
    assert states(store) == {"finance": ("pending", 1), "marketing": ("pending", 1)}
    # Not due again before the backoff has passed.
    assert deliver(store, now=T0 + dt.timedelta(seconds=10)).failed == 0
    deliver(store, now=T0 + backoff(1), timeout=2)  # 503 again
    assert states(store)["finance"] == ("pending", 2)
    third = deliver(store, now=T0 + backoff(1) + backoff(2), timeout=2)
    assert third.delivered == 1
    assert states(store)["finance"] == ("delivered", 3)
    assert len(hook.received) == 3
    # Every attempt was signed with finance's own secret over the exact body.
    secret = webhook_secret(store, "finance")
    for body, signature in hook.received:
        assert verify_signature(secret, body, signature)
        assert not verify_signature(webhook_secret(store, "marketing"), body, signature)
        assert not verify_signature(secret, body + b" ", signature)
    [req] = requests(store)
    assert req.deliveries["finance"] == "delivered"
    assert req.deliveries["marketing"].startswith("pending (3 attempt(s); ConnectError")


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff(n).total_seconds() for n in (1, 2, 3)] == [30, 60, 120]
    assert backoff(50).total_seconds() == 3600
