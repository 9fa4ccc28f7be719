"""The command line for other programs: --version, completion, --json output, whole install hints."""

from __future__ import annotations

import json
import shutil
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

import c360
from c360.cli import app
from c360.core.errors import MissingDependency
from tests.conftest import BuiltDemo

runner = CliRunner()
ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "examples" / "customer_360" / "product.yaml"


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.strip() == f"c360 {c360.__version__}"


def test_shell_completion_is_offered() -> None:
    result = runner.invoke(app, ["--help"])
    assert "--install-completion" in result.output and "--show-completion" in result.output
    shown = runner.invoke(app, ["--show-completion", "bash"], prog_name="c360")
    assert shown.exit_code == 0 and "complete" in shown.output


def test_validate_json_ok() -> None:
    result = runner.invoke(app, ["validate", str(EXAMPLE), "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["valid"] is True and body["problems"] == [] and body["product"] == "customer_360"


def test_validate_json_lists_every_problem(tmp_path: Path) -> None:
    bad = EXAMPLE.read_text().replace("connector: csv", "connector: cvs")
    (tmp_path / "p.yaml").write_text(bad)
    result = runner.invoke(app, ["validate", str(tmp_path / "p.yaml"), "--json"])
    assert result.exit_code == 1
    body = json.loads(result.stdout)
    assert body["valid"] is False
    assert any(
        "unknown connector 'cvs'" in p["message"] and p["suggestion"] == "csv" and p["line"] for p in body["problems"]
    )


@pytest.fixture(scope="module")
def demo_copy(built_demo: BuiltDemo, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    d = tmp_path_factory.mktemp("interop")
    for p in built_demo.dir.iterdir():
        if p.is_file() and not p.name.startswith("store.db-"):
            shutil.copy2(p, d / p.name)
    return d / "product.yaml", f"sqlite:///{d}/store.db"


def test_build_json(demo_copy: tuple[Path, str]) -> None:
    spec, store = demo_copy
    result = runner.invoke(
        app, ["build", str(spec), "--store", store, "--skip-sync", "--as-of", "2026-06-01T00:00:00Z", "--json"]
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["version"] >= 1 and body["customers"] > 0 and "staged" in body


def test_identity_review_and_explain_json(demo_copy: tuple[Path, str]) -> None:
    from c360.store import Store

    spec, store = demo_copy
    result = runner.invoke(app, ["identity", "review", str(spec), "--store", store, "--json", "--limit", "3"])
    assert result.exit_code == 0, result.output
    review = json.loads(result.stdout)
    assert review["total"] >= len(review["pairs"]) and len(review["pairs"]) <= 3
    st = Store.open(store)
    version = st.current_version()
    assert version is not None
    cid = next(iter(dict(st.snapshot_rows(version))))
    st.close()
    result = runner.invoke(app, ["identity", "explain", str(spec), cid, "--store", store, "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["customer_id"] == cid and body["records"]
    assert {"source", "key", "method", "score", "evidence"} <= set(body["records"][0])
    assert isinstance(body["candidates"], list)


def test_install_hint_prints_the_extra_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(_: Path) -> None:
        raise MissingDependency("psycopg", "postgres")

    import sys

    monkeypatch.setattr(sys.modules["c360.cli.main"], "open_spec", missing)
    result = runner.invoke(app, ["validate", str(EXAMPLE)])
    assert result.exit_code == 1
    assert "pip install 'c360[postgres]'" in result.output


def test_all_extra_has_every_extra() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    (entry,) = extras["all"]
    inside = set(entry.removeprefix("c360[").removesuffix("]").split(","))
    assert inside == set(extras) - {"all", "dev", "bench"}
