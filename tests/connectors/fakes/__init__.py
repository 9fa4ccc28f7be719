"""Local fakes of SaaS APIs, answering with each API's documented shapes, for connector tests.

Each fake holds its data in plain lists, checks credentials like the real service, and
can be told to fail the next requests (``fail_next``) with a rate limit, a server
error or anything else, so tests exercise retries and error handling end to end.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests.connectors.httpfake import FakeRequest, FakeResponse


@dataclass
class Fault:
    response: FakeResponse
    path_contains: str = ""
    times: int = 1


@dataclass
class ApiFake:
    """Base: injected faults first, then credentials, then the API's own routing."""

    faults: list[Fault] = field(default_factory=list)
    served: int = 0

    def fail_next(
        self,
        status: int,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        path_contains: str = "",
        times: int = 1,
    ) -> None:
        self.faults.append(Fault(FakeResponse(status, body, headers or {}), path_contains, times))

    def __call__(self, req: FakeRequest) -> FakeResponse:
        self.served += 1
        for fault in self.faults:
            if fault.times > 0 and fault.path_contains in req.path:
                fault.times -= 1
                return fault.response
        denied = self.authenticate(req)
        if denied is not None:
            return denied
        return self.route(req)

    def authenticate(self, req: FakeRequest) -> FakeResponse | None:
        return None

    def route(self, req: FakeRequest) -> FakeResponse:
        raise NotImplementedError
