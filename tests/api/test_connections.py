"""A real server's connections: a client that never sends its request, or trickles it, is
closed after ``C360_HEADER_TIMEOUT``; past ``C360_MAX_CONNECTIONS`` requests get a 503."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.api.servers import running
from tests.conftest import BuiltDemo

HEADER_TIMEOUT = 1.0
SLACK = 8.0  # a loaded test machine; the bound itself is HEADER_TIMEOUT


@contextmanager
def _server(demo: BuiltDemo, log: Path, server: str, **env: str) -> Iterator[int]:
    with running(
        demo.spec_path,
        demo.store_url,
        log,
        env={"C360_SERVER": server, "C360_HEADER_TIMEOUT": str(HEADER_TIMEOUT), **env},
    ) as port:
        yield port


def _closed_within(sock: socket.socket, seconds: float, trickle: bytes = b"") -> float | None:
    """Seconds until the server closed ``sock`` (sending ``trickle`` a byte at a time), or None."""
    started = time.monotonic()
    sock.settimeout(0.25)
    sent = 0
    while time.monotonic() - started < seconds:
        if sent < len(trickle):
            try:
                sock.send(trickle[sent : sent + 1])
            except OSError:
                return time.monotonic() - started
            sent += 1
        try:
            if sock.recv(1024) == b"":
                return time.monotonic() - started
        except TimeoutError:
            continue
        except OSError:
            return time.monotonic() - started
    return None


SERVERS = [
    "uvicorn",
    pytest.param(
        "granian",
        marks=pytest.mark.skipif(
            __import__("importlib").util.find_spec("granian") is None, reason="granian is an optional extra"
        ),
    ),
]


@pytest.mark.parametrize("server", SERVERS)
def test_silent_and_trickling_connections_are_closed(built_demo: BuiltDemo, tmp_path: Path, server: str) -> None:
    with _server(built_demo, tmp_path / "serve.log", server) as port:
        silent = [socket.create_connection(("127.0.0.1", port)) for _ in range(20)]
        trickling = socket.create_connection(("127.0.0.1", port))
        try:
            if server == "uvicorn":
                # granian's timer starts at a request's first byte: the README says so.
                waited = _closed_within(silent[0], HEADER_TIMEOUT + SLACK)
                assert waited is not None, "a connection that sent nothing was kept open"
                assert all(_closed_within(s, SLACK) is not None for s in silent[1:])
            # Headers sent a byte every 0.25 s never complete within the timeout.
            head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 200 + b"\r\n\r\n"
            assert _closed_within(trickling, HEADER_TIMEOUT + SLACK, trickle=head) is not None
            # A client that sends its request in time is served, on a fresh connection and on
            # a kept-alive one after a pause shorter than the timeout.
            with httpx.Client(base_url=f"http://127.0.0.1:{port}") as http:
                assert http.get("/healthz").status_code == 200
                time.sleep(HEADER_TIMEOUT / 3)
                assert http.get("/healthz").status_code == 200
        finally:
            for s in [*silent, trickling]:
                s.close()


def test_requests_past_the_connection_limit_get_a_503(built_demo: BuiltDemo, tmp_path: Path) -> None:
    with _server(
        built_demo, tmp_path / "serve.log", "uvicorn", C360_MAX_CONNECTIONS="4", C360_HEADER_TIMEOUT="60"
    ) as port:
        held = [socket.create_connection(("127.0.0.1", port)) for _ in range(6)]
        try:
            time.sleep(0.5)
            r = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
            assert r.status_code == 503
        finally:
            for s in held:
                s.close()
        deadline = time.monotonic() + SLACK
        while httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code != 200:
            assert time.monotonic() < deadline, "the server did not recover once connections closed"
            time.sleep(0.2)
