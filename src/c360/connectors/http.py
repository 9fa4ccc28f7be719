"""One HTTP client for every REST-shaped source: retries, Retry-After, and error classes.

Transient (retried with exponential backoff, honouring ``Retry-After``): 429, 5xx,
timeouts and connection errors. Terminal: 401/403 (credentials), 404, other 4xx.
Messages name the source and the request path, never headers or secrets; once the
retries run out, the error says how many attempts were made and what to do next.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import math
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx
from pydantic import Field, SecretStr

from c360.connectors.base import ConnectorOptions, Quarantined, record_key
from c360.core.errors import TerminalSourceError, TransientSourceError
from c360.core.retry import Backoff, RetryableSourceError, retry


class HttpOptions(ConnectorOptions):
    """Options every HTTP source takes: seconds per request, attempts on transient failures."""

    timeout: float = 30.0
    max_retries: int = 5


class PacedHttpOptions(HttpOptions):
    """An HTTP source whose answers say how much of its rate limit is left.

    Once less than ``pace_below`` of the limit remains (0 turns pacing off), each request
    waits long enough for what is left to last until the limit resets.
    """

    pace_below: float = Field(default=0.1, ge=0.0, le=1.0)


def pace_delay(
    remaining: float, limit: float | None, *, window: float, reset: float | None = None, below: float = 0.1
) -> float:
    """Seconds to wait before the next request, from what a rate limit has left.

    Nothing while more than ``below`` of ``limit`` remains (with no known limit: more than
    10 requests); then the time to the reset (``reset`` seconds, or the whole ``window``)
    shared among the requests left, and the whole of it once none is left.

    >>> pace_delay(900, 1000, window=10), pace_delay(50, 1000, window=10)
    (0.0, 0.2)
    >>> pace_delay(0, 100, window=60, reset=12)
    12.0
    """
    if below <= 0:
        return 0.0
    if (limit is not None and limit > 0 and remaining > below * limit) or (
        (limit is None or limit <= 0) and remaining > 10
    ):
        return 0.0
    until = reset if reset is not None and reset >= 0 else window
    return float(until) if remaining <= 0 else until / remaining


def header_number(headers: Mapping[str, str], *names: str) -> float | None:
    """The first of ``names`` present in ``headers`` as a finite number, or None."""
    for name in names:
        value = headers.get(name)
        if value is None:
            continue
        try:
            number = float(value.strip())
        except ValueError:
            continue
        if math.isfinite(number):
            return number
    return None


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        # "nan" and "inf" parse as floats but are not delta-seconds.
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000" dates come back naive; HTTP dates are always UTC
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


# What a person can do once retries have run out, by kind of transient failure.
RATE_LIMITED = (
    "the API's rate limit is used up: wait for its limit window to reset, or lower "
    "concurrency (fewer syncs or other clients sharing these credentials), then sync again"
)
SERVER_FAILING = "the service kept failing: check its status page, then sync again later"
UNREACHABLE = (
    "check the source's URL option and that this machine can reach it (network, proxy, firewall, DNS), then sync again"
)
TIMED_OUT = "the server did not answer in time: raise the source's 'timeout' option or sync again later"


Classifier = Callable[[httpx.Response], TransientSourceError | TerminalSourceError | None]
Pacer = Callable[[httpx.Response], float]  # seconds to wait after this answer, from its headers


class HttpSource:
    """A thin wrapper over ``httpx.Client`` for one source.

    ``max_retries`` attempts are made for transient failures; the wait is
    ``Retry-After`` when the server gives one (capped at ``max_wait``), otherwise
    ``backoff * 2**attempt``. A source whose API signals errors its own way (say,
    Salesforce's 403 ``REQUEST_LIMIT_EXCEEDED``) passes ``classify``: it sees each
    failed response first and returns an error, or None to fall back to the defaults.
    A source whose answers report its rate limit passes ``pace``: after each successful
    answer, the client sleeps as long as it says (capped at ``max_wait``), slowing down
    before the limit runs out rather than meeting 429s. ``requests`` counts what was sent.
    """

    def __init__(
        self,
        source: str,
        base_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | tuple[str, str] | None = None,
        timeout: float = 30.0,
        max_retries: int = 5,
        backoff: float = 0.5,
        max_wait: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        classify: Classifier | None = None,
        pace: Pacer | None = None,
    ) -> None:
        self.source = source
        self._custom_classify = classify
        self._pace = pace
        self.requests = 0
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_wait = max_wait
        self._sleep = sleep
        self.client = httpx.Client(base_url=base_url, headers=dict(headers or {}), auth=auth, timeout=timeout)

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        policy = Backoff(self.max_retries, self.backoff, self.max_wait)
        return retry(lambda: self._once(method, url, **kwargs), policy, sleep=self._sleep)

    def _once(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One attempt: the answer, or the error it is (transient ones are retried by ``request``)."""
        self.requests += 1
        try:
            response = self.client.request(method, url, **kwargs)
        except (httpx.TimeoutException, httpx.TransportError) as exc:
            raise RetryableSourceError(
                self.source,
                f"{method} {_path(url)}: {type(exc).__name__}: could not reach the server",
                next_step=TIMED_OUT if isinstance(exc, httpx.TimeoutException) else UNREACHABLE,
            ) from exc
        if response.status_code >= 400:
            raise self._classify(method, url, response)
        if self._pace is not None:
            delay = self._pace(response)
            if delay > 0:
                self._sleep(min(delay, self.max_wait))
        return response

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def close(self) -> None:
        self.client.close()

    def _classify(self, method: str, url: str, response: httpx.Response) -> TransientSourceError | TerminalSourceError:
        if self._custom_classify is not None:
            custom = self._custom_classify(response)
            if custom is not None:
                return custom
        status = response.status_code
        where = f"{method} {_path(url)} answered {status}"
        detail = _excerpt(response)
        if status == 429 or status >= 500:
            return RetryableSourceError(
                self.source,
                f"{where}{detail}",
                next_step=RATE_LIMITED if status == 429 else SERVER_FAILING,
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        if status in (401, 403):
            return TerminalSourceError(
                self.source, f"{where}: credentials were rejected; check the source's key or token{detail}"
            )
        if status == 404:
            return TerminalSourceError(self.source, f"{where}: not found; check the object or stream name{detail}")
        return TerminalSourceError(self.source, f"{where}{detail}")


def source_http(
    source: str,
    base_url: str,
    options: HttpOptions,
    *,
    headers: Mapping[str, str] | None = None,
    auth: httpx.Auth | tuple[str, str] | None = None,
    classify: Classifier | None = None,
    pace: Pacer | None = None,
    **overrides: Any,
) -> HttpSource:
    """The source's client, its timeout and retries from ``options`` unless ``overrides`` say."""
    overrides.setdefault("timeout", options.timeout)
    overrides.setdefault("max_retries", options.max_retries)
    return HttpSource(source, base_url, headers=headers, auth=auth, classify=classify, pace=pace, **overrides)


def bearer(token: SecretStr) -> dict[str, str]:
    """The ``Authorization`` header for a bearer token."""
    return {"Authorization": f"Bearer {token.get_secret_value()}"}


def json_object(source: str, response: httpx.Response, where: str) -> dict[str, Any]:
    """The response's body, which must be a JSON object; Terminal otherwise."""
    try:
        body = response.json()
    except ValueError:
        raise TerminalSourceError(source, f"{where}: the answer is not JSON") from None
    if not isinstance(body, dict):
        raise TerminalSourceError(source, f"{where}: expected a JSON object")
    return body


def item_key(item: Any, key: str, location: str, bad: list[Quarantined]) -> str | None:
    """The key of one item of an API's answer, or None once the item is quarantined in ``bad``.

    >>> bad = []
    >>> item_key({"id": 3}, "id", "page 1 item 0", bad), item_key([], "id", "page 1 item 1", bad)
    ('3', None)
    >>> bad[0].reason
    'not a JSON object'
    """
    if not isinstance(item, dict):
        bad.append(Quarantined(location, "not a JSON object", json.dumps(item)[:1000]))
        return None
    k = record_key(item, key)
    if k is None:
        bad.append(Quarantined(location, f"missing key '{key}'", json.dumps(item)[:1000]))
    return k


def start_epoch(value: dt.datetime | dt.date | None) -> float | None:
    """A ``start_date`` option as Unix seconds: a date is its midnight UTC, naive times are UTC.

    >>> start_epoch(dt.date(2024, 1, 1)), start_epoch(None)
    (1704067200.0, None)
    """
    if value is None:
        return None
    if not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    elif value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.timestamp()


def _path(url: str) -> str:
    # Query strings can carry tokens; only the path is safe to print.
    return httpx.URL(url).path or url


def _excerpt(response: httpx.Response) -> str:
    try:
        text = response.text.strip()
    except Exception:  # pragma: no cover - undecodable bodies
        return ""
    return f" ({text[:200]})" if text else ""
