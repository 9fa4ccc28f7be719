"""``c360 consumers``: create, list, rotate (with a grace period), revoke; keys that expire."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import delete
from typer.testing import CliRunner

from c360.cli import app
from c360.store import Store
from c360.store.schema import consumer_keys
from tests.api.stores import copy_store
from tests.conftest import BuiltDemo

runner = CliRunner()


@pytest.fixture()
def store_url(built_demo: BuiltDemo, tmp_path: Path) -> str:
    """A copy of the demo's store without the keys other tests made."""
    url = f"sqlite:///{tmp_path}/store.db"
    store = copy_store(built_demo.store_url, url)
    with store.engine.begin() as conn:
        conn.execute(delete(consumer_keys))
    store.close()
    return url


def _cli(built_demo: BuiltDemo, url: str, *args: str) -> str:
    result = runner.invoke(app, ["consumers", args[0], str(built_demo.spec_path), *args[1:], "--store", url])
    assert result.exit_code == 0, result.output
    return result.output


def _keys(built_demo: BuiltDemo, url: str, name: str) -> list[dict[str, object]]:
    out = _cli(built_demo, url, "list", name, "--json")
    return list(json.loads(out))


def test_create_shows_the_key_once_and_stores_a_hash(built_demo: BuiltDemo, store_url: str) -> None:
    key = _cli(built_demo, store_url, "create", "finance").strip()
    assert key.startswith("c360_finance_")
    store = Store.open(store_url)
    assert store.consumer_for_key(key) == "finance"
    listed = _keys(built_demo, store_url, "finance")
    assert [k["status"] for k in listed] == ["active"]
    assert key not in json.dumps(listed) and key.startswith(str(listed[0]["prefix"]))


def test_rotate_revokes_old_keys_or_gives_them_a_grace_period(built_demo: BuiltDemo, store_url: str) -> None:
    store = Store.open(store_url)
    old = _cli(built_demo, store_url, "create", "support").strip()
    out = _cli(built_demo, store_url, "rotate", "support")
    new = out.strip().splitlines()[-1]
    assert store.consumer_for_key(old) is None and store.consumer_for_key(new) == "support"
    out = _cli(built_demo, store_url, "rotate", "support", "--grace-hours", "2")
    newer = out.strip().splitlines()[-1]
    assert "expire in 2h" in out
    assert store.consumer_for_key(new) == "support" and store.consumer_for_key(newer) == "support"
    statuses = {k["prefix"]: (k["status"], k["expires_at"]) for k in _keys(built_demo, store_url, "support")}
    assert statuses[_shown(new, "support")][0] == "active" and statuses[_shown(new, "support")][1] is not None
    assert statuses[_shown(newer, "support")] == ("active", None)


def _shown(key: str, consumer: str) -> str:
    """A key's prefix as `consumers list` shows it: its consumer and the start of its random part."""
    return key[: len(f"c360_{consumer}_") + 12]


def test_revoke_one_key_by_prefix_or_all(built_demo: BuiltDemo, store_url: str) -> None:
    store = Store.open(store_url)
    a = _cli(built_demo, store_url, "create", "marketing").strip()
    b = _cli(built_demo, store_url, "create", "marketing").strip()
    assert "revoked 1 key(s)" in _cli(
        built_demo, store_url, "revoke", "marketing", "--key", _shown(a, "marketing") + "…"
    )
    assert store.consumer_for_key(a) is None and store.consumer_for_key(b) == "marketing"
    assert "revoked 1 key(s)" in _cli(built_demo, store_url, "revoke", "marketing")
    assert store.consumer_for_key(b) is None
    result = runner.invoke(
        app,
        [
            "consumers",
            "revoke",
            str(built_demo.spec_path),
            "marketing",
            "--key",
            "c360_marketing_x",
            "--store",
            store_url,
        ],
    )
    assert result.exit_code == 1 and "no active key" in result.output


def test_a_prefix_identifies_one_key_even_when_the_consumer_name_is_long(built_demo: BuiltDemo, store_url: str) -> None:
    store = Store.open(store_url)
    a = _cli(built_demo, store_url, "create", "churn_model").strip()
    b = _cli(built_demo, store_url, "create", "churn_model").strip()
    shown = {k["prefix"] for k in _keys(built_demo, store_url, "churn_model") if k["status"] == "active"}
    assert {_shown(a, "churn_model"), _shown(b, "churn_model")} <= shown
    # The consumer's name alone is shared by both keys: refused, and nothing is revoked.
    both = runner.invoke(
        app,
        [
            "consumers",
            "revoke",
            str(built_demo.spec_path),
            "churn_model",
            "--key",
            "c360_churn_model",
            "--store",
            store_url,
        ],
    )
    assert both.exit_code == 1 and "matches" in both.output
    assert store.consumer_for_key(a) == store.consumer_for_key(b) == "churn_model"
    assert "revoked 1 key(s)" in _cli(built_demo, store_url, "revoke", "churn_model", "--key", _shown(b, "churn_model"))
    assert store.consumer_for_key(a) == "churn_model" and store.consumer_for_key(b) is None


def test_expiring_keys(built_demo: BuiltDemo, store_url: str) -> None:
    key = _cli(built_demo, store_url, "create", "churn_model", "--expires-in-days", "3").strip()
    listed = _keys(built_demo, store_url, "churn_model")
    assert listed[0]["expires_at"] is not None and listed[0]["status"] == "active"
    assert Store.open(store_url).consumer_for_key(key) == "churn_model"
    bad = runner.invoke(
        app,
        [
            "consumers",
            "create",
            str(built_demo.spec_path),
            "churn_model",
            "--expires-in-days",
            "0",
            "--store",
            store_url,
        ],
    )
    assert bad.exit_code == 2


def test_unknown_consumer_is_refused_with_a_suggestion(built_demo: BuiltDemo, store_url: str) -> None:
    for cmd in ("create", "rotate"):
        result = runner.invoke(app, ["consumers", cmd, str(built_demo.spec_path), "suport", "--store", store_url])
        assert result.exit_code == 1 and "did you mean 'support'?" in result.output


def test_key_changes_are_audited_without_the_key(built_demo: BuiltDemo, tmp_path: Path) -> None:
    import shutil

    from sqlalchemy import text

    from c360.governance import audit
    from c360.store import Store

    d = tmp_path / "demo"
    shutil.copytree(built_demo.dir, d)
    url = f"sqlite:///{d}/store.db"
    created = CliRunner().invoke(app, ["consumers", "create", str(d / "product.yaml"), "finance", "--store", url])
    assert created.exit_code == 0, created.output
    key = created.output.strip().splitlines()[-1]
    revoked = CliRunner().invoke(app, ["consumers", "revoke", str(d / "product.yaml"), "finance", "--store", url])
    assert revoked.exit_code == 0, revoked.output
    store = Store.open(url)
    with store.engine.connect() as conn:
        rows = conn.execute(text("SELECT kind, detail FROM audit_log ORDER BY seq")).all()
    kinds = [r.kind for r in rows]
    assert "key_created" in kinds and "key_revoked" in kinds
    assert all(key not in r.detail for r in rows)
    assert audit.verify(store).ok
