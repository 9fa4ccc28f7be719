"""Sources sync on their own, and a Stripe first read interrupted midway resumes (issue #17)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from c360.core.errors import SourceError
from c360.pipeline.sync import SyncFailed, sync, sync_each, sync_source
from c360.spec.validate import load_spec
from c360.store import Store
from tests.conftest import BuiltDemo, need_module
from tests.connectors.fakes.stripe import API_KEY, StripeFake
from tests.connectors.httpfake import FakeRequest, FakeResponse, serve
from tests.pipeline.test_switch_sources import stripe_fake


def _copy(built_demo: BuiltDemo, tmp_path: Path) -> Path:
    d = tmp_path / "demo"
    shutil.copytree(built_demo.dir, d, ignore=shutil.ignore_patterns("store.db*", ".c360"))
    return d


def test_sync_raises_only_after_every_source_had_its_turn(built_demo: BuiltDemo, tmp_path: Path) -> None:
    d = _copy(built_demo, tmp_path)
    (d / "billing_customers.jsonl").unlink()
    spec = load_spec(d / "product.yaml")
    store = Store.open(f"sqlite:///{d}/store.db")
    with pytest.raises(SourceError, match="source 'billing'"):  # one failure: raised as it is
        sync(spec, store, run_id="r1")
    assert {"crm", "subscriptions", "invoices", "support", "product"} <= set(store.staged_counts())
    (d / "support_tickets.jsonl").unlink()
    with pytest.raises(SyncFailed) as info:  # several: one error naming each
        sync(spec, store, run_id="r2")
    assert [f.source for f in info.value.failures] == ["billing", "support"]
    assert "source 'billing'" in str(info.value) and "source 'support'" in str(info.value)
    outcome = sync_each(spec, store, run_id="r3", sources=["crm", "support"])
    assert [s.source for s in outcome.synced] == ["crm"]
    assert [f.source for f in outcome.failed] == ["support"]


class FailsOnce:
    """The Stripe fake, whose customer list refuses its ``nth`` request (a 400: not retried)."""

    def __init__(self, fake: StripeFake, nth: int) -> None:
        self.fake, self.nth, self.lists = fake, nth, 0

    def __call__(self, req: FakeRequest) -> FakeResponse:
        if req.path == "/v1/customers":
            self.lists += 1
            if self.lists == self.nth:
                return FakeResponse(400, {"error": {"type": "invalid_request_error", "message": "boom"}})
        return self.fake(req)


def test_interrupted_first_stripe_sync_resumes_where_it_stopped(
    built_demo: BuiltDemo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    need_module("stripe")
    d = _copy(built_demo, tmp_path)
    customers = len((d / "billing_customers.jsonl").read_text().splitlines())
    assert customers > 100  # more than one page of 100
    handler = FailsOnce(stripe_fake(d), nth=2)
    with serve(handler) as server:
        monkeypatch.setenv("STRIPE_API_KEY", API_KEY)
        text = re.sub(
            r"(\n  billing:\n(?:    .*\n)*?)    connector: jsonl\n    path: [^\n]+\n",
            rf"\g<1>    connector: stripe\n    stream: customers\n    base_url: {server.url}\n"
            r"    api_key: ${STRIPE_API_KEY}\n",
            (d / "product.yaml").read_text(),
        )
        (d / "product.yaml").write_text(text)
        spec = load_spec(d / "product.yaml")
        store = Store.open(f"sqlite:///{d}/store.db")
        with pytest.raises(SourceError, match="boom"):
            sync_source(spec, store, "billing", run_id="r1")
        assert store.staged_counts()["billing"] == 100  # the first page, committed
        assert '"after"' in (store.cursor("billing") or "")
        before = len(server.requests)
        second = sync_source(spec, store, "billing", run_id="r2")
        lists = [r for r in server.requests[before:] if r.path == "/v1/customers"]
        assert len(lists) == (customers - 1) // 100  # only the pages not yet read
        assert lists[0].arg("starting_after") is not None
        assert second.counts.new == customers - 100 and second.counts.unchanged == 0
        assert store.staged_counts()["billing"] == customers
        assert '"after"' not in (store.cursor("billing") or "")
