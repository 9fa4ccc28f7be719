"""Contract commands: plan exit codes and blast radius, apply, subscriptions, exports, lineage."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from c360.cli import app
from tests.conftest import BuiltDemo, need_module

runner = CliRunner()
GOLDEN = Path(__file__).parents[1] / "spec" / "golden"


def _case(name: str) -> tuple[str, str]:
    return str(GOLDEN / name / "old.yaml"), str(GOLDEN / name / "new.yaml")


def test_plan_exit_codes_safe_breaking_and_invalid(tmp_path: Path) -> None:
    old, new = _case("safe_additions")
    result = runner.invoke(app, ["plan", new, "--against", old])
    assert result.exit_code == 0, result.output
    assert "safe (3)" in result.output and "field 'tier_label' added" in result.output

    old, new = _case("type_changed")
    result = runner.invoke(app, ["plan", new, "--against", old])
    assert result.exit_code == 1
    assert "breaking (1)" in result.output and "type of 'mrr' changed from decimal to integer" in result.output
    assert "affects finance (owner finance-eng; purpose: revenue reporting; SLA: freshness 24h)" in result.output

    old, new = _case("bad_semver_patch_for_addition")
    result = runner.invoke(app, ["plan", new, "--against", old])
    assert result.exit_code == 1 and "set version to 1.1.0" in result.output

    bad = tmp_path / "bad.yaml"
    bad.write_text(Path(new).read_text().replace("expr: crm.Name", "expr: crm.Name +* 1"))
    result = runner.invoke(app, ["plan", str(bad), "--against", old])
    assert result.exit_code == 2
    assert "spec is invalid" in result.output and "fields.account_name.expr" in result.output


def test_plan_json_carries_the_blast_radius() -> None:
    old, new = _case("vocabulary_narrowed")
    result = runner.invoke(app, ["plan", new, "--against", old, "--json"])
    assert result.exit_code == 1
    plan = json.loads(result.stdout)
    assert plan["summary"] == {"breaking": 1, "semantic": 0, "safe": 0}
    (change,) = plan["changes"]
    assert change["kind"] == "vocabulary_narrowed" and change["field"] == "segment"
    assert [(a["consumer"], a["owner"], a["freshness"], a["latency_p99_ms"]) for a in change["affected"]] == [
        ("support", "support-tools", "15m", 50.0)
    ]


def test_apply_then_plan_against_the_store(tmp_path: Path) -> None:
    store = ["--store", f"sqlite:///{tmp_path}/store.db"]
    old, new = _case("expression_changed")
    result = runner.invoke(app, ["plan", old, *store])
    assert result.exit_code == 0 and "first version" in result.output
    result = runner.invoke(app, ["apply", old, "--approved-by", "alice", *store])
    assert result.exit_code == 0, result.output
    assert "applied accounts 1.0.0, approved by alice" in result.output

    result = runner.invoke(app, ["plan", new, *store])
    assert result.exit_code == 0  # a semantic change is flagged, not blocking
    assert "semantic (1)" in result.output and "expression of 'mrr' changed" in result.output
    assert "affects finance" in result.output

    _, breaking = _case("type_changed")
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(Path(breaking).read_text().replace("version: 2.0.0", "version: 1.1.0"))
    result = runner.invoke(app, ["apply", str(wrong), "--approved-by", "bob", *store])
    assert result.exit_code == 1 and "need a major step; set version to 2.0.0" in result.output
    result = runner.invoke(app, ["apply", breaking, "--approved-by", "bob", *store])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["plan", breaking, *store, "--json"])
    assert json.loads(result.stdout)["old_version"] == "2.0.0"


def test_subscriptions_without_a_published_snapshot_all_violate(tmp_path: Path) -> None:
    old, _ = _case("type_changed")
    result = runner.invoke(app, ["subscriptions", old, "--store", f"sqlite:///{tmp_path}/s.db", "--json"])
    assert result.exit_code == 1
    rows = json.loads(result.stdout)
    assert [(r["consumer"], r["violations"]) for r in rows] == [
        ("finance", ["nothing published yet"]),
        ("support", ["nothing published yet"]),
    ]


def test_subscriptions_of_the_built_demo(built_demo: BuiltDemo) -> None:
    args = ["subscriptions", str(built_demo.spec_path), "--store", built_demo.store_url]
    result = runner.invoke(app, [*args, "--json"])
    rows = json.loads(result.stdout)
    assert [r["consumer"] for r in rows] == ["finance", "support", "churn_model"]
    assert all(r["age_seconds"] is not None for r in rows)
    assert result.exit_code == (1 if any(r["violations"] for r in rows) else 0)
    table = runner.invoke(app, args)
    assert "finance" in table.output and "support" in table.output and "15m" in table.output


def test_contract_export_and_docs(built_demo: BuiltDemo, tmp_path: Path) -> None:
    need_module("open_data_contract_standard")
    spec = str(built_demo.spec_path)
    result = runner.invoke(app, ["contract", "export", spec, "--format", "odcs", "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "o" / "customer_360.finance.odcs.yaml").exists()
    result = runner.invoke(app, ["contract", "export", spec, "--format", "jsonschema", "--out", str(tmp_path / "j")])
    assert result.exit_code == 0
    schema = json.loads((tmp_path / "j" / "customer_360.support.schema.json").read_text())
    assert "open_tickets" in schema["properties"] and "mrr" not in schema["properties"]
    result = runner.invoke(app, ["contract", "export", spec, "--format", "xml", "--out", str(tmp_path / "x")])
    assert result.exit_code == 1 and "expected odcs or jsonschema" in result.output

    result = runner.invoke(app, ["docs", spec, "--out", str(tmp_path / "site"), "--store", built_demo.store_url])
    assert result.exit_code == 0, result.output
    html = (tmp_path / "site" / "index.html").read_text()
    assert "customer_360" in html and "Monthly recurring revenue" in html and "1.0.0" in html


def test_lineage_of_one_field_and_of_all(built_demo: BuiltDemo) -> None:
    spec = str(built_demo.spec_path)
    result = runner.invoke(app, ["lineage", spec, "account_name", "--json"])
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    assert [(r["source"], r["column"], r["transformation"]) for r in rows] == [
        ("crm", "Name", "direct transformation"),
        ("billing", "name", "direct transformation"),
    ]
    result = runner.invoke(app, ["lineage", spec, "--json"])
    fields = {r["field"] for r in json.loads(result.stdout)}
    assert fields == {"customer_id", *(f for f in fields if f != "customer_id")} and "mrr" in fields
    result = runner.invoke(app, ["lineage", spec, "mmr"])
    assert result.exit_code == 1 and "did you mean 'mrr'?" in result.output
