"""The last build as Prometheus metrics: pushed to a Pushgateway, and rendered by ``/metrics``."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from c360.api import create_app
from c360.pipeline.build import build
from c360.spec.validate import Spec, load_spec
from c360.store import Store
from tests.conftest import DEMO_AS_OF


@dataclass
class Push:
    method: str
    path: str
    body: bytes


class Gateway:
    """A Pushgateway stand-in on loopback that records what is pushed."""

    def __init__(self) -> None:
        self.pushes: list[Push] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _record(self) -> None:
                n = int(self.headers.get("content-length") or 0)
                outer.pushes.append(Push(self.command, self.path, self.rfile.read(n)))
                self.send_response(200)
                self.end_headers()

            do_PUT = do_POST = _record

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Built:
    spec: Spec
    url: str
    gateway: Gateway
    customers: int


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    from c360.demo.generator import generate

    demo = tmp_path_factory.mktemp("metrics-demo")
    generate(demo, accounts=40, seed=11, as_of=dt.date.fromisoformat(DEMO_AS_OF))
    shutil.copyfile(Path(__file__).parents[2] / "src/c360/demo/product.yaml", demo / "product.yaml")
    spec = load_spec(demo / "product.yaml")
    url = f"sqlite:///{demo}/store.db"
    gateway = Gateway()
    mp = pytest.MonkeyPatch()
    mp.setenv("C360_PUSHGATEWAY_URL", gateway.url)
    store = Store.open(url)
    try:
        report = build(spec, store, as_of=dt.datetime(2026, 6, 1, tzinfo=dt.UTC))
    finally:
        store.close()
        mp.undo()
    assert report.customers > 10
    yield Built(spec, url, gateway, report.customers)
    gateway.close()


def test_a_build_pushes_its_metrics_to_the_pushgateway(built: Built) -> None:
    assert len(built.gateway.pushes) == 1
    push = built.gateway.pushes[0]
    assert push.method == "PUT"
    assert push.path == "/metrics/job/c360_build/product/customer_360"
    text = push.body.decode()
    for stage in ("sync", "normalise", "resolve", "materialise", "check", "publish"):
        assert f'c360_build_stage_duration_seconds{{stage="{stage}"}}' in text
    assert 'c360_build_source_records{source="crm"}' in text
    assert 'c360_build_quarantined_records{source="crm"}' in text
    assert f"c360_build_customers {built.customers:.1f}" in text
    assert f'c360_build_identity_events{{kind="new"}} {built.customers:.1f}' in text
    assert "c360_build_last_success_timestamp_seconds " in text
    assert "c360_build_last_run_succeeded 1.0" in text


def test_a_push_that_fails_is_reported_and_does_not_fail_the_build(
    built: Built, monkeypatch: pytest.MonkeyPatch
) -> None:
    from c360.pipeline.metrics import push_build_metrics

    monkeypatch.setenv("C360_PUSHGATEWAY_URL", "http://127.0.0.1:9")  # nothing listens on port 9
    store = Store.open(built.url)
    try:
        assert push_build_metrics(built.spec, store, "build-x") is False
        monkeypatch.delenv("C360_PUSHGATEWAY_URL")
        assert push_build_metrics(built.spec, store, "build-x") is False
    finally:
        store.close()


def test_metrics_show_the_last_build_and_drift_as_a_counter(built: Built) -> None:
    store = Store.open(built.url)
    key = store.create_key("product_owner")
    finance = store.create_key("finance")
    app = create_app(built.spec, store, refresh_seconds=0, mask_key=b"k" * 32, jwt=None)
    try:
        with TestClient(app) as client:
            page = client.get(
                "/v1/customers", params={"limit": 3}, headers={"Authorization": f"Bearer {finance}"}
            ).json()
            assert page["items"]
            text = client.get("/metrics", headers={"Authorization": f"Bearer {key}"}).text
    finally:
        store.close()
    assert re.search(r"^# TYPE c360_purpose_drift_reads(_total)? counter$", text, re.M)
    assert 'c360_purpose_drift_reads_total{consumer="finance"}' in text
    assert "# TYPE c360_build_stage_duration_seconds gauge" in text
    assert 'c360_build_stage_duration_seconds{stage="resolve"}' in text
    assert f"c360_build_customers {built.customers:.1f}" in text
    assert "c360_build_last_success_timestamp_seconds" in text


def test_a_failed_build_is_the_last_run_but_not_the_last_success(built: Built) -> None:
    from c360.pipeline.metrics import families, last_builds

    store = Store.open(built.url)
    try:
        _, ok = last_builds(store)
        assert ok is not None
        run = store.start_run("build")
        store.finish_run(run, "failed", {"error": "boom", "seconds": {"sync": 0.5}})
        last, ok2 = last_builds(store)
        assert last is not None and last.status == "failed" and ok2 == ok
        text = {f.name: f for f in families(last, ok2)}
        assert text["c360_build_last_run_succeeded"].samples[0].value == 0.0
        assert text["c360_build_last_success_timestamp_seconds"].samples[0].value == ok.finished_ts
    finally:
        store.close()
