"""The one retry loop: waits, the final error, and retries that never stack."""

from __future__ import annotations

import pytest

from c360.connectors.http import HttpSource
from c360.core.errors import TerminalSourceError, TransientSourceError
from c360.core.retry import Backoff, RetriesExhausted, RetryableSourceError, retry
from tests.connectors.httpfake import FakeRequest, FakeResponse, serve


def failing(errors: list[Exception], then: str = "done") -> tuple[list[int], object]:
    calls: list[int] = []

    def once() -> str:
        calls.append(1)
        if errors:
            raise errors.pop(0)
        return then

    return calls, once


def test_waits_double_are_capped_and_a_retry_after_wins() -> None:
    waits: list[float] = []
    errors: list[Exception] = [
        TransientSourceError("crm", "503"),
        TransientSourceError("crm", "429", retry_after=7.0),
        TransientSourceError("crm", "429", retry_after=500.0),
        TransientSourceError("crm", "503"),
    ]
    calls, once = failing(errors)
    assert retry(once, Backoff(max_retries=5, base=1.0, cap=60.0), sleep=waits.append) == "done"  # type: ignore[arg-type]
    assert waits == [1.0, 7.0, 60.0, 8.0] and len(calls) == 5


def test_the_final_error_counts_attempts_and_names_the_next_step() -> None:
    errors: list[Exception] = [
        RetryableSourceError("billing", "GET /v1/x answered 429", next_step="wait") for _ in range(9)
    ]
    calls, once = failing(errors)
    with pytest.raises(RetriesExhausted) as info:
        retry(once, Backoff(max_retries=2), sleep=lambda s: None)  # type: ignore[arg-type]
    assert len(calls) == 3 and info.value.attempts == 3
    assert str(info.value) == "source 'billing': GET /v1/x answered 429; gave up after 3 attempts: wait"
    assert isinstance(info.value.__cause__, RetryableSourceError)


def test_a_terminal_error_is_raised_at_once() -> None:
    calls, once = failing([TerminalSourceError("crm", "401: check the credentials")])
    with pytest.raises(TerminalSourceError, match="credentials"):
        retry(once, Backoff(max_retries=5), sleep=lambda s: None)  # type: ignore[arg-type]
    assert len(calls) == 1


def test_an_outer_loop_resumes_after_a_transient_failure() -> None:
    # sync's loop: a read that ends on a dropped connection is read on from its cursor.
    calls, once = failing([TransientSourceError("db", "connection reset"), TransientSourceError("db", "reset")])
    waits: list[float] = []
    assert retry(once, Backoff(max_retries=3, base=2.0, cap=30.0), sleep=waits.append) == "done"  # type: ignore[arg-type]
    assert waits == [2.0, 4.0] and len(calls) == 3


def test_retries_do_not_stack_when_a_connector_has_given_up() -> None:
    def always_down(req: FakeRequest) -> FakeResponse:
        return FakeResponse(503, "unavailable")

    with serve(always_down) as srv:
        http = HttpSource("billing", srv.url, max_retries=3, sleep=lambda s: None)
        outer_waits: list[float] = []
        with pytest.raises(RetriesExhausted, match="gave up after 4 attempts"):
            # sync wraps the connector's read in its own retries (3 here): they must not multiply.
            retry(lambda: http.get("/v1/customers"), Backoff(max_retries=3), sleep=outer_waits.append)
        assert len(srv.requests) == 4 and outer_waits == []
        http.close()
