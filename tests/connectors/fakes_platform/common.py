"""Failure injection shared by the platform fakes: the next answers can be errors."""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.connectors.httpfake import FakeResponse


@dataclass
class Faults:
    """A queue of error answers served before the real ones (429, 5xx, ...)."""

    queue: list[FakeResponse] = field(default_factory=list)

    def rate_limit(self, retry_after: str = "7") -> None:
        self.queue.append(FakeResponse(429, {"error": "rate limited"}, {"Retry-After": retry_after}))

    def server_error(self, status: int = 503) -> None:
        self.queue.append(FakeResponse(status, {"error": "upstream unavailable"}))

    def take(self) -> FakeResponse | None:
        return self.queue.pop(0) if self.queue else None
