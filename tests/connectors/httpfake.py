"""A local HTTP server for connector tests: a handler function answers each request.

def handler(req: FakeRequest) -> FakeResponse: ...
with serve(handler) as base_url:
    ...  # talk to base_url; every request is also kept in server.requests
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.conftest import need_service


@dataclass
class FakeRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class FakeResponse:
    status: int = 200
    body: Any = None  # dict/list -> JSON; bytes/str sent as is
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[FakeRequest], FakeResponse]


class FakeServer:
    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[FakeRequest] = []
        outer = self

        class _H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                return None

            def _do(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                req = FakeRequest(
                    self.command,
                    parts.path,
                    parse_qs(parts.query, keep_blank_values=True),
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length) if length else b"",
                )
                outer.requests.append(req)
                resp = outer.handler(req)
                body = resp.body
                if isinstance(body, dict | list):
                    payload = json.dumps(body).encode()
                    ctype = "application/json"
                elif isinstance(body, str):
                    payload, ctype = body.encode(), "text/plain"
                else:
                    payload, ctype = body or b"", "application/octet-stream"
                self.send_response(resp.status)
                headers = {"Content-Type": ctype, **resp.headers}
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _do

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _H)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self) -> FakeServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@contextmanager
def serve(handler: Handler) -> Iterator[FakeServer]:
    server = FakeServer(handler).start()
    try:
        yield server
    finally:
        server.stop()


class Current:
    """A module's one server answers with whichever fake the running test set up."""

    fake: Handler

    def __call__(self, req: FakeRequest) -> FakeResponse:
        return self.fake(req)


@contextmanager
def serve_current() -> Iterator[tuple[Current, FakeServer]]:
    with serve(current := Current()) as server:
        yield current, server


def need_fake_server(name: str, server: FakeServer) -> None:
    """Skip (or fail under C360_REQUIRE_SERVICES=1) when the local fake does not answer."""
    host, port = server.url.removeprefix("http://").split(":")
    need_service(name, host, int(port))
