"""One retry loop, used by every connector and by sync.

A call is retried while it raises :class:`~c360.core.errors.TransientSourceError`; the wait is
the error's ``retry_after`` when the source said how long (a ``Retry-After`` header), otherwise
``base * 2**attempt``, and never more than ``cap``. Once the retries run out, the error raised
is :class:`RetriesExhausted`: it says how many attempts were made and what a person can do next.

Retries do not stack: an error that is already :class:`RetriesExhausted` (a connector gave up
after its own attempts) is raised at once by an outer loop (sync), never retried again.

>>> calls = []
>>> def flaky() -> str:
...     calls.append(1)
...     if len(calls) < 3:
...         raise TransientSourceError("crm", "GET /q answered 503")
...     return "ok"
>>> retry(flaky, Backoff(max_retries=5), sleep=lambda s: None), len(calls)
('ok', 3)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from c360.core.errors import TransientSourceError

T = TypeVar("T")

TRY_LATER = "the failure may pass: sync again later"


class RetryableSourceError(TransientSourceError):
    """A transient failure that also knows the next step to name if every retry fails.

    The step is kept apart from the message because it only applies to the final error:
    while retries remain, the failure is expected to pass.
    """

    def __init__(self, source: str, message: str, *, next_step: str, retry_after: float | None = None) -> None:
        super().__init__(source, message, retry_after=retry_after)
        self.next_step = next_step


class RetriesExhausted(RetryableSourceError):
    """Every attempt failed: ``attempts`` were made. Never retried by an outer loop."""

    def __init__(self, source: str, message: str, *, next_step: str, attempts: int, retry_after: float | None) -> None:
        super().__init__(source, message, next_step=next_step, retry_after=retry_after)
        self.attempts = attempts


def gave_up(error: TransientSourceError, attempts: int) -> RetriesExhausted:
    """The final error once ``attempts`` tries all failed: what failed, how often, what next.

    >>> str(gave_up(RetryableSourceError("crm", "GET /q answered 429", next_step="wait"), 6))
    "source 'crm': GET /q answered 429; gave up after 6 attempts: wait"
    """
    detail = str(error).removeprefix(f"source '{error.source}': ")
    step = error.next_step if isinstance(error, RetryableSourceError) else TRY_LATER
    plural = "attempt" if attempts == 1 else "attempts"
    return RetriesExhausted(
        error.source,
        f"{detail}; gave up after {attempts} {plural}: {step}",
        next_step=step,
        attempts=attempts,
        retry_after=error.retry_after,
    )


@dataclass(frozen=True)
class Backoff:
    """How often to retry and how long to wait: ``max_retries`` retries after the first attempt."""

    max_retries: int = 5
    base: float = 0.5
    cap: float = 60.0

    def wait(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds before retry number ``attempt + 1`` (``attempt`` counts from 0).

        >>> [Backoff(base=2.0, cap=30.0).wait(a) for a in range(5)]
        [2.0, 4.0, 8.0, 16.0, 30.0]
        >>> Backoff().wait(0, retry_after=120.0)
        60.0
        """
        return float(min(retry_after if retry_after is not None else self.base * 2**attempt, self.cap))


def retry(
    attempt_once: Callable[[], T],
    policy: Backoff,
    *,
    sleep: Callable[[float], None] = time.sleep,
    on_retry: Callable[[TransientSourceError, int], None] | None = None,
) -> T:
    """``attempt_once()``, retried on transient failures as ``policy`` says.

    ``on_retry(error, attempt)`` is told of each failure that will be retried (to log it).
    Any other exception, and an error that is already :class:`RetriesExhausted`, propagates.
    """
    attempt = 0
    while True:
        try:
            return attempt_once()
        except RetriesExhausted:
            raise
        except TransientSourceError as error:
            if attempt >= policy.max_retries:
                raise gave_up(error, attempt + 1) from error
            if on_retry is not None:
                on_retry(error, attempt)
            sleep(policy.wait(attempt, error.retry_after))
            attempt += 1
