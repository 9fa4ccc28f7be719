"""The audit chain on both stores: appends, tampering caught, checkpoints, batched read audit."""

from __future__ import annotations

import io
import itertools
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from c360.governance import audit
from c360.store import Store
from tests.governance.test_erasure import PG_KEY, pg_create, pg_drop, pg_url


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    monkeypatch.delenv("C360_AUDIT_KEY", raising=False)
    monkeypatch.delenv("C360_AUDIT_KEY_FILE", raising=False)
    if request.param == "sqlite":
        s = Store.open(f"sqlite:///{tmp_path}/store.db")
        yield s
        s.close()
        return
    from tests.conftest import need_service

    need_service("PostgreSQL", "127.0.0.1", 5432)
    monkeypatch.setenv("C360_AUDIT_KEY", PG_KEY)
    name = pg_create()
    s = Store.open(pg_url(name))
    try:
        yield s
    finally:
        s.close()
        pg_drop(name)


def fill(store: Store, n: int = 10) -> None:
    for i in range(n):
        audit.record(store, "grant", "cli:ana", None, {"consumer": "finance", "i": i})


def test_rows_chain_and_verify(store: Store) -> None:
    fill(store, 5)
    with store.engine.begin() as conn:
        audit.append(conn, "erasure", "cli:ana", "p_123", {"erasure_id": "er_1"})
    result = audit.verify(store)
    assert result.ok and result.rows == 6 and result.head_seq == 6
    with store.engine.connect() as conn:
        rows = conn.execute(text("SELECT seq, prev_hash, hash, subject FROM audit_log ORDER BY seq")).all()
    assert rows[0].prev_hash == audit.GENESIS
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(rows))
    assert rows[-1].subject == "p_123" and rows[-1].hash == result.head_hash


def test_an_append_in_a_rolled_back_transaction_leaves_nothing(store: Store) -> None:
    fill(store, 2)
    with pytest.raises(RuntimeError), store.engine.begin() as conn:
        audit.append(conn, "publish", "cli:ana", None, {"version": 9})
        raise RuntimeError("publish failed")
    result = audit.verify(store)
    assert result.ok and result.rows == 2


def test_a_batch_in_a_rolled_back_transaction_leaves_nothing_and_the_next_chains_on(store: Store) -> None:
    """Many rows at once take the bulk path (COPY on PostgreSQL): still inside the caller's transaction."""
    fill(store, 2)
    events = [audit.Event("read", "consumer:finance", f"c_{i}", {"fields": ["mrr"]}) for i in range(50)]
    with pytest.raises(RuntimeError), store.engine.begin() as conn:
        audit.append_many(conn, events)
        raise RuntimeError("request failed")
    assert audit.verify(store).rows == 2
    with store.engine.begin() as conn:
        assert audit.append_many(conn, events) == 52
    result = audit.verify(store)
    assert result.ok and result.rows == 52 and result.head_seq == 52


def _exec(store: Store, sql: str) -> None:
    with store.engine.begin() as conn:
        conn.execute(text(sql))


def test_a_changed_byte_is_caught(store: Store) -> None:
    fill(store)
    _exec(store, "UPDATE audit_log SET detail = replace(detail, 'finance', 'financf') WHERE seq = 4")
    problem = audit.verify(store).problem
    assert problem is not None and (problem.seq, problem.kind) == (4, "altered")


def test_a_deleted_row_is_caught(store: Store) -> None:
    fill(store)
    _exec(store, "DELETE FROM audit_log WHERE seq = 6")
    problem = audit.verify(store).problem
    assert problem is not None and (problem.seq, problem.kind) == (7, "deleted")
    assert "6..6" in problem.message


def test_swapped_rows_are_caught(store: Store) -> None:
    fill(store)
    cols = "at, kind, actor, subject, detail, prev_hash, hash"
    with store.engine.begin() as conn:
        r5 = conn.execute(text(f"SELECT {cols} FROM audit_log WHERE seq = 5")).one()._mapping
        r6 = conn.execute(text(f"SELECT {cols} FROM audit_log WHERE seq = 6")).one()._mapping
        sets = ", ".join(f"{c.strip()} = :{c.strip()}" for c in cols.split(","))
        conn.execute(text(f"UPDATE audit_log SET {sets} WHERE seq = 5"), dict(r6))
        conn.execute(text(f"UPDATE audit_log SET {sets} WHERE seq = 6"), dict(r5))
    problem = audit.verify(store).problem
    assert problem is not None and (problem.seq, problem.kind) == (5, "reordered")


