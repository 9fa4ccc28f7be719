"""``c360 identity``: what a steward sees (loss 8): candidates, unresolved records, no silent figures."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

from typer.testing import CliRunner

from c360.cli import app
from tests.conftest import BuiltDemo

runner = CliRunner()


def test_evaluate_refuses_when_there_is_no_identity_map(built_demo: BuiltDemo, tmp_path: Path) -> None:
    spec = tmp_path / "product.yaml"
    shutil.copyfile(built_demo.spec_path, spec)
    result = runner.invoke(
        app,
        [
            "identity",
            "evaluate",
            str(spec),
            "--truth",
            str(built_demo.dir / "truth.csv"),
            "--store",
            f"sqlite:///{tmp_path}/empty.db",
        ],
    )
    assert result.exit_code == 1
    assert "no identity map" in result.output and "c360 build" in result.output


def test_export_lists_unresolved_records_with_no_customer(built_demo: BuiltDemo, tmp_path: Path) -> None:
    out = tmp_path / "map.csv"
    result = runner.invoke(
        app, ["identity", "export", str(built_demo.spec_path), "--store", built_demo.store_url, "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open()))
    unresolved = [r for r in rows if r["method"] == "unresolved"]
    assert unresolved and all(r["customer_id"] == "" for r in unresolved)
    assert len({(r["source"], r["source_key"]) for r in rows}) == len(rows)


def test_explain_shows_a_lone_customers_nearest_candidates(built_demo: BuiltDemo) -> None:
    out = runner.invoke(app, ["identity", "export", str(built_demo.spec_path), "--store", built_demo.store_url])
    rows = list(csv.DictReader(out.output.splitlines()))
    counts: dict[str, int] = {}
    for r in rows:
        if r["customer_id"] and r["method"] != "belongs_to":
            counts[r["customer_id"]] = counts.get(r["customer_id"], 0) + 1
    explained = []
    for cid in sorted(c for c, n in counts.items() if n == 1):
        result = runner.invoke(
            app,
            ["identity", "explain", str(built_demo.spec_path), cid, "--store", built_demo.store_url],
            env={"COLUMNS": "200"},
        )
        assert result.exit_code == 0, result.output
        assert (
            "nearest candidates it was not linked to" in result.output or "no candidate scored near it" in result.output
        )
        explained.append("nearest candidates" in result.output)
    assert any(explained), "some lone customer should have a candidate it was not linked to"
