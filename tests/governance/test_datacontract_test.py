"""``datacontract test`` runs the exported ODCS contract's checks against the published product.

The demo is built, its contract exported with ``servers:`` (``c360 contract export --data`` for
a SQLite store: a Parquet file; on a PostgreSQL copy of the store: the product's view), and
datacontract-cli (``tests/tools.sh datacontract``, its own venv) tests it: the product passes
its quality rules, and a rule the data breaks fails by name.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import text
from typer.testing import CliRunner

from c360.cli import app
from c360.store import Store
from tests.api.stores import store_of
from tests.conftest import BuiltDemo, need_module

ROOT = Path(__file__).parents[2]
TOOL = "datacontract"
runner = CliRunner()

# Quality rules over the demo's fields, one of each kind the check registry runs as a query or metric.
CHECKS = {
    "    expr: coalesce(count(*) filter (where support.status in ('new', 'open', 'pending', 'hold')), 0)\n": (
        "      - {check: not_null}\n"
    ),
    "    expr: crm.Tier\n": "      - {check: accepted_values, values: [SEGMENTS]}\n",
    "    expr: billing.email\n": "      - {check: unique, level: warn}\n",
    "    expr: coalesce(count(product.id), 0)\n": "      - {check: range, min: 0}\n",
}
CSAT = "        / nullif(count(*) filter (where support.csat_score in ('good', 'bad')), 0)\n"
QUALITY = ["open_tickets", "segment", "billing_contact_email", "active_seats", "csat"]  # fields with a rule


def datacontract() -> str:
    """``datacontract`` (``tests/tools.sh datacontract`` installs it, in CI it is installed now)."""
    places = [os.environ.get("C360_DATACONTRACT_BIN", ""), str(ROOT / ".venv" / "datacontract" / "bin")]

    def found() -> str | None:
        for place in places:
            if place and os.access(Path(place) / TOOL, os.X_OK):
                return str(Path(place) / TOOL)
        return shutil.which(TOOL)

    exe = found()
    if exe is None and os.environ.get("CI"):
        done = subprocess.run(
            ["bash", str(ROOT / "tests" / "tools.sh"), "datacontract"],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        assert done.returncode == 0, f"tests/tools.sh datacontract failed:\n{done.stdout}\n{done.stderr}"
        exe = found()
        assert exe is not None, "tests/tools.sh datacontract installed no datacontract"
    if exe is None:
        pytest.skip(f"{TOOL} is not installed (tests/tools.sh datacontract installs it; in CI it must run)")
    return exe


def checked_spec(
    built: BuiltDemo, dir: Path, *, segments: str = "smb, mid_market, enterprise", csat: float = 1
) -> Path:
    """The demo's spec with quality rules added (the build's own spec has none the tool runs)."""
    spec = built.spec_path.read_text()
    for expr, check in CHECKS.items():
        assert spec.count(expr) == 1, expr
        spec = spec.replace(expr, expr + "    checks:\n" + check.replace("SEGMENTS", segments))
    assert spec.count(CSAT) == 1
    spec = spec.replace(CSAT, CSAT + f"    checks:\n      - {{check: range, min: 0, max: {csat:g}}}\n")
    path = dir / "product.yaml"
    dir.mkdir(parents=True, exist_ok=True)
    path.write_text(spec)
    return path


@dataclass(frozen=True)
class Outcome:
    code: int
    output: str
    result: str
    checks: list[dict[str, Any]]

    def of(self, field: str) -> dict[str, Any]:
        """The check of the quality rule on ``field``."""
        (found,) = [c for c in self.checks if c["category"] == "quality" and c["field"] == field]
        return found


def run_test(exe: str, contract: Path, env: dict[str, str] | None = None) -> Outcome:
    results = contract.with_suffix(".results.json")
    done = subprocess.run(
        [exe, "test", str(contract), "--output", str(results), "--output-format", "json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=contract.parent,
        env={**os.environ, "COLUMNS": "250", **(env or {})},
    )
    report = json.loads(results.read_text())
    return Outcome(done.returncode, done.stdout + done.stderr, report["result"], report["checks"])


def export(spec: Path, out: Path, store_url: str, *extra: str) -> Path:
    result = runner.invoke(app, ["contract", "export", str(spec), "--out", str(out), "--store", store_url, *extra])
    assert result.exit_code == 0, result.output
    return out / "customer_360.odcs.yaml"


def contract_fields(contract: Path) -> list[str]:
    """The contract's columns."""
    (schema,) = yaml.safe_load(contract.read_text())["schema"]
    return [p["name"] for p in schema["properties"]]


def assert_passes(tested: Outcome) -> None:
    assert tested.code == 0, tested.output
    assert not [c for c in tested.checks if c["result"] in ("failed", "error")], tested.output
    for field in QUALITY:
        assert tested.of(field)["result"] == "passed", tested.output
    # the contract's schema is checked too: every column present, the key unique and never null
    present = {c["field"] for c in tested.checks if c["type"] == "field_is_present" and c["result"] == "passed"}
    assert {"customer_id", "account_name", "mrr", "last_login", "marketing_opt_in"} <= present


