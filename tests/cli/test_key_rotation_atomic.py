"""Rotating a consumer's keys is one transaction: old keys retired, new key made, audit row written.

If the audit row cannot be written, neither the old keys' revocation (or shortened expiry)
nor the new key is committed: the consumer keeps exactly the keys it had.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, func, select
from typer.testing import CliRunner

from c360.cli import app
from c360.governance import audit
from c360.store import Store, audit_repo, keys
from c360.store.schema import audit_log, consumer_keys
from tests.api.stores import STORES, copy_store, pg_database
from tests.conftest import BuiltDemo

runner = CliRunner()


class AuditDown(Exception):
    pass


def _audit_fails(*args: Any, **kwargs: Any) -> int:
    raise AuditDown("the audit log cannot be written")


@pytest.fixture(autouse=True)
def _audit_key(built_demo: BuiltDemo, monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo's audit key, which signed the copied chain (and never the home directory's)."""
    monkeypatch.delenv("C360_AUDIT_KEY", raising=False)
    monkeypatch.setenv("C360_AUDIT_KEY_FILE", str(built_demo.dir / "audit.key"))


@contextmanager
def _store(kind: str, built_demo: BuiltDemo, tmp_path: Path) -> Iterator[tuple[str, Store]]:
    """A copy of the demo's store (SQLite, or a fresh PostgreSQL database) without any keys."""

    @contextmanager
    def url() -> Iterator[str]:
        if kind == "sqlite":
            yield f"sqlite:///{tmp_path}/store.db"
        else:
            with pg_database() as pg:
                yield pg

    with url() as u:
        store = copy_store(built_demo.store_url, u)
        with store.engine.begin() as conn:
            conn.execute(delete(consumer_keys))
        try:
            yield u, store
        finally:
            store.close()


def _state(store: Store) -> tuple[list[tuple[Any, ...]], int]:
    """Every key row as stored, and how many audit rows there are."""
    with store.engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(select(consumer_keys).order_by(consumer_keys.c.id))]
        audited = int(conn.execute(select(func.count()).select_from(audit_log)).scalar_one())
    return rows, audited


def _by(store: Store) -> keys.Audited:
    return keys.Audited(audit.audit_key(store.engine).mac, "cli:test")


@pytest.mark.parametrize("kind", STORES)
@pytest.mark.parametrize("grace_hours", [0, 2])
def test_a_failed_audit_write_commits_nothing(
    kind: str, grace_hours: float, built_demo: BuiltDemo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with _store(kind, built_demo, tmp_path) as (_, store):
        old = keys.create(store, "support", by=_by(store))
        before = _state(store)
        with monkeypatch.context() as m:
            m.setattr(audit_repo, "append", _audit_fails)
            with pytest.raises(AuditDown):
                keys.rotate(store, "support", grace_hours=grace_hours, by=_by(store))
        assert _state(store) == before  # not revoked, expiry not shortened, no new key, no audit row
        assert store.consumer_for_key(old) == "support"
        assert [k.consumer for k in keys.listing(store, "support")] == ["support"]
        # With the audit log writable again, the same rotation commits all three together.
        new, retired = keys.rotate(store, "support", grace_hours=grace_hours, by=_by(store))
        assert retired == 1 and store.consumer_for_key(new) == "support"
        assert (store.consumer_for_key(old) == "support") is (grace_hours > 0)
        rows, audited = _state(store)
        assert len(rows) == 2 and audited == before[1] + 1
        assert audit.verify(store).ok


def test_the_cli_rotation_fails_whole_when_the_audit_cannot_be_written(
    built_demo: BuiltDemo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with _store("sqlite", built_demo, tmp_path) as (url, store):
        spec = str(built_demo.spec_path)
        created = runner.invoke(app, ["consumers", "create", spec, "finance", "--store", url])
        assert created.exit_code == 0, created.output
        old = created.output.strip().splitlines()[-1]
        before = _state(store)
        with monkeypatch.context() as m:
            m.setattr(audit_repo, "append", _audit_fails)
            for grace in ("0", "2"):
                args = ["consumers", "rotate", spec, "finance", "--grace-hours", grace, "--store", url]
                result = runner.invoke(app, args)
                assert result.exit_code != 0 and isinstance(result.exception, AuditDown)
                assert "c360_finance_" not in result.output  # no new key was shown: none exists
                assert _state(store) == before
        assert store.consumer_for_key(old) == "finance"
        rotated = runner.invoke(app, ["consumers", "rotate", spec, "finance", "--store", url])
        assert rotated.exit_code == 0, rotated.output
        new = rotated.output.strip().splitlines()[-1]
        assert store.consumer_for_key(old) is None and store.consumer_for_key(new) == "finance"
        with store.engine.connect() as conn:
            kinds = [k for (k,) in conn.execute(select(audit_log.c.kind).order_by(audit_log.c.seq))]
        assert kinds[-2:] == ["key_created", "key_rotated"]
        assert audit.verify(store).ok
