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


def test_check_names_each_failing_source_not_just_its_connector(built_demo: BuiltDemo, tmp_path: Path) -> None:
    """Two sources on one connector (jsonl) both fail: each error names its own source."""
    d = tmp_path / "demo"
    shutil.copytree(built_demo.dir, d)
    (d / "billing_subscriptions.jsonl").unlink()
    (d / "billing_invoices.jsonl").unlink()
    bad = runner.invoke(app, ["sources", "check", str(d / "product.yaml")])
    assert bad.exit_code == 1
    failed = [line for line in bad.output.splitlines() if line.startswith("failed: ")]
    assert len(failed) == 2, bad.output
    assert "source 'subscriptions': (jsonl)" in failed[0] and "billing_subscriptions.jsonl" in failed[0]
    assert "source 'invoices': (jsonl)" in failed[1] and "billing_invoices.jsonl" in failed[1]
    assert "source 'jsonl'" not in bad.output


def _sync_runs(store_url: str) -> list[tuple[str, dict[str, object]]]:
    import json

    from sqlalchemy import select

    from c360.store import Store
    from c360.store.schema import runs

    st = Store.open(store_url)
    try:
        with st.engine.connect() as conn:
            rows = conn.execute(
                select(runs.c.status, runs.c.summary).where(runs.c.kind == "sync").order_by(runs.c.started_at)
            ).all()
    finally:
        st.close()
    return [(status, json.loads(summary or "{}")) for status, summary in rows]


def test_a_failing_source_does_not_stop_the_others_and_the_run_is_failed(built_demo: BuiltDemo, tmp_path: Path) -> None:
    """Issue #17: the first failing source stopped every source after it; the run stayed running."""
    d = tmp_path / "demo"
    shutil.copytree(built_demo.dir, d)
    store = f"sqlite:///{d}/store.db"
    (d / "billing_customers.jsonl").unlink()  # 'billing' comes before subscriptions, invoices, ...
    result = runner.invoke(app, ["sync", str(d / "product.yaml"), "--store", store], env={"COLUMNS": "400"})
    assert result.exit_code == 1, result.output
    assert "failed: source 'billing': (jsonl) no such file" in result.output
    assert "billing_customers.jsonl" in result.output
    assert "1 of 6 source(s) failed to sync" in result.output
    synced = {line.strip("│ ").split()[0] for line in result.output.splitlines() if line.startswith("│")}
    assert {"crm", "subscriptions", "invoices", "support", "product"} <= synced
    assert "billing" not in synced
    status, summary = _sync_runs(store)[-1]
    assert status == "failed"
    assert "billing" in summary["failed"] and "no such file" in summary["failed"]["billing"]  # type: ignore[operator,index]
    assert "product" in summary["sources"]  # type: ignore[operator]
    ok = runner.invoke(app, ["sync", str(d / "product.yaml"), "--store", store, "--source", "crm"])
    assert ok.exit_code == 0, ok.output
    assert _sync_runs(store)[-1][0] == "succeeded"
