"""Shared fixtures: service availability (skip locally, fail in CI)."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

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


# -- a small demo product, generated and built once per test session -----------------


@dataclass(frozen=True)
class BuiltDemo:
    dir: Path
    spec_path: Path
    store_url: str
    version: int


DEMO_AS_OF = "2026-06-01"


def build_demo(dir: Path, accounts: int = 120, seed: int = 3) -> BuiltDemo:
    import datetime as dt
    import shutil

    from c360.demo.generator import generate
    from c360.pipeline.build import build
    from c360.spec.validate import load_spec
    from c360.store import Store

    generate(dir, accounts=accounts, seed=seed, as_of=dt.date.fromisoformat(DEMO_AS_OF))
    shutil.copyfile(Path(__file__).parents[1] / "src/c360/demo/product.yaml", dir / "product.yaml")
    spec = load_spec(dir / "product.yaml")
    url = f"sqlite:///{dir}/store.db"
    store = Store.open(url)
    report = build(spec, store, as_of=dt.datetime(2026, 6, 1, tzinfo=dt.UTC))
    store.close()
    assert report.version is not None
    return BuiltDemo(dir, dir / "product.yaml", url, report.version)


@pytest.fixture(scope="session")
def built_demo(tmp_path_factory: pytest.TempPathFactory) -> BuiltDemo:
    return build_demo(tmp_path_factory.mktemp("demo"))
