"""HttpSource: retries on 429 and 5xx honouring Retry-After, terminal 4xx, no secrets in errors."""

from __future__ import annotations

import email.utils

import httpx
import pytest

from c360.connectors.http import HttpSource, parse_retry_after
from c360.core.errors import TerminalSourceError, TransientSourceError
from tests.connectors.httpfake import FakeRequest, FakeResponse, serve

SECRET = "sk_live_very_secret_value"


class Script:
    """Answers with the given responses in turn, then 200."""

    def __init__(self, *responses: FakeResponse) -> None:
        self.responses = list(responses)

    def __call__(self, req: FakeRequest) -> FakeResponse:
        if self.responses:
            return self.responses.pop(0)
        return FakeResponse(200, {"ok": True, "path": req.path})


def _source(url: str, waits: list[float], **kw: object) -> HttpSource:
    return HttpSource("billing", url, headers={"Authorization": f"Bearer {SECRET}"}, sleep=waits.append, **kw)  # type: ignore[arg-type]


def test_parse_retry_after_seconds_and_http_date() -> None:
    assert parse_retry_after("12") == 12.0
    assert parse_retry_after(" 0.5 ") == 0.5
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after(None) is None and parse_retry_after("") is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("nan") is None
    now = 1_700_000_000.0
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after(date, now=now) == 30.0
    assert parse_retry_after(email.utils.formatdate(now - 30, usegmt=True), now=now) == 0.0
    # A "-0000" zone parses to a naive datetime: still read as UTC.
    naive = email.utils.formatdate(now + 5).replace("+0000", "-0000")
    assert parse_retry_after(naive, now=now) == 5.0


def test_429_retry_after_seconds_is_honoured() -> None:
    handler = Script(FakeResponse(429, {"error": "slow down"}, {"Retry-After": "3"}))
    with serve(handler) as srv:
        waits: list[float] = []
        resp = _source(srv.url, waits).get("/v1/things")
        assert resp.json() == {"ok": True, "path": "/v1/things"}
        assert waits == [3.0]
        assert len(srv.requests) == 2


def test_429_retry_after_http_date_is_honoured_and_capped() -> None:
    far = email.utils.formatdate(4_000_000_000, usegmt=True)  # decades away
    handler = Script(FakeResponse(429, "", {"Retry-After": far}))
    with serve(handler) as srv:
        waits: list[float] = []
        _source(srv.url, waits, max_wait=9.0).get("/x")
        assert waits == [9.0]


def test_5xx_backs_off_then_raises_transient_after_max_retries() -> None:
    handler = Script(*[FakeResponse(503, "unavailable") for _ in range(10)])
    with serve(handler) as srv:
        waits: list[float] = []
        with pytest.raises(TransientSourceError) as info:
            _source(srv.url, waits, max_retries=3, backoff=0.5).get("/v1/x")
        assert waits == [0.5, 1.0, 2.0]
        assert len(srv.requests) == 4
        assert "answered 503" in str(info.value) and "billing" in str(info.value)
        assert "gave up after 4 attempts" in str(info.value) and "status page" in str(info.value)


def test_429_that_never_clears_says_it_gave_up_and_to_wait_or_lower_concurrency() -> None:
    handler = Script(*[FakeResponse(429, "", {"Retry-After": "2"}) for _ in range(3)])
    with serve(handler) as srv:
        waits: list[float] = []
        with pytest.raises(TransientSourceError) as info:
            _source(srv.url, waits, max_retries=2).get("/v1/x")
        assert waits == [2.0, 2.0]
        message = str(info.value)
        assert "answered 429" in message and "gave up after 3 attempts" in message
        assert "limit window" in message and "lower concurrency" in message


def test_5xx_then_success() -> None:
    handler = Script(FakeResponse(500, "oops"), FakeResponse(502, "bad gateway"))
    with serve(handler) as srv:
        waits: list[float] = []
        assert _source(srv.url, waits, backoff=0.25).get("/y").status_code == 200
        assert waits == [0.25, 0.5]


@pytest.mark.parametrize(
    ("status", "words"),
    [(401, "credentials were rejected"), (403, "credentials were rejected"), (404, "not found"), (400, "answered 400")],
)
def test_4xx_is_terminal_without_retry(status: int, words: str) -> None:
    handler = Script(FakeResponse(status, {"error": "nope"}))
    with serve(handler) as srv:
        waits: list[float] = []
        with pytest.raises(TerminalSourceError, match=words):
            _source(srv.url, waits).get("/v1/customers")
        assert waits == [] and len(srv.requests) == 1


def test_no_secret_in_messages() -> None:
    handler = Script(FakeResponse(401, {"error": "bad key"}))
    with serve(handler) as srv:
        source = _source(srv.url, [])
        with pytest.raises(TerminalSourceError) as info:
            source.get(f"/v1/customers?api_key={SECRET}")
        assert SECRET not in str(info.value)
        assert "/v1/customers" in str(info.value)


def test_unreachable_server_is_transient() -> None:
    with serve(Script()) as srv:
        url = srv.url
    waits: list[float] = []
    with pytest.raises(TransientSourceError, match="could not reach") as info:
        HttpSource("crm", url, max_retries=1, sleep=waits.append, timeout=2.0).get("/")
    assert len(waits) == 1
    assert "gave up after 2 attempts" in str(info.value) and "reach it" in str(info.value)


def test_custom_classifier_turns_a_403_into_transient() -> None:
    def classify(resp: httpx.Response) -> TransientSourceError | None:
        if resp.status_code == 403 and "LIMIT" in resp.text:
            return TransientSourceError("crm", "limit", retry_after=None)
        return None

    handler = Script(
        FakeResponse(403, [{"errorCode": "REQUEST_LIMIT_EXCEEDED"}]),
        FakeResponse(403, [{"errorCode": "INSUFFICIENT_ACCESS"}]),
    )
    with serve(handler) as srv:
        waits: list[float] = []
        source = HttpSource("crm", srv.url, sleep=waits.append, backoff=1.0, classify=classify)
        with pytest.raises(TerminalSourceError, match="credentials"):
            source.get("/q")
        assert waits == [1.0]


def test_pace_delay_spreads_what_is_left_until_the_reset() -> None:
    from c360.connectors.http import pace_delay

    assert pace_delay(900, 1000, window=10) == 0.0  # plenty left
    assert pace_delay(50, 1000, window=10) == pytest.approx(0.2)
    assert pace_delay(0, 100, window=60, reset=12) == 12.0  # none left: until the reset
    assert pace_delay(0, 100, window=60) == 60.0
    assert pace_delay(5, None, window=10) == 2.0  # no limit known: low is ten or fewer
    assert pace_delay(11, None, window=10) == 0.0
    assert pace_delay(1, 100, window=10, below=0) == 0.0  # pacing off


def test_pacer_sleeps_after_successful_answers_capped_at_max_wait() -> None:
    waits: list[float] = []
    with serve(Script(FakeResponse(200, {}), FakeResponse(429, {}, {"Retry-After": "1"}))) as srv:
        http = _source(srv.url, waits, pace=lambda r: 500.0, max_wait=30.0)
        http.get("/a")
        assert waits == [30.0]  # capped
        http.get("/b")  # a 429 retried (1 s), then the paced success
        assert waits == [30.0, 1.0, 30.0]
        assert http.requests == 3
