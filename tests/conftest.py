"""Shared fixtures: service availability (skip locally, fail in CI)."""

from __future__ import annotations

import os
import socket

import pytest

REQUIRE_SERVICES = os.environ.get("C360_REQUIRE_SERVICES") == "1"


def service_available(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def need_service(name: str, host: str, port: int) -> None:
    """Skip when the server is absent; fail instead when C360_REQUIRE_SERVICES=1."""
    if service_available(host, port):
        return
    message = f"{name} is not reachable on {host}:{port}"
    if REQUIRE_SERVICES:
        pytest.fail(message + " (C360_REQUIRE_SERVICES=1)")
    pytest.skip(message)


def need_module(module: str) -> None:
    """Skip when an optional client is absent; fail instead when C360_REQUIRE_SERVICES=1."""
    import importlib.util

    if importlib.util.find_spec(module) is not None:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"optional module {module} is not installed (C360_REQUIRE_SERVICES=1)")
    pytest.skip(f"optional module {module} is not installed")
