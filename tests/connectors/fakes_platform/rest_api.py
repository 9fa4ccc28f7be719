"""A small customers API with the four pagination styles the REST connector speaks.

``/cursor/customers``  body ``{"data": [...], "next_cursor": "...", "has_more": true}``
``/offset/customers``  ``?limit&offset``, body ``{"results": {"items": [...]}}``
``/page/customers``    ``?page&per_page``, the body is the array
``/link/customers``    ``?page``, the body is the array, ``Link: <...>; rel="next"``
``/customers/{id}``    one customer, or 404

Every list honours ``updated_since`` (records updated strictly after it).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from tests.connectors.fakes_platform.common import Faults
from tests.connectors.httpfake import FakeRequest, FakeResponse

TOKEN = "s3cr3t-token"
PAGE = 2  # server-side page size for the cursor and link styles


@dataclass
class RestApi:
    customers: list[dict[str, Any]] = field(default_factory=list)
    auth: str = "bearer"  # bearer | basic | api_key_header | api_key_query
    faults: Faults = field(default_factory=Faults)
    base_url: str = ""

    def authorised(self, req: FakeRequest) -> bool:
        if self.auth == "bearer":
            return req.headers.get("authorization") == f"Bearer {TOKEN}"
        if self.auth == "basic":
            want = base64.b64encode(f"svc:{TOKEN}".encode()).decode()
            return req.headers.get("authorization") == f"Basic {want}"
        if self.auth == "api_key_header":
            return req.headers.get("x-api-key") == TOKEN
        return req.arg("api_key") == TOKEN

    def visible(self, req: FakeRequest) -> list[dict[str, Any]]:
        since = req.arg("updated_since")
        rows = sorted(self.customers, key=lambda r: str(r.get("id", "")))
        return [r for r in rows if since is None or str(r.get("updated_at", "")) > since]

    def __call__(self, req: FakeRequest) -> FakeResponse:
        fault = self.faults.take()
        if fault is not None:
            return fault
        if not self.authorised(req):
            return FakeResponse(401, {"error": "invalid_token", "message": "bad credentials"})
        rows = self.visible(req)
        style, _, rest = req.path.strip("/").partition("/")
        if style == "customers":
            found = [r for r in self.customers if str(r.get("id")) == rest]
            return FakeResponse(200, {"customer": found[0]}) if found else FakeResponse(404, {"error": "not_found"})
        if style == "cursor":
            start = int(req.arg("cursor") or 0)
            chunk = rows[start : start + PAGE]
            more = start + PAGE < len(rows)
            return FakeResponse(
                200, {"data": chunk, "next_cursor": str(start + PAGE) if more else None, "has_more": more}
            )
        if style == "offset":
            limit, offset = int(req.arg("limit") or 10), int(req.arg("offset") or 0)
            return FakeResponse(200, {"results": {"items": rows[offset : offset + limit]}})
        if style == "page":
            page, size = int(req.arg("page") or 1), int(req.arg("per_page") or 10)
            return FakeResponse(200, rows[(page - 1) * size : page * size])
        if style == "link":
            page = int(req.arg("page") or 1)
            chunk = rows[(page - 1) * PAGE : page * PAGE]
            headers = {}
            if page * PAGE < len(rows):
                nxt = f"{self.base_url}/link/customers?page={page + 1}"
                if req.arg("updated_since"):
                    nxt += f"&updated_since={req.arg('updated_since')}"
                headers["Link"] = f'<{nxt}>; rel="next", <{self.base_url}/link/customers?page=1>; rel="first"'
            return FakeResponse(200, chunk, headers)
        return FakeResponse(404, {"error": f"no route {req.path}"})
