"""``c360 sources check|discover`` and ``c360 sync``."""

from __future__ import annotations

import shutil
from pathlib import Path

from typer.testing import CliRunner

from c360.cli import app
from tests.conftest import BuiltDemo

runner = CliRunner()


def test_check_passes_then_names_the_broken_source(built_demo: BuiltDemo, tmp_path: Path) -> None:
    ok = runner.invoke(app, ["sources", "check", str(built_demo.spec_path)])
    assert ok.exit_code == 0, ok.output
    assert ok.output.count(" ok ") >= 6
    d = tmp_path / "demo"
    shutil.copytree(built_demo.dir, d)
    (d / "product.db").unlink()
    bad = runner.invoke(app, ["sources", "check", str(d / "product.yaml")])
    assert bad.exit_code == 1
    assert "product" in bad.output and "no such database file" in bad.output


def test_discover_lists_streams_and_typed_columns(built_demo: BuiltDemo) -> None:
    result = runner.invoke(app, ["sources", "discover", str(built_demo.spec_path), "product"])
    assert result.exit_code == 0, result.output
    assert "users" in result.output and "last_login_at (text)" in result.output
    typo = runner.invoke(app, ["sources", "discover", str(built_demo.spec_path), "crmm"])
    assert typo.exit_code == 1 and "did you mean 'crm'?" in typo.output


def test_sync_is_incremental(built_demo: BuiltDemo, tmp_path: Path) -> None:
    d = tmp_path / "demo"
    shutil.copytree(built_demo.dir, d)
    store = f"sqlite:///{d}/store.db"
    again = runner.invoke(app, ["sync", str(d / "product.yaml"), "--store", store, "--source", "crm"])
    assert again.exit_code == 0, again.output
    row = next(line for line in again.output.splitlines() if line.strip("│ ").startswith("crm"))
    cells = [c.strip() for c in row.strip("│").split("│")]
    assert cells[1:3] == ["0", "0"]  # nothing new, nothing changed
