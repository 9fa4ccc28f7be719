"""``c360 serve`` in a process of its own, for tests that need a real server on loopback."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(
    spec: Path, store_url: str, log: Path, *, workers: int = 1, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], int]:
    """``c360 serve`` in its own session (so a test can kill its whole group), once ready."""
    port = free_port()
    argv = [
        sys.executable,
        "-c",
        "from c360.cli import main; main()",
        "serve",
        str(spec),
        "--store",
        store_url,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, f"c360 serve exited: {log.read_text()}"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"c360 serve never became ready: {log.read_text()}"
            time.sleep(0.2)
    except BaseException:
        stop(proc)
        raise
    return proc, port


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's group, SIGKILL if it lingers."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@contextmanager
def running(
    spec: Path, store_url: str, log: Path, *, workers: int = 1, env: dict[str, str] | None = None
) -> Iterator[int]:
    """The port of a ready server, stopped when the block ends."""
    proc, port = start(spec, store_url, log, workers=workers, env=env)
    try:
        yield port
    finally:
        stop(proc)
