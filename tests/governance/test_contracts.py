"""Contracts out (ODCS v3, JSON Schema); contract versions in the store (apply, history)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from c360.core.errors import C360Error
from c360.core.jsonutil import loads
from c360.governance import audit
from c360.governance.contracts import (
    apply,
    approved_plans,
    changelog,
    consumer_json_schema,
    export,
    history,
    odcs_document,
    published,
)
from c360.spec.diff import effective_grants
from c360.spec.validate import load_spec, load_spec_text
from c360.store import Store
from c360.store.schema import audit_log
from tests.conftest import BuiltDemo, need_module

GOLDEN = Path(__file__).parents[1] / "spec" / "golden"
DEMO_SPEC = Path(__file__).parents[2] / "src" / "c360" / "demo" / "product.yaml"


def _odcs_validator() -> Any:
    need_module("open_data_contract_standard")
    from importlib.resources import files

    import jsonschema

    schema = files("open_data_contract_standard").joinpath("schema.json").read_text(encoding="utf-8")
    return jsonschema.Draft201909Validator(json.loads(schema))


def test_odcs_documents_validate_against_the_standards_schema() -> None:
    validator = _odcs_validator()
    product = load_spec(DEMO_SPEC).model
    for consumer in [None, *product.consumers]:
        doc = odcs_document(product, consumer)
        errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(doc)]
        assert errors == [], consumer
    doc = odcs_document(product)
    assert (doc["apiVersion"], doc["kind"], doc["version"]) == ("v3.1.0", "DataContract", "1.0.0")
    props = {p["name"]: p for p in doc["schema"][0]["properties"]}
    assert list(props) == product.field_names
    assert props["customer_id"]["primaryKey"] is True
    assert props["billing_contact_email"]["classification"] == "restricted"
    assert props["account_name"]["transformSourceObjects"] == ["billing.name", "crm.Name"]
    assert {p["customProperties"][0]["value"] for p in props.values() if "customProperties" in p} == {"GBP", "ratio"}
    latency = [s for s in doc["slaProperties"] if s["property"] == "latency"]
    assert {(s["value"], s["element"]) for s in latency} >= {(15, "open_tickets,csat,last_login")}


def test_a_consumer_view_holds_only_its_grants_masks_and_checks(tmp_path: Path) -> None:
    _odcs_validator()
    base = load_spec(GOLDEN / "mask_added" / "new.yaml")
    text = base.text.replace(
        "    checks: [{check: not_null}]\n",
        "    checks: [{check: not_null}, {check: accepted_values, values: [A, B]}]\n",
    )
    product = load_spec_text(text, base.path).model
    doc = odcs_document(product, "support")
    assert [p["name"] for p in doc["schema"][0]["properties"]] == ["customer_id", "account_name", "segment"]
    assert [r["role"] for r in doc["roles"]] == ["support"]
    finance = {p["name"]: p for p in odcs_document(product, "finance")["schema"][0]["properties"]}
    assert {"property": "mask", "value": "email"} in finance["contact_email"]["customProperties"]
    quality = {q["metric"]: q for q in finance["account_name"]["quality"]}
    assert quality["nullValues"]["mustBe"] == 0
    assert quality["invalidValues"]["arguments"] == {"validValues": ["A", "B"]}
    with pytest.raises(C360Error, match="unknown consumer 'nobody'"):
        odcs_document(product, "nobody")


def test_export_writes_the_product_and_every_view(tmp_path: Path) -> None:
    _odcs_validator()
    from open_data_contract_standard.model import OpenDataContractStandard

    product = load_spec(DEMO_SPEC).model
    written = export(product, tmp_path / "odcs", "odcs")
    assert sorted(p.name for p in written) == sorted(
        ["customer_360.odcs.yaml", *(f"customer_360.{c}.odcs.yaml" for c in product.consumers)]
    )
    for path in written:
        assert OpenDataContractStandard.from_file(str(path)).version == "1.0.0"
    schemas = export(product, tmp_path / "js", "jsonschema")
    assert len(schemas) == len(product.consumers)
    with pytest.raises(C360Error, match="unknown format"):
        export(product, tmp_path, "avro")


def test_json_schema_accepts_the_records_served_and_rejects_others(built_demo: BuiltDemo) -> None:
    import jsonschema

    product = load_spec(built_demo.spec_path).model
    store = Store.open(built_demo.store_url)
    records = [loads(data) for _, data in store.snapshot_rows(built_demo.version)]
    for consumer in product.consumers:
        schema = consumer_json_schema(product, consumer)
        jsonschema.Draft202012Validator.check_schema(schema)
        validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
        fields = list(effective_grants(product, consumer))
        for r in records:
            view = {f: r[f] for f in fields}
            assert list(validator.iter_errors(view)) == [], (consumer, view)
        bad = {f: records[0][f] for f in fields} | {"customer_id": 42}
        assert not validator.is_valid(bad)
        assert not validator.is_valid({**{f: records[0][f] for f in fields}, "not_granted": 1})


def test_json_schema_follows_masks_and_error_checks() -> None:
    base = load_spec(GOLDEN / "mask_added" / "new.yaml")
    text = base.text.replace("masks: {contact_email: email}", "masks: {contact_email: redact}")
    text = text.replace(
        "    expr: crm.Tier\n",
        "    expr: crm.Tier\n    checks: [{check: accepted_values, values: [smb, enterprise]}]\n",
    )
    product = load_spec_text(text, base.path).model
    props = consumer_json_schema(product, "finance")["properties"]
    assert props["contact_email"]["type"] == "null"
    assert props["account_name"]["type"] == "string"  # not_null at error level: never null
    assert props["mrr"]["type"] == ["number", "null"] and props["mrr"]["x-c360-unit"] == "GBP"
    segment = consumer_json_schema(product, "support")["properties"]["segment"]
    assert segment["enum"] == ["smb", "enterprise", None]


@pytest.fixture()
def store(tmp_path: Path) -> Store:
    return Store.open(f"sqlite:///{tmp_path}/store.db")


def test_apply_records_versions_with_approval_and_refuses_bad_steps(store: Store) -> None:
    v1 = load_spec(GOLDEN / "type_changed" / "old.yaml")
    plan = apply(store, v1.model, v1.text, "alice")
    assert plan.old_version is None
    with pytest.raises(C360Error, match="already applied by alice"):
        apply(store, v1.model, v1.text, "bob")

    breaking = load_spec(GOLDEN / "type_changed" / "new.yaml")  # 2.0.0, mrr decimal → integer
    wrong = load_spec_text(breaking.text.replace("version: 2.0.0", "version: 1.1.0"), breaking.path)
    with pytest.raises(C360Error, match=r"need a major step; set version to 2\.0\.0"):
        apply(store, wrong.model, wrong.text, "bob")
    with pytest.raises(C360Error, match="approved-by"):
        apply(store, breaking.model, breaking.text, "  ")

    plan = apply(store, breaking.model, breaking.text, "bob")
    assert plan.breaking and [c.kind for c in plan.changes] == ["type_changed"]
    assert [(v.version, v.applied_by) for v in history(store)] == [("1.0.0", "alice"), ("2.0.0", "bob")]
    assert published(store) is not None and published(store).version == "2.0.0"  # type: ignore[union-attr]
    approved = approved_plans(store)
    assert approved["2.0.0"]["approved_by"] == "bob"
    assert approved["2.0.0"]["plan"]["changes"][0]["affected"][0]["consumer"] == "finance"
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(audit_log.c.detail).where(audit_log.c.kind == "spec_apply").order_by(audit_log.c.seq)
        ).all()
    details = [loads(d) for (d,) in rows]
    approvals = [(d["version"], d["approved_by"]) for d in details]
    assert approvals == [("1.0.0", "alice"), ("2.0.0", "bob")]
    assert details[1]["plan"]["changes"][0]["kind"] == "type_changed"
    assert audit.verify(store).ok
    log = changelog(store)
    assert log[0][1] is None and log[1][1] is not None
    assert [c.kind for c in log[1][1].changes] == ["type_changed"]

    backwards = load_spec_text(v1.text.replace("Legal name from the CRM", "Legal name"), v1.path)
    with pytest.raises(C360Error, match=r"goes backwards from 2\.0\.0 to 1\.0\.0"):
        apply(store, backwards.model, backwards.text, "carol")


def test_apply_approves_a_version_a_build_already_recorded(store: Store) -> None:
    v1 = load_spec(GOLDEN / "type_changed" / "old.yaml")
    assert store.record_spec(v1.model.product, v1.model.version, v1.text)
    apply(store, v1.model, v1.text, "alice")
    assert [(v.version, v.applied_by) for v in history(store)] == [("1.0.0", "alice")]
    other = load_spec_text(v1.text.replace("Legal name from the CRM", "Legal name"), v1.path)
    with pytest.raises(C360Error, match=r"the spec changed but its version is still 1\.0\.0; set version to 1\.0\.1"):
        apply(store, other.model, other.text, "bob")
