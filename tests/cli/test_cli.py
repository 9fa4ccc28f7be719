"""The command line: exit codes, readable errors, the demo from one command."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from c360.cli import app
from tests.conftest import BuiltDemo

runner = CliRunner()
EXAMPLE = Path(__file__).parents[2] / "examples" / "customer_360" / "product.yaml"


def test_validate_ok_exits_0() -> None:
    result = runner.invoke(app, ["validate", str(EXAMPLE)])
    assert result.exit_code == 0, result.output
    assert "ok customer_360 1.0.0" in result.output


def test_validate_prints_every_problem_and_exits_1(tmp_path: Path) -> None:
    bad = EXAMPLE.read_text().replace(
        "[customer_id, account_name, segment, mrr,", "[customer_id, account_name, segment, mmr,"
    )
    bad = bad.replace("connector: csv", "connector: cvs")
    (tmp_path / "p.yaml").write_text(bad)
    result = runner.invoke(app, ["validate", str(tmp_path / "p.yaml")])
    assert result.exit_code == 1
    assert "3 problem(s)" in result.output
    assert "consumer 'finance' subscribes to 'mrr' but is not granted it" in result.output
    assert "unknown field 'mmr' in consumers.finance.fields; did you mean 'mrr'?" in result.output
    assert "unknown connector 'cvs'" in result.output and "did you mean 'csv'?" in result.output
    assert "Traceback" not in result.output


def test_validate_missing_file_exits_1() -> None:
    result = runner.invoke(app, ["validate", "/nonexistent/p.yaml"])
    assert result.exit_code == 1 and "no such file" in result.output


def test_usage_error_exits_2() -> None:
    assert runner.invoke(app, ["build"]).exit_code == 2


def test_connectors_list_json() -> None:
    result = runner.invoke(app, ["connectors", "list", "--json"])
    assert result.exit_code == 0
    names = {c["name"] for c in json.loads(result.output)}
    assert {"csv", "jsonl", "sqlite", "postgres", "mysql", "salesforce", "zendesk", "stripe", "kafka", "s3"} <= names


def test_consumer_key_for_unknown_consumer_exits_1(built_demo: BuiltDemo) -> None:
    result = runner.invoke(
        app, ["consumers", "create", str(built_demo.spec_path), "financ", "--store", built_demo.store_url]
    )
    assert result.exit_code == 1 and "did you mean 'finance'?" in result.output


def test_demo_no_serve_builds_and_writes_keys(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = runner.invoke(app, ["demo", "--dir", str(out), "--accounts", "40", "--no-serve"])
    assert result.exit_code == 0, result.output
    keys = json.loads((out / "keys.json").read_text())
    assert set(keys) == {"finance", "support", "marketing", "churn_model", "product_owner"}
    assert "snapshot 1 published" in result.output
    assert f"Bearer {keys['finance']}" in result.output
    assert (out / "truth.csv").exists() and (out / ".c360" / "store.db").exists()


def test_demo_generate_only(tmp_path: Path) -> None:
    result = runner.invoke(app, ["demo", "generate", "--dir", str(tmp_path), "--accounts", "20", "--seed", "1"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "product.yaml").exists() and (tmp_path / "crm_accounts.csv").exists()
    assert not (tmp_path / ".c360").exists()
