"""``c360 erase``, ``erasures list``, ``subject export`` and ``audit verify|export`` on both stores."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import text
from typer.testing import CliRunner

from c360.cli import app
from tests.governance.test_erasure import Case, case, pg_demo_template, pick_person  # noqa: F401

runner = CliRunner()


def test_erase_dry_run_then_erase_then_list(case: Case) -> None:  # noqa: F811
    person = pick_person(case.store, case.spec)
    result = runner.invoke(
        app,
        [
            "erase",
            str(case.dir / "product.yaml"),
            "--email",
            person.email,
            "--reason",
            "Art. 17 request",
            "--dry-run",
            "--store",
            case.url,
        ],
    )
    assert result.exit_code == 0 and "dry run: nothing changed" in result.output, result.output
    result = runner.invoke(
        app,
        [
            "erase",
            str(case.dir / "product.yaml"),
            "--email",
            person.email,
            "--reason",
            "Art. 17 request",
            "--dry-run",
            "--store",
            case.url,
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)
    assert plan["committed"] is False
    assert {(c["source"], c["key"]) for c in plan["changes"]} >= set(person.keys)
    result = runner.invoke(
        app,
        [
            "erase",
            str(case.dir / "product.yaml"),
            "--email",
            person.email,
            "--reason",
            "Art. 17 request",
            "--store",
            case.url,
        ],
    )
    assert result.exit_code == 0, result.output
    assert "erased er_" in result.output and "source systems to notify" in result.output
    assert person.email not in result.output
    result = runner.invoke(app, ["erasures", "list", str(case.dir / "product.yaml"), "--store", case.url, "--json"])
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.output)
    assert row["scope"] == "person" and set(row["deliveries"]) == {"finance"}
    assert row["deliveries"]["finance"].startswith("pending (1 attempt(s)")
    # Erasing again finds nothing: a clear message, exit 1.
    result = runner.invoke(
        app,
        ["erase", str(case.dir / "product.yaml"), "--email", person.email, "--reason", "again", "--store", case.url],
    )
    assert result.exit_code == 1 and "nothing to erase" in result.output


def test_erase_needs_exactly_one_subject(case: Case) -> None:  # noqa: F811
    result = runner.invoke(app, ["erase", str(case.dir / "product.yaml"), "--reason", "r", "--store", case.url])
    assert result.exit_code == 1 and "exactly one of" in result.output
    result = runner.invoke(
        app,
        [
            "erase",
            str(case.dir / "product.yaml"),
            "--source",
            "billingg",
            "--key",
            "x",
            "--reason",
            "r",
            "--store",
            case.url,
        ],
    )
    assert result.exit_code == 1 and "unknown source 'billingg'" in result.output


def test_subject_export_says_where_each_item_came_from(case: Case, tmp_path: Path) -> None:  # noqa: F811
    person = pick_person(case.store, case.spec)
    out = tmp_path / "subject.json"
    result = runner.invoke(
        app,
        [
            "subject",
            "export",
            str(case.dir / "product.yaml"),
            "--email",
            person.email,
            "--out",
            str(out),
            "--store",
            case.url,
        ],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    assert {(r["source"], r["key"]) for r in doc["records"]} == set(person.keys)
    for r in doc["records"]:
        assert r["system"] and r["location"] and r["fetched_at"] and r["customer_id"]
    [customer] = doc["customers"]
    fields = {f["field"]: f for f in customer["fields"]}
    assert fields["billing_contact_email"]["lineage"][0]["source"] == "billing"
    assert doc["erased"] is False


def test_audit_verify_and_export_catch_tampering(case: Case, tmp_path: Path) -> None:  # noqa: F811
    spec = str(case.dir / "product.yaml")
    person = pick_person(case.store, case.spec)
    assert (
        runner.invoke(app, ["erase", spec, "--email", person.email, "--reason", "r", "--store", case.url]).exit_code
        == 0
    )
    result = runner.invoke(app, ["audit", "verify", spec, "--store", case.url])
    assert result.exit_code == 0 and "ok" in result.output, result.output
    export = tmp_path / "audit.jsonl"
    result = runner.invoke(app, ["audit", "export", spec, "--out", str(export), "--every", "1", "--store", case.url])
    assert result.exit_code == 0, result.output
    lines = [json.loads(x) for x in export.read_text().splitlines()]
    rows = [x for x in lines if "seq" in x]
    assert [x["kind"] for x in rows][-1] == "erasure" and all(person.email not in json.dumps(x) for x in lines)
    assert sum(1 for x in lines if x.get("checkpoint")) == len(rows)
    assert (
        runner.invoke(app, ["audit", "verify", spec, "--checkpoints", str(export), "--store", case.url]).exit_code == 0
    )
    last = rows[-1]["seq"]
    with case.store.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET actor = 'cli:mallory' WHERE seq = :s"), {"s": last})
    result = runner.invoke(app, ["audit", "verify", spec, "--store", case.url])
    assert result.exit_code == 1 and f"row {last}: altered" in result.output
    forged = tmp_path / "forged.jsonl"
    forged.write_text(json.dumps({"checkpoint": True, "count": 1, "head": "0" * 64, "signature": "f" * 64}) + "\n")
    result = runner.invoke(app, ["audit", "verify", spec, "--checkpoints", str(forged), "--store", case.url])
    assert result.exit_code == 1 and "bad signature" in result.output