@pytest.fixture(scope="module")
def tool() -> str:
    need_module("open_data_contract_standard")
    return datacontract()


# -- a SQLite store: the published product as Parquet ------------------------------------------


def test_parquet_of_the_published_product_passes(tool: str, built_demo: BuiltDemo, tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    contract = export(checked_spec(built_demo, tmp_path), tmp_path / "odcs", built_demo.store_url, "--data", data)
    servers = yaml.safe_load(contract.read_text())["servers"]
    assert [s["type"] for s in servers] == ["local", "custom"]  # the Parquet file first: what is tested by default
    assert servers[0]["path"] == str(tmp_path / "data" / "c360_customer_360.parquet")
    tested = run_test(tool, contract)
    assert_passes(tested)
    assert "Server: product (type=local, format=parquet" in tested.output
    assert "csat within range min 0 max 1" in tested.output and len(tested.checks) >= 30
    # datacontract-cli reads a Parquet file in the contract's types, so it checks no types there
    warned = [c for c in tested.checks if c["result"] == "warning"]
    assert {c["type"] for c in warned} == {"field_type"} and len(warned) == len(contract_fields(contract))


def test_parquet_fails_a_rule_the_data_breaks(tool: str, built_demo: BuiltDemo, tmp_path: Path) -> None:
    spec = checked_spec(built_demo, tmp_path, segments="smb, mid_market")  # enterprise customers exist
    tested = run_test(tool, export(spec, tmp_path / "odcs", built_demo.store_url, "--data", str(tmp_path / "d")))
    assert tested.code != 0 and tested.result == "failed", tested.output
    assert tested.of("segment")["result"] == "failed"
    assert "segment" in tested.output and "invalid_count" in tested.output
    assert tested.of("open_tickets")["result"] == "passed"  # the other rules still ran


def test_data_option_says_when_nothing_is_published(tmp_path: Path) -> None:
    need_module("open_data_contract_standard")
    spec = tmp_path / "product.yaml"
    shutil.copyfile(ROOT / "src/c360/demo/product.yaml", spec)
    base = ["contract", "export", str(spec), "--out", str(tmp_path / "o"), "--data", str(tmp_path / "d")]
    result = runner.invoke(app, [*base, "--store", f"sqlite:///{tmp_path}/empty.db"])
    assert result.exit_code == 1 and "nothing is published" in result.output, result.output
    result = runner.invoke(app, [*base, "--format", "jsonschema"])
    assert result.exit_code == 1 and "--format odcs" in result.output, result.output
    assert not (tmp_path / "d").exists() and not (tmp_path / "o").exists()


# -- a PostgreSQL store: the product's view --------------------------------------------------


@pytest.fixture(scope="module")
def pg_store(built_demo: BuiltDemo) -> Iterator[Store]:
    with store_of("postgresql", built_demo.store_url) as store:
        yield store


PG_LOGIN = {"DATACONTRACT_POSTGRES_USERNAME": "postgres", "DATACONTRACT_POSTGRES_PASSWORD": "unused-trust-auth"}


def pg_url(store: Store) -> str:
    return store.engine.url.render_as_string(hide_password=False)


def test_postgresql_view_of_the_published_product_passes(
    tool: str, built_demo: BuiltDemo, pg_store: Store, tmp_path: Path
) -> None:
    contract = export(checked_spec(built_demo, tmp_path), tmp_path / "odcs", pg_url(pg_store))
    tested = run_test(tool, contract, PG_LOGIN)
    assert_passes(tested)
    assert tested.result == "passed" and "Server: store (type=postgresql" in tested.output
    assert f"Data contract is valid. Ran {len(tested.checks)} checks" in tested.output
    types = [c for c in tested.checks if c["type"] in ("field_type", "field_physical_type")]
    assert len(types) == len(contract_fields(contract))  # PostgreSQL's column types are checked too


def test_postgresql_fails_a_rule_the_data_breaks(
    tool: str, built_demo: BuiltDemo, pg_store: Store, tmp_path: Path
) -> None:
    contract = export(checked_spec(built_demo, tmp_path, csat=0.25), tmp_path / "odcs", pg_url(pg_store))
    with pg_store.engine.connect() as conn:
        above = conn.execute(text("SELECT count(*) FROM c360_customer_360 WHERE csat > 0.25")).scalar_one()
    assert above > 0  # the rule is one the data breaks
    tested = run_test(tool, contract, PG_LOGIN)
    assert tested.code != 0 and tested.result == "failed", tested.output
    failed = tested.of("csat")
    assert failed["result"] == "failed" and "csat within range min 0 max 0.25" in tested.output
    assert tested.of("segment")["result"] == "passed"
