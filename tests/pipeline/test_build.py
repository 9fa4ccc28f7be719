"""The whole flow on the embedded default: sync → resolve → materialise → publish, atomically."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from c360.core.errors import BuildError
from c360.core.jsonutil import loads
from c360.pipeline.build import build
from c360.spec.validate import load_spec
from c360.store import Store
from c360.store import identity as idmap
from tests.conftest import BuiltDemo

AS_OF = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


@pytest.fixture()
def demo_copy(built_demo: BuiltDemo, tmp_path: Path) -> tuple[Path, Store]:
    """A private copy of the built demo, so a test may rebuild or break it."""
    shutil.copytree(built_demo.dir, tmp_path / "demo")
    d = tmp_path / "demo"
    return d, Store.open(f"sqlite:///{d}/store.db")


def test_build_publishes_one_record_per_customer(built_demo: BuiltDemo) -> None:
    store = Store.open(built_demo.store_url)
    snap = store.current_snapshot()
    assert snap is not None and snap.version == built_demo.version
    rows = {cid: loads(data) for cid, data in store.snapshot_rows(snap.version)}
    assert len(rows) == snap.customers > 100
    spec = load_spec(built_demo.spec_path)
    for record in rows.values():
        assert set(record) == set(spec.model.field_names)
    # The product's facts are there and typed: some accounts pay, some have tickets, and logins are UTC.
    assert any((r["mrr"] or 0) > 0 for r in rows.values())
    assert any(r["open_tickets"] > 0 for r in rows.values())
    assert all(r["last_login"] is None or r["last_login"].endswith("Z") for r in rows.values())
    assert {r["segment"] for r in rows.values()} <= {"smb", "mid_market", "enterprise", None}


def test_malformed_rows_are_quarantined_and_the_rest_goes_on(built_demo: BuiltDemo) -> None:
    store = Store.open(built_demo.store_url)
    bad = store.quarantined()
    locations = {(q["source"], q["location"].split(":")[0]) for q in bad}
    assert ("crm", "crm_accounts.csv") in locations
    assert ("support", "support_tickets.jsonl") in locations
    reasons = " ".join(q["reason"] for q in bad)
    assert "expected 15 columns" in reasons and "invalid JSON" in reasons
    assert store.staged_counts()["crm"] > 100


def test_every_staged_record_of_a_child_source_follows_its_parent(built_demo: BuiltDemo) -> None:
    store = Store.open(built_demo.store_url)
    rows = idmap.all_rows(store)
    by_rid = {f"{r.source}:{r.key}": r.customer_id for r in rows}
    subs = [r for r in rows if r.source == "subscriptions"]
    assert subs and all(r.method == "belongs_to" for r in subs)
    for r in subs:
        assert r.evidence is not None
        assert by_rid[r.evidence["parent"]] == r.customer_id


def test_rebuild_on_unchanged_sources_keeps_every_id(demo_copy: tuple[Path, Store]) -> None:
    d, store = demo_copy
    before = {(r.source, r.key): r.customer_id for r in idmap.all_rows(store)}
    report = build(load_spec(d / "product.yaml"), store, as_of=AS_OF)
    after = {(r.source, r.key): r.customer_id for r in idmap.all_rows(store)}
    assert after == before
    assert report.identity_events == {}
    assert all(s.counts.new == 0 and s.counts.changed == 0 for s in report.synced)


@pytest.mark.parametrize("stage", ["sync", "normalise", "resolve", "materialise"])
def test_a_build_failing_midway_leaves_the_previous_snapshot_served(demo_copy: tuple[Path, Store], stage: str) -> None:
    d, store = demo_copy
    before = store.current_snapshot()
    map_before = idmap.all_rows(store)
    assert before is not None

    def boom(at: str) -> None:
        if at == stage:
            raise RuntimeError(f"disk full after {at}")

    with pytest.raises(BuildError, match=f"disk full after {stage}"):
        build(load_spec(d / "product.yaml"), store, full=True, as_of=AS_OF, fail_after=boom)
    assert store.current_snapshot() == before
    assert idmap.all_rows(store) == map_before
    served = dict(store.snapshot_rows(before.version))
    assert len(served) == before.customers


def test_a_missing_source_file_is_a_clear_error(demo_copy: tuple[Path, Store]) -> None:
    d, store = demo_copy
    before = store.current_snapshot()
    (d / "billing_invoices.jsonl").unlink()
    with pytest.raises(Exception, match=r"invoices.*billing_invoices.jsonl"):
        build(load_spec(d / "product.yaml"), store, full=True, as_of=AS_OF)
    assert store.current_snapshot() == before
