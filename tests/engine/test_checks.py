"""Quality gates: each check kind on real records, and a failing gate blocking a build's publish."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from c360.core.errors import QualityGateFailed, SpecError
from c360.core.jsonutil import loads
from c360.engine.checks import gate, run_checks
from c360.pipeline.build import build
from c360.spec.validate import load_spec, load_spec_text
from c360.store import Store
from tests.conftest import BuiltDemo

AS_OF = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
SPEC = Path(__file__).parents[1] / "spec" / "golden" / "type_changed" / "old.yaml"


def _with_checks(checks: dict[str, str]) -> object:
    """The small test spec with ``checks`` (field → YAML list) added to its fields."""
    spec = load_spec(SPEC)
    text = spec.text
    for name, yaml_checks in checks.items():
        marker = f"  {name}:\n"
        assert marker in text
        text = text.replace(marker, f"{marker}    checks: {yaml_checks}\n", 1)
    return load_spec_text(text, spec.path).model


RECORDS = [
    ("c_1", {"account_name": "Acme", "segment": "smb", "mrr": 10.0, "contact_email": "a@acme.io"}),
    ("c_2", {"account_name": None, "segment": "enterprise", "mrr": -5.0, "contact_email": "a@acme.io"}),
    ("c_3", {"account_name": "Beta", "segment": "gold", "mrr": None, "contact_email": None}),
    ("c_4", {"account_name": "Gamma", "segment": None, "mrr": 20000.0, "contact_email": "g@gamma.io"}),
]


def test_each_check_kind_names_the_offending_customers() -> None:
    product = _with_checks(
        {
            "mrr": "[{check: range, min: 0, max: 10000}]",
            "segment": "[{check: accepted_values, values: [smb, mid_market, enterprise]}]",
            "contact_email": "[{check: unique, level: warn}]",
        }
    )
    report = run_checks(product, RECORDS)  # type: ignore[arg-type]
    # account_name already declares not_null in the spec.
    errors = {(f.field_name, f.check): f for f in report.errors}
    assert set(errors) == {
        ("account_name", "not_null"),
        ("mrr", "range(min=0, max=10000)"),
        ("segment", "accepted_values(smb, mid_market, enterprise)"),
    }
    assert errors[("account_name", "not_null")].sample == ["c_2"]
    assert errors[("mrr", "range(min=0, max=10000)")].sample == ["c_2", "c_4"]
    # null is not_null's business, not accepted_values'
    assert errors[("segment", "accepted_values(smb, mid_market, enterprise)")].sample == ["c_3"]
    (warn,) = report.warnings
    assert (warn.field_name, warn.check, warn.failing, warn.sample) == ("contact_email", "unique", 2, ["c_1", "c_2"])
    assert report.records == 4 and report.checked == 4


def test_gate_raises_for_errors_only() -> None:
    product = _with_checks({"contact_email": "[{check: not_null, level: warn}]"})
    ok = [r for r in RECORDS if r[1]["account_name"] is not None]
    report = gate(product, ok)  # type: ignore[arg-type]
    assert report.passed and [w.sample for w in report.warnings] == [["c_3"]]
    with pytest.raises(QualityGateFailed) as exc:
        gate(product, RECORDS)  # type: ignore[arg-type]
    assert "account_name: not_null failed for 1 customer(s) (e.g. c_2)" in str(exc.value)


def test_range_rejects_values_that_are_not_numbers() -> None:
    product = _with_checks({"segment": "[{check: range, min: 0}]"})
    report = run_checks(product, [("c_1", {"account_name": "x", "segment": "smb"})])  # type: ignore[arg-type]
    assert [f.sample for f in report.errors] == [["c_1"]]


def _demo_with_checks(built_demo: BuiltDemo, tmp_path: Path, checks: dict[str, str]) -> tuple[Path, Store]:
    d = tmp_path / "demo"
    shutil.copytree(built_demo.dir, d)
    text = (d / "product.yaml").read_text()
    for name, yaml_checks in checks.items():
        text = text.replace(f"  {name}:\n    type:", f"  {name}:\n    checks: {yaml_checks}\n    type:", 1)
    (d / "product.yaml").write_text(text)
    return d, Store.open(f"sqlite:///{d}/store.db")


def test_an_error_level_failure_blocks_the_publish_and_keeps_the_previous_snapshot(
    built_demo: BuiltDemo, tmp_path: Path
) -> None:
    # Some demo accounts have tickets open, so "at most 0 open tickets" must fail.
    d, store = _demo_with_checks(built_demo, tmp_path, {"open_tickets": "[{check: range, max: 0}]"})
    before = store.current_snapshot()
    assert before is not None
    served = {cid: loads(data) for cid, data in store.snapshot_rows(before.version)}
    offending = sorted(cid for cid, r in served.items() if r["open_tickets"] > 0)
    assert offending
    with pytest.raises(QualityGateFailed) as exc:
        build(load_spec(d / "product.yaml"), store, skip_sync=True, as_of=AS_OF)
    (failure,) = exc.value.failures
    assert (failure.field_name, failure.check, failure.level) == ("open_tickets", "range(max=0)", "error")
    assert failure.failing == len(offending)
    assert failure.sample == offending[:5]
    assert store.current_snapshot() == before  # still served
    assert dict(store.snapshot_rows(before.version)).keys() == served.keys()


def test_warn_level_failures_publish_and_are_reported(built_demo: BuiltDemo, tmp_path: Path) -> None:
    d, store = _demo_with_checks(built_demo, tmp_path, {"csat": "[{check: not_null, level: warn}]"})
    before = store.current_snapshot()
    report = build(load_spec(d / "product.yaml"), store, skip_sync=True, as_of=AS_OF)
    assert report.version is not None and before is not None and report.version > before.version
    assert store.current_version() == report.version
    rows = {cid: loads(data) for cid, data in store.snapshot_rows(report.version)}
    no_csat = sorted(cid for cid, r in rows.items() if r["csat"] is None)
    (warning,) = report.quality["warnings"]
    assert warning["field"] == "csat" and warning["failing"] == len(no_csat) > 0
    assert warning["sample"] == no_csat[:5]
    assert report.quality["errors"] == []


def test_freshness_judges_each_feeding_source_against_the_as_of() -> None:
    product = _with_checks(
        {"mrr": "[{check: freshness, max_age: 24h}]", "segment": "[{check: freshness, max_age: 1h, level: warn}]"}
    )
    newest = {("billing", None): AS_OF - dt.timedelta(hours=30), ("crm", None): AS_OF - dt.timedelta(minutes=5)}
    ok = [r for r in RECORDS if r[1]["account_name"] is not None]
    report = run_checks(product, ok, newest=newest, as_of=AS_OF)  # type: ignore[arg-type]
    (error,) = report.errors
    assert (error.field_name, error.check, error.level) == ("mrr", "freshness(max_age=24h)", "error")
    assert "billing was last synced 1.2d before the build's as-of" in error.detail and "more than 24h" in error.detail
    assert report.warnings == []  # crm, 5 minutes old, is within the hour
    with pytest.raises(QualityGateFailed, match="mrr: freshness\\(max_age=24h\\) failed: billing was last synced"):
        gate(product, ok, newest=newest, as_of=AS_OF)  # type: ignore[arg-type]
    # A source never synced is not fresh.
    never = run_checks(product, ok, newest={("crm", None): AS_OF}, as_of=AS_OF)  # type: ignore[arg-type]
    assert [f.detail for f in never.errors] == ["billing was never synced"]


def test_freshness_by_a_timestamp_column_and_its_validation(tmp_path: Path) -> None:
    spec = load_spec(SPEC)
    text = spec.text.replace("      status: string\n", "      status: string\n      updated: timestamp\n")
    check = "    checks: [{check: freshness, max_age: 7d, source: billing, column: updated}]\n"
    good = text.replace("  mrr:\n", "  mrr:\n" + check, 1)
    product = load_spec_text(good, spec.path).model
    stale = run_checks(product, [], newest={("billing", "updated"): AS_OF - dt.timedelta(days=8)}, as_of=AS_OF)
    assert [f.check for f in stale.errors] == ["freshness(billing.updated, max_age=7d)"]
    assert "billing.updated's newest value 8.0d before" in stale.errors[0].detail
    fresh = run_checks(product, [], newest={("billing", "updated"): AS_OF - dt.timedelta(days=6)}, as_of=AS_OF)
    assert fresh.passed and fresh.checked == 2  # and account_name's not_null
    # Wrong source, a non-timestamp column, a missing max_age: each a located error.
    for bad, message in (
        (check.replace("source: billing, column: updated", "source: crm"), "does not feed this field"),
        (check.replace("column: updated", "column: status"), "is string; a freshness column must be a timestamp"),
        (check.replace("max_age: 7d, ", ""), "freshness needs 'max_age'"),
        (check.replace("max_age: 7d", "max_age: soon"), "freshness needs 'max_age'"),
    ):
        with pytest.raises(SpecError, match=message) as exc:
            load_spec_text(text.replace("  mrr:\n", "  mrr:\n" + bad, 1), spec.path)
        assert "line" in str(exc.value) or ":" in str(exc.value)


def test_a_stale_source_blocks_the_publish(built_demo: BuiltDemo, tmp_path: Path) -> None:
    d, store = _demo_with_checks(built_demo, tmp_path, {"open_tickets": "[{check: freshness, max_age: 1h}]"})
    before = store.current_snapshot()
    # The build's as-of lies a day after the last sync of support.
    late = store.sync_times()["support"] + dt.timedelta(days=1)
    with pytest.raises(QualityGateFailed) as exc:
        build(load_spec(d / "product.yaml"), store, skip_sync=True, as_of=late)
    (failure,) = exc.value.failures
    assert failure.field_name == "open_tickets" and "support was last synced 1.0d before" in failure.detail
    assert store.current_snapshot() == before
    # At the time of the sync itself, the same build publishes.
    report = build(load_spec(d / "product.yaml"), store, skip_sync=True, as_of=store.sync_times()["support"])
    assert report.version is not None and report.quality["checked"] >= 1
