"""Local fakes of SaaS APIs, answering with each API's documented shapes, for connector tests.

Each fake holds its data in plain lists, checks credentials like the real service, and
can be told to fail the next requests (``fail_next``) with a rate limit, a server
error or anything else, so tests exercise retries and error handling end to end.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tests.connectors.httpfake import FakeRequest, FakeResponse

if TYPE_CHECKING:
    from tests.connectors.fakes.oauth import TokenIssuer


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
    issuer: TokenIssuer | None = None  # an OAuth token endpoint, and the tokens it issued
    headers: dict[str, str] = field(default_factory=dict)  # sent with every answer routed

    def token_ok(self, req: FakeRequest, fixed: str) -> bool:
        """The request carries the fixed token, or one the issuer handed out and still honours."""
        if req.headers.get("authorization") == f"Bearer {fixed}":
            return True
        return self.issuer is not None and self.issuer.accepts(req)

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
        if self.issuer is not None and req.path == self.issuer.path:
            return self.issuer.handle(req)
        denied = self.authenticate(req)
        if denied is not None:
            return denied
        answer = self.route(req)
        answer.headers = {**self.headers, **answer.headers}
        return answer

    def authenticate(self, req: FakeRequest) -> FakeResponse | None:
        return None

    def route(self, req: FakeRequest) -> FakeResponse:
        raise NotImplementedError
