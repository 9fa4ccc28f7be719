"""Spec diffs: every change class against golden plans, blast radius, and the semver a change needs.

Each folder under ``golden/`` holds a pair of specs (``old.yaml``, ``new.yaml``) and the plan
expected between them (``plan.json``). After an intended change of the plan's format, rewrite
them with ``C360_REGEN_GOLDEN=1 pytest tests/spec/test_diff.py`` and review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from c360.spec.diff import check_semver, diff, effective_grants
from c360.spec.validate import load_spec, load_spec_text

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(p.name for p in GOLDEN.iterdir() if p.is_dir())


def _plan(case: str) -> dict[str, object]:
    old = load_spec(GOLDEN / case / "old.yaml").model
    new = load_spec(GOLDEN / case / "new.yaml").model
    return json.loads(json.dumps(diff(old, new).as_dict(), default=str))


@pytest.mark.parametrize("case", CASES)
def test_plan_matches_golden(case: str) -> None:
    got = _plan(case)
    expected_file = GOLDEN / case / "plan.json"
    if os.environ.get("C360_REGEN_GOLDEN") == "1":
        expected_file.write_text(json.dumps(got, indent=2, sort_keys=True) + "\n")
    assert got == json.loads(expected_file.read_text())


def test_golden_cases_cover_every_change_class() -> None:
    kinds = {(c["kind"], c["level"]) for case in CASES for c in _plan(case)["changes"]}  # type: ignore[index]
    for kind in (
        "field_removed",
        "field_renamed",
        "type_changed",
        "unit_changed",
        "vocabulary_narrowed",
        "grant_withdrawn",
        "mask_added",
        "made_nullable",
        "row_filter_added",
        "consumer_removed",
    ):
        assert (kind, "breaking") in kinds, kind
    for kind in ("field_added", "description_changed", "grant_added", "vocabulary_widened", "made_nullable"):
        assert (kind, "safe") in kinds, kind
    assert ("expression_changed", "semantic") in kinds


def test_removed_field_names_every_subscriber_with_owner_purpose_and_sla() -> None:
    plan = _plan("field_removed")
    (change,) = [c for c in plan["changes"] if c["kind"] == "field_removed"]  # type: ignore[union-attr]
    assert change["field"] == "contact_email"
    # Nobody subscribes to contact_email, but finance is granted it: it is named, without a purpose.
    assert change["affected"] == [
        {
            "consumer": "finance",
            "owner": "finance-eng",
            "purpose": None,
            "fields": [],
            "freshness": None,
            "latency_p99_ms": None,
            "major": None,
        }
    ]
    renamed = _plan("field_renamed")
    (change,) = [c for c in renamed["changes"] if c["level"] == "breaking"]  # type: ignore[union-attr]
    assert change["kind"] == "field_renamed" and change["after"] == "monthly_revenue"
    assert change["affected"] == [
        {
            "consumer": "finance",
            "owner": "finance-eng",
            "purpose": "revenue reporting",
            "fields": ["mrr", "account_name"],
            "freshness": "24h",
            "latency_p99_ms": None,
            "major": None,
        }
    ]


def test_exit_codes_and_semver_verdicts() -> None:
    assert _plan("safe_additions")["exit_code"] == 0
    assert _plan("expression_changed")["exit_code"] == 0  # semantic: flagged for review, not blocking
    assert _plan("docs_only_patch")["exit_code"] == 0
    assert _plan("field_removed")["exit_code"] == 1  # breaking, even with the right major step
    assert _plan("field_removed")["semver"]["ok"] is True  # type: ignore[index]
    for case, actual in (
        ("bad_semver_patch_for_addition", "patch"),
        ("version_backwards", "backwards"),
        ("unchanged_version_with_change", "none"),
    ):
        plan = _plan(case)
        assert plan["exit_code"] == 1 and plan["semver"]["ok"] is False, case  # type: ignore[index]
        assert plan["semver"]["actual"] == actual  # type: ignore[index]
    assert "set version to 1.1.0" in _plan("bad_semver_patch_for_addition")["semver"]["message"]  # type: ignore[index]


def test_semver_rules() -> None:
    plan = diff(
        load_spec(GOLDEN / "type_changed" / "old.yaml").model, load_spec(GOLDEN / "type_changed" / "new.yaml").model
    )
    assert not check_semver("1.4.2", "1.5.0", plan.changes).ok
    assert check_semver("1.4.2", "2.0.0", plan.changes).ok
    assert check_semver("0.3.1", "0.4.0", plan.changes).ok  # before 1.0.0 a minor step may break
    assert check_semver(None, "1.0.0", []).ok
    assert check_semver("1.0.0", "1.0.0", []).ok  # nothing changed, nothing to bump


def test_whitespace_and_case_in_expressions_is_not_a_change() -> None:
    old = load_spec(GOLDEN / "expression_changed" / "old.yaml")
    text = old.text.replace(
        "sum(billing.amount) filter (where billing.status = 'active')",
        "SUM(billing.amount)   FILTER (WHERE billing.status = 'active')",
    )
    assert text != old.text
    plan = diff(old.model, load_spec_text(text, old.path).model)
    assert plan.changes == []


def test_effective_grants_union_policies_and_masks() -> None:
    old = load_spec(GOLDEN / "mask_added" / "new.yaml")
    text = old.text + (
        "policies:\n  - {name: ops, consumers: [support], fields: [mrr, contact_email], masks: {contact_email: hash}}\n"
    )
    model = load_spec_text(text, old.path).model
    assert effective_grants(model, "finance")["contact_email"] == "email"
    support = effective_grants(model, "support")
    assert support == {"customer_id": None, "account_name": None, "segment": None, "mrr": None, "contact_email": "hash"}
    assert effective_grants(model, "nobody") == {}


def test_first_version_has_no_changes_and_passes() -> None:
    plan = diff(None, load_spec(GOLDEN / "type_changed" / "old.yaml").model)
    assert plan.changes == [] and plan.exit_code == 0 and plan.old_version is None
