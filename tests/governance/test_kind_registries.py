"""The mask and check registries: one entry per kind the spec allows, and every reader uses them."""

from __future__ import annotations

from typing import Any, get_args

import pytest

from c360.core.errors import SpecError
from c360.engine.checks import describe
from c360.governance import masks
from c360.governance.access import mask_value
from c360.governance.contracts import MASKED_TYPES, consumer_json_schema, odcs_document
from c360.governance.docs import _check as docs_check
from c360.governance.policy import MASK_JSON_TYPE, MASK_REVEAL
from c360.spec import check_kinds
from c360.spec.models import CheckKind, CheckSpec, MaskKind
from c360.spec.validate import load_spec_text
from tests.spec.test_policy_validation import BASE

# -- masks --------------------------------------------------------------------------------------


def test_every_mask_kind_has_exactly_one_entry() -> None:
    assert set(masks.MASKS) == set(get_args(MaskKind))
    for name, entry in masks.MASKS.items():
        assert entry.name == name
        assert entry.description and entry.odcs_description
        assert entry.json_type in ("string", "integer", "null")


def test_the_derived_tables_read_the_registry() -> None:
    assert MASK_REVEAL == ("redact", "hash", "year", "last4", "email")
    assert [masks.MASKS[k].reveal for k in MASK_REVEAL] == list(range(len(MASK_REVEAL)))
    assert dict(MASK_JSON_TYPE) == {
        "email": "string",
        "hash": "string",
        "last4": "string",
        "year": "integer",
        "redact": "null",
    }
    assert dict(MASKED_TYPES["year"]) == {"type": ["integer", "null"]}
    assert dict(MASKED_TYPES["redact"]) == {"type": "null"}


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        ("email", "jane.doe@acme.com", "j***@acme.com"),
        ("email", "not an address", "***"),
        ("year", "2024-05-30T08:54:00Z", 2024),
        ("year", "soon", None),
        ("last4", "+44 20 7946 0018", "0018"),
        ("redact", "anything", None),
        ("hash", None, None),
    ],
)
def test_serving_masks_values_with_the_registry(kind: MaskKind, value: Any, expected: Any) -> None:
    assert mask_value(kind, value, b"k") == expected == masks.MASKS[kind](value, b"k")


def test_a_keyed_hash_joins_equal_values_only() -> None:
    a, b = mask_value("hash", "x", b"k"), mask_value("hash", "x", b"k")
    assert a == b and len(a) == 32 and a != mask_value("hash", "x", b"other") != mask_value("hash", "y", b"k")


def test_an_unknown_mask_kind_raises() -> None:
    with pytest.raises(masks.UnknownMask, match="unknown mask 'blur'"):
        masks.mask_of("blur")
    with pytest.raises(ValueError, match="unknown mask"):
        mask_value("blur", "x", b"k")  # type: ignore[arg-type]
    with pytest.raises(masks.UnknownMask):
        masks.compatible("blur", "email")


def test_a_registry_missing_a_kind_fails_at_import(monkeypatch: pytest.MonkeyPatch) -> None:
    partial = {k: v for k, v in masks.MASKS.items() if k != "last4"}
    monkeypatch.setattr(masks, "MASKS", partial)
    with pytest.raises(ImportError, match=r"missing \['last4'\]"):
        masks._complete()


def test_the_spec_rejects_an_unknown_mask_kind() -> None:
    text = BASE.read_text().replace(
        "    fields: [customer_id, account_name, mrr, contact_email]\n",
        "    fields: [customer_id, account_name, mrr, contact_email]\n    masks: {contact_email: blur}\n",
    )
    with pytest.raises(SpecError, match="'blur' is not valid; expected one of: email, hash, year, last4, redact"):
        load_spec_text(text, BASE)


def test_incompatible_means_a_different_json_type() -> None:
    assert not masks.compatible("year", "email") and not masks.compatible("hash", "year")
    assert masks.compatible("hash", "email") and masks.compatible("redact", "year")


