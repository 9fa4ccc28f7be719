"""apply a breaking major, build, and the consumer pinned to the old major still reads its shape."""

from __future__ import annotations

import shutil
from pathlib import Path

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from c360.api import create_app
from c360.cli import app
from c360.spec.validate import load_spec
from c360.store import Store
from tests.api.test_pinned_major import version_two
from tests.conftest import DEMO_AS_OF, BuiltDemo

runner = CliRunner()


def test_apply_build_and_serve_a_pinned_major(built_demo: BuiltDemo, tmp_path: Path) -> None:
    d = tmp_path / "demo"
    shutil.copytree(built_demo.dir, d)
    spec = d / "product.yaml"
    store = ["--store", f"sqlite:///{d}/store.db"]
    assert runner.invoke(app, ["apply", str(spec), "--approved-by", "alice", *store]).exit_code == 0
    spec.write_text(version_two(spec.read_text()))
    plan = runner.invoke(app, ["plan", str(spec), *store])
    assert plan.exit_code == 1 and "mrr" in plan.output  # the rename is breaking: a new major
    applied = runner.invoke(app, ["apply", str(spec), "--approved-by", "bob", *store])
    assert applied.exit_code == 0, applied.output
    built = runner.invoke(app, ["build", str(spec), "--skip-sync", "--as-of", DEMO_AS_OF, *store])
    assert built.exit_code == 0, built.output
    assert "major 1 (spec 1.0.0) also built for finance" in built.output

    s = Store.open(f"sqlite:///{d}/store.db")
    finance = {"Authorization": f"Bearer {s.create_key('finance')}"}
    with TestClient(create_app(load_spec(spec), s, refresh_seconds=0)) as c:
        page = c.get("/v1/customers?limit=3", headers=finance)
        assert page.status_code == 200 and page.headers["x-c360-major"] == "1"
        assert all("mrr" in item and "monthly_recurring_revenue" not in item for item in page.json()["items"])
