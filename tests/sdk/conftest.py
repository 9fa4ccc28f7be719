"""A private copy of the built demo, with one merged id, served by a real ``c360 serve``."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import insert

from c360.store import Store
from c360.store.schema import customers
from tests.api import servers
from tests.conftest import BuiltDemo

MERGED = "c_merged0000test"


@dataclass
class Demo:
    dir: Path
    spec_path: Path
    store_url: str
    keys: dict[str, str]
    survivor: str  # the id MERGED redirects to
    url: str = ""


@pytest.fixture(scope="session")
def sdk_demo(built_demo: BuiltDemo, tmp_path_factory: pytest.TempPathFactory) -> Demo:
    """The demo's spec, sources and store copied (keys and a merged id added to the copy only)."""
    d = tmp_path_factory.mktemp("sdk")
    for p in built_demo.dir.iterdir():
        if p.is_file() and not p.name.startswith("store.db-"):
            shutil.copy2(p, d / p.name)
    url = f"sqlite:///{d}/store.db"
    store = Store.open(url)
    keys = {c: store.create_key(c) for c in ("finance", "support", "marketing", "churn_model", "product_owner")}
    version = store.current_version()
    assert version is not None
    survivor = sorted(cid for cid, _ in store.snapshot_rows(version))[0]
    with store.engine.begin() as conn:
        conn.execute(
            insert(customers).values(
                customer_id=MERGED,
                created_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
                status="merged",
                merged_into=survivor,
                run_id="test",
            )
        )
    store.close()
    return Demo(d, d / "product.yaml", url, keys, survivor)


@pytest.fixture(scope="session")
def served_demo(sdk_demo: Demo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    log = tmp_path_factory.mktemp("sdk-serve") / "serve.log"
    env = {"C360_SERVING": "memory", "C360_MASK_KEY": "k" * 32}
    proc, port = servers.start(sdk_demo.spec_path, sdk_demo.store_url, log, env=env)
    try:
        sdk_demo.url = f"http://127.0.0.1:{port}"
        yield sdk_demo
    finally:
        servers.stop(proc)