def test_exports_and_docs_describe_masks_from_the_registry() -> None:
    text = BASE.read_text().replace(
        "    fields: [customer_id, account_name, mrr, contact_email]\n",
        "    fields: [customer_id, account_name, mrr, contact_email]\n    masks: {contact_email: last4}\n",
    )
    product = load_spec_text(text, BASE).model
    schema = consumer_json_schema(product, "finance")["properties"]["contact_email"]
    assert schema["type"] == ["string", "null"] and schema["description"].endswith("masked (last4)")
    props = {p["name"]: p for p in odcs_document(product, "finance")["schema"][0]["properties"]}
    custom = props["contact_email"]["customProperties"]
    assert {"property": "mask", "value": "last4"} in custom
    assert {"property": "maskDescription", "value": masks.MASKS["last4"].odcs_description} in custom


# -- checks -------------------------------------------------------------------------------------


def test_every_check_kind_has_exactly_one_entry() -> None:
    assert set(check_kinds.CHECKS) == set(get_args(CheckKind))
    for name, entry in check_kinds.CHECKS.items():
        assert entry.name == name
    # Only freshness is judged on the sources rather than on each record.
    assert [k for k, e in check_kinds.CHECKS.items() if e.observe is None] == ["freshness"]
    assert [k for k, e in check_kinds.CHECKS.items() if e.non_null] == ["not_null"]


def test_an_unknown_check_kind_raises() -> None:
    with pytest.raises(check_kinds.UnknownCheck, match="unknown check 'sorted'"):
        check_kinds.check_kind("sorted")


def test_a_check_registry_missing_a_kind_fails_at_import(monkeypatch: pytest.MonkeyPatch) -> None:
    partial = {k: v for k, v in check_kinds.CHECKS.items() if k != "range"}
    monkeypatch.setattr(check_kinds, "CHECKS", partial)
    with pytest.raises(ImportError, match=r"missing \['range'\]"):
        check_kinds._complete()


def test_the_spec_rejects_an_unknown_check_kind() -> None:
    text = BASE.read_text().replace("checks: [{check: not_null}]", "checks: [{check: sorted}]")
    with pytest.raises(SpecError, match="'sorted' is not valid"):
        load_spec_text(text, BASE)


CHECKS = [
    (CheckSpec(check="not_null"), "not_null", "not null"),
    (CheckSpec(check="unique"), "unique", "unique"),
    (
        CheckSpec(check="accepted_values", values=["smb", "enterprise"]),
        "accepted_values(smb, enterprise)",
        "accepted values: smb, enterprise",
    ),
    (CheckSpec(check="range", min=0), "range(min=0)", "range min 0"),
    (CheckSpec(check="range", min=0, max=1.5), "range(min=0, max=1.5)", "range min 0 max 1.5"),
    (CheckSpec(check="freshness", max_age="24h"), "freshness(max_age=24h)", "freshness: its sources within 24h"),
    (
        CheckSpec(check="freshness", max_age="15m", source="crm", column="updated"),
        "freshness(crm.updated, max_age=15m)",
        "freshness: crm.updated within 15m",
    ),
]


@pytest.mark.parametrize(("check", "report", "docs"), CHECKS)
def test_reports_and_docs_describe_checks_from_the_registry(check: CheckSpec, report: str, docs: str) -> None:
    entry = check_kinds.check_kind(check.check)
    assert describe(check) == entry.describe(check) == report
    assert docs_check(check) == entry.human(check) == docs


def test_odcs_quality_and_json_schema_come_from_the_registry() -> None:
    text = BASE.read_text().replace(
        "    expr: crm.Tier\n",
        "    expr: crm.Tier\n    checks:\n      - {check: accepted_values, values: [smb, mid_market, enterprise]}\n"
        "      - {check: freshness, max_age: 24h, level: warn}\n",
    )
    product = load_spec_text(text, BASE).model
    segment = product.fields["segment"]
    props = {p["name"]: p for p in odcs_document(product)["schema"][0]["properties"]}
    expected = [check_kinds.check_kind(c.check).quality("segment", c, product.product) for c in segment.checks]
    assert props["segment"]["quality"] == expected
    assert expected[0]["arguments"] == {"validValues": ["smb", "mid_market", "enterprise"]}
    assert expected[1]["type"] == "text" and expected[1]["severity"] == "warning"
    schema = consumer_json_schema(product, "support")["properties"]["segment"]
    assert schema["enum"] == ["smb", "mid_market", "enterprise", None]
    assert props["account_name"]["required"] is True  # not_null, the registry's non-null guarantee
