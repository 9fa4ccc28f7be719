"""Structured logs: the formats, and a demo build and serve whose logs hold no e-mail and no key."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from c360.core import logs
from c360.core.errors import C360Error
from tests.api.servers import running
from tests.conftest import DEMO_AS_OF

EMAIL = re.compile(rb"[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


def _capture(fmt: str) -> tuple[logging.Logger, io.StringIO]:
    out = io.StringIO()
    logs.setup(fmt, "DEBUG", stream=out)
    return logging.getLogger("c360.test"), out


def test_logfmt_quotes_what_needs_quoting_and_flattens_mappings() -> None:
    log, out = _capture("logfmt")
    logs.event(
        log,
        "build stage",
        stage="sync",
        seconds=1.25,
        records={"crm": 12, "billing": 3},
        note='a "b" c',
        empty=None,
        ok=True,
    )
    line = out.getvalue().strip()
    assert re.match(
        r"ts=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z level=info logger=c360.test "
        r'msg="build stage" stage=sync seconds=1.25 records.crm=12 records.billing=3 '
        r'note="a \\"b\\" c" empty= ok=true$',
        line,
    ), line


def test_json_is_one_object_a_line() -> None:
    log, out = _capture("json")
    logs.event(log, "request", consumer="finance", status=200, ms=0.5, level="shadowed")
    record = json.loads(out.getvalue())
    assert record["msg"] == "request" and record["level"] == "info" and record["logger"] == "c360.test"
    assert record["consumer"] == "finance" and record["status"] == 200 and record["_level"] == "shadowed"


def test_levels_and_formats_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("C360_LOG_LEVEL", "warning")
    log, out = logging.getLogger("c360.test"), io.StringIO()
    logs.setup(stream=out)
    logs.event(log, "hidden")
    logs.event(log, "shown", logging.WARNING)
    assert "hidden" not in out.getvalue() and "shown" in out.getvalue()
    with pytest.raises(C360Error, match="log format"):
        logs.setup("xml")
    with pytest.raises(C360Error, match="log level"):
        logs.setup(level="LOUD")


def _c360(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-c", "from c360.cli import main; main()", *args],
        capture_output=True,
        env={**os.environ, **(env or {})},
        timeout=300,
        check=False,
    )


def test_a_demo_build_and_serve_log_no_email_and_no_key(tmp_path: Path) -> None:
    from c360.demo.generator import generate
    from c360.store import Store

    demo = tmp_path / "demo"
    generate(demo, accounts=60, seed=5, as_of=dt.date.fromisoformat(DEMO_AS_OF))
    shutil.copyfile(Path(__file__).parents[2] / "src/c360/demo/product.yaml", demo / "product.yaml")
    url = f"sqlite:///{demo}/store.db"
    built = _c360(
        "build", str(demo / "product.yaml"), "--store", url, "--as-of", "2026-06-01T00:00:00Z", "--log-format", "logfmt"
    )
    assert built.returncode == 0, built.stderr.decode()
    build_log = built.stderr
    stages = [ln for ln in build_log.decode().splitlines() if 'msg="build stage"' in ln]
    assert [re.search(r" stage=(\w+)", ln).group(1) for ln in stages] == [  # type: ignore[union-attr]
        "sync",
        "normalise",
        "resolve",
        "materialise",
        "check",
        "publish",
    ]
    assert re.search(r"stage=normalise seconds=[\d.]+ records\.crm=\d+", build_log.decode())
    assert 'msg="build finished"' in build_log.decode()

    store = Store.open(url)
    keys = {c: store.create_key(c) for c in ("finance", "support", "marketing", "churn_model", "product_owner")}
    emails = sorted(
        {
            m
            for f in demo.iterdir()
            if f.is_file() and f.suffix in {".csv", ".json", ".jsonl", ".ndjson"}
            for m in EMAIL.findall(f.read_bytes())
        }
    )
    assert len(emails) > 20
    ids = [cid for cid, _ in store.snapshot_rows(store.current_version() or 0)][:5]
    store.close()

    log = tmp_path / "serve.log"
    with (
        running(demo / "product.yaml", url, log, env={"C360_LOG_FORMAT": "json"}) as port,
        httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http,
    ):
        sent = 0
        for key in keys.values():
            auth = {"Authorization": f"Bearer {key}"}
            for cid in ids:
                assert http.get(f"/v1/customers/{cid}", headers=auth).status_code in {200, 403, 404}
                sent += 1
            http.post("/v1/customers:batchGet", headers=auth, json={"ids": ids})
            http.get("/v1/customers:lookup", headers=auth, params={"email": emails[0]})
            http.get("/v1/customers", headers=auth, params={"limit": 5})
            http.get("/v1/schema", headers=auth)
            sent += 4
        owner = {"Authorization": f"Bearer {keys['product_owner']}"}
        assert http.get("/metrics", headers=owner).status_code == 200
        assert http.get("/", headers=owner).status_code == 200
        bad = {"Authorization": "Bearer c360_not-a-key"}
        assert http.get(f"/v1/customers/{ids[0]}", headers=bad).status_code == 401
        assert http.get("/v1/customers:lookup", params={"email": emails[1]}).status_code == 401
        sent += 4
    served = log.read_bytes()
    lines = [json.loads(ln) for ln in served.decode().splitlines() if ln.startswith("{")]
    start = [r for r in lines if r["msg"] == "c360 serve starting"]
    assert start and start[0]["snapshot"] >= 1 and start[0]["serving"] in {"file", "memory"}
    assert start[0]["workers"] == 1 and start[0]["version"]
    access = [r for r in lines if r["logger"] == "c360.access"]
    assert len(access) >= sent, (len(access), sent)
    routes = {r["route"] for r in access}
    assert {"/v1/customers/{customer_id}", "/v1/customers:lookup", "/v1/customers:batchGet", "/metrics"} <= routes
    assert all({"consumer", "status", "ms", "snapshot", "route"} <= set(r) for r in access)
    assert {r["consumer"] for r in access} >= {"finance", "product_owner"}
    assert any(r["status"] == 401 for r in access)
    captured = build_log + served
    for email in emails:
        assert email not in captured, email
        assert email.lower() not in captured.lower(), email
    for consumer, key in keys.items():
        secret = key.removeprefix(f"c360_{consumer}_").encode()  # the random part, 32 characters
        assert len(secret) == 32 and key.encode() not in captured
        assert not any(secret[i : i + 12] in captured for i in range(len(secret) - 11))  # nor any 12 of it
    assert not any(cid.encode() in line for cid in ids for line in served.splitlines() if b"c360.access" in line)