def test_an_inserted_row_is_caught(store: Store) -> None:
    fill(store)
    # Make room after row 5 and copy row 2 (with its valid MAC) into the gap.
    with store.engine.begin() as conn:
        for seq in range(10, 5, -1):
            conn.execute(text("UPDATE audit_log SET seq = seq + 1 WHERE seq = :s"), {"s": seq})
        conn.execute(
            text(
                "INSERT INTO audit_log (seq, at, kind, actor, subject, detail, prev_hash, hash) "
                "SELECT 6, at, kind, actor, subject, detail, prev_hash, hash FROM audit_log WHERE seq = 2"
            )
        )
        conn.execute(text("UPDATE audit_head SET seq = 11"))
    problem = audit.verify(store).problem
    assert problem is not None and (problem.seq, problem.kind) == (6, "inserted")


def test_a_forged_row_at_the_end_is_caught(store: Store) -> None:
    fill(store, 3)
    _exec(
        store,
        "INSERT INTO audit_log (seq, at, kind, actor, subject, detail, prev_hash, hash) "
        "SELECT 4, at, kind, actor, subject, detail, hash, hash FROM audit_log WHERE seq = 3",
    )
    problem = audit.verify(store).problem
    assert problem is not None and (problem.seq, problem.kind) == (4, "inserted")


def test_a_truncated_tail_is_caught_by_the_head_and_by_exported_checkpoints(store: Store) -> None:
    fill(store, 10)
    out = io.BytesIO()
    assert audit.export(store, out, every=4) == 10
    lines = out.getvalue().splitlines()
    cps = audit.read_checkpoints(lines)
    assert [c["count"] for c in cps] == [4, 8, 10]
    key = audit.audit_key(store.engine)
    assert all(audit.check_signature(key, c) for c in cps)
    assert not audit.check_signature(key, {**cps[0], "count": 5})
    assert audit.verify(store, cps).ok
    _exec(store, "DELETE FROM audit_log WHERE seq > 8")
    problem = audit.verify(store).problem
    assert problem is not None and (problem.seq, problem.kind) == (9, "truncated")
    # Someone who also rewinds the head is still caught by a checkpoint kept outside.
    with store.engine.begin() as conn:
        h8 = conn.execute(text("SELECT hash FROM audit_log WHERE seq = 8")).scalar()
        conn.execute(text("UPDATE audit_head SET seq = 8, hash = :h"), {"h": h8})
    assert audit.verify(store).ok
    problem = audit.verify(store, cps).problem
    assert problem is not None and problem.kind == "truncated"


def test_read_auditor_group_commits_every_read(store: Store) -> None:
    auditor = audit.ReadAuditor(store, interval=0.05, batch=100)
    fields = ("customer_id", "mrr")

    def reader(n: int) -> None:
        for i in range(250):
            auditor.record(f"consumer{n}", f"c_{n}_{i}", fields, "materialised")

    threads = [threading.Thread(target=reader, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    auditor.close()
    assert auditor.pending() == 0 and auditor.flushed == 1000
    result = audit.verify(store)
    assert result.ok and result.rows == 1000
    with store.engine.connect() as conn:
        row = conn.execute(text("SELECT kind, actor, subject, detail FROM audit_log WHERE subject = 'c_2_7'")).one()
    assert (row.kind, row.actor) == ("read", "consumer:consumer2")
    assert row.detail == '{"fields":["customer_id","mrr"],"mode":"materialised"}'


def test_a_failed_flush_keeps_the_reads_for_the_next(store: Store) -> None:
    auditor = audit.ReadAuditor(store, interval=3600)
    auditor.record("finance", "c_1", ("mrr",), "live")
    _exec(store, "DROP TABLE audit_head")
    with pytest.raises(Exception):  # noqa: B017 - the store's own error, whichever dialect
        auditor.flush()
    assert auditor.pending() == 1 and auditor.failures == 1


def test_the_key_never_prints_and_its_file_is_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("C360_AUDIT_KEY", raising=False)
    monkeypatch.delenv("C360_AUDIT_KEY_FILE", raising=False)
    store = Store.open(f"sqlite:///{tmp_path}/store.db")
    key = audit.audit_key(store.engine)
    path = tmp_path / "audit.key"
    secret = path.read_text().strip()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and len(secret) == 64
    assert secret not in repr(key) and secret not in str(key)
    fill(store, 1)
    out = io.BytesIO()
    audit.export(store, out)
    assert secret.encode() not in out.getvalue()
    store.close()


def test_a_deleted_head_or_a_dropped_table_is_reported_not_raised(store: Store) -> None:
    fill(store)
    _exec(store, "DROP TABLE audit_log")
    result = audit.verify(store)
    assert result.problem is not None and result.problem.kind == "unreadable"
    assert "dropped" in result.problem.message
    _exec(store, "DELETE FROM audit_head")
    result = audit.verify(store)
    assert result.problem is not None and result.problem.kind == "deleted" and "head" in result.problem.message
